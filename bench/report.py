"""make bench: the results as markdown, in bench/results and docs/performance.md."""

from __future__ import annotations

from typing import Any

from common import LOAD_WORKLOADS, MARK_END, MARK_START, PAGE, RESULTS, log


def fmt(s: dict[str, Any], spec: str = ".0f", unit: str = "") -> str:
    return f"{format(s['median'], spec)}{unit} ({format(s['min'], spec)}-{format(s['max'], spec)})"


def memory(entry: dict[str, Any]) -> str:
    """A candidate's memory in MiB, once it serves / after load (medians of its runs)."""
    if "memory_mib" not in entry:
        return "-"
    return f"{entry['memory_mib']['idle']['median']:.0f} / {entry['memory_mib']['load']['median']:.0f}"


def answered(client: dict[str, Any]) -> str:
    """What a legitimate client got beside slow ones: answered / failed, p99 ms."""
    p99 = f"{client['p99_ms']:.0f}" if client["p99_ms"] is not None else "-"
    return f"{client['answered']} / {client['failed']}, {p99}"


def render(results: dict[str, Any]) -> str:
    m, cfg = results["machine"], results["settings"]
    lines = [
        f"Measured {results['date']} on {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, "
        f"Docker {m['docker']}, "
        f"{m['other_containers']} other container(s) running; load average {m['load_average']:.2f} at the start. "
        f"Versions: {results['versions']}. Medians, min-max in brackets; ratios are taken within a round.",
        "",
    ]
    if "load" in results:
        load = results["load"]
        cfg = load.get("settings", cfg)
        lines += [
            f"**Throughput** (wrk in the server's network namespace, 1 thread, {cfg['connections']} connections, "
            f"{cfg['duration']} s after {cfg['warmup']} s of warm-up, {cfg['rounds']} rounds, candidates interleaved; "
            "servers may use both CPUs): requests/s, p50 and p99 latency; the container's memory in MiB once it "
            "serves and after the `/` load (`docker stats`' figure); the server's CPU time per request on `/` "
            "(its container's, so wrk's is not in it).",
            "",
            "| server | `/` req/s | p50 ms | p99 ms | CPU µs/request | `/io` (20 ms wait) req/s | p50 ms | p99 ms "
            "| errors | memory MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, info in load["candidates"].items():
            cpu, io = load["cpu"][name], load["io"][name]
            lines.append(
                f"| {info['title']} | {fmt(cpu['rps'])} | {fmt(cpu['p50_ms'], '.1f')} | {fmt(cpu['p99_ms'], '.1f')} "
                f"| {fmt(cpu['cpu_us']) if 'cpu_us' in cpu else '-'} "
                f"| {fmt(io['rps'])} | {fmt(io['p50_ms'], '.1f')} | {fmt(io['p99_ms'], '.1f')} "
                f"| {cpu['errors'] + io['errors']} | {memory(cpu)} |"
            )
        lines += [
            "",
            "| ratio of requests/s | `/` | `/io` | ratio of the server's CPU per request, `/` |",
            "| --- | --- | --- | --- |",
        ]
        for key in load["cpu"]["ratios"]:
            cpu, io = load["cpu"]["ratios"][key], load["io"]["ratios"][key]
            cpu_time = load["cpu"].get("cpu_ratios", {}).get(key)
            label = key
            for best in ("best-bare", "best-granian"):
                if best in load["cpu"]:
                    names = f"{load['cpu'][best]['name']} / {load['io'][best]['name']}"
                    label = label.replace(best, f"{best.replace('-', ' ')} ({names})")
            lines.append(
                f"| {label} | {fmt(cpu, '.2f')} | {fmt(io, '.2f')} | {fmt(cpu_time, '.2f') if cpu_time else '-'} |"
            )
        tw = [t for n in load["candidates"] for w in LOAD_WORKLOADS for t in load[w][n]["time_wait"]]
        lines += [
            "",
            f"Host TIME_WAIT sockets, before and after each run: {min(t['host'][0] for t in tw)}-"
            f"{max(t['host'][1] for t in tw)} (the load never crosses docker-proxy).",
            "",
        ]
    if "costs" in results:
        c = results["costs"]
        lines += [
            f"**Costs** on `/`, the same way, in {c['rounds']} rounds: requests/s, the server's CPU time per "
            "request, and each as a ratio to prod's in the same round.",
            "",
            "| server | `/` req/s | CPU µs/request | ratio of requests/s | ratio of CPU per request |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, title in c["candidates"].items():
            entry, ratios = c["cpu"][name], c.get(f"{name}/prod")
            rps_ratio = fmt(ratios["rps"], ".2f") if ratios else "1"
            cpu_ratio = fmt(ratios["cpu_us"], ".2f") if ratios else "1"
            lines.append(f"| {title} | {fmt(entry['rps'])} | {fmt(entry['cpu_us'])} | {rps_ratio} | {cpu_ratio} |")
        lines.append("")
    if "concurrency" in results:
        c = results["concurrency"]
        lines += [
            "**Concurrency and latency**, the same way, each server at its defaults and at its best: the 20 ms view "
            "at 256 kept-alive connections, and each view on one connection; the container's memory in MiB once it "
            "serves and after the 256-connection load.",
            "",
            "| server | `/io`, 256 connections: req/s | p99 ms | errors | `/`, 1 connection: p50 ms | p99 ms "
            "| `/io`, 1 connection: p50 ms | p99 ms | memory MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, title in c["candidates"].items():
            many, cpu, io = c["io-256"][name], c["cpu-1"][name], c["io-1"][name]
            lines.append(
                f"| {title} | {fmt(many['rps'])} | {fmt(many['p99_ms'], '.1f')} | {many['errors']} "
                f"| {fmt(cpu['p50_ms'], '.2f')} | {fmt(cpu['p99_ms'], '.2f')} | {fmt(io['p50_ms'], '.1f')} "
                f"| {fmt(io['p99_ms'], '.1f')} | {memory(many)} |"
            )
        lines += ["", "| ratio of requests/s, `/io` at 256 connections | |", "| --- | --- |"]
        lines += [f"| {key} | {fmt(value, '.2f')} |" for key, value in c["ratios"].items()]
        lines.append("")
    if "sizing" in results:
        lines += [
            "**Sizing**: the prod image limited to 1 and 2 CPUs (`--cpus`), requests/s; memory in MiB once it "
            "serves / after the 256-connection load.",
            "",
        ]
        lines += [
            "| CPUs | processes x threads | `/` | `/io` (20 ms wait) | `/io`, 256 connections | memory MiB |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for cpus, views in results["sizing"].items():
            for name, entry in views["cpu"].items():
                io, many = views["io"][name], views.get("io-256", {}).get(name)
                lines.append(
                    f"| {cpus} | {entry['title']} | {fmt(entry['rps'])} | {fmt(io['rps'])} "
                    f"| {fmt(many['rps']) if many else '-'} | {memory(many) if many else '-'} |"
                )
        lines.append("")
    if "fronts" in results:
        lines += [
            f"**Fronts**: {results['fronts'].get('drippers', 64)} connections dripping for 10 s, a header line "
            "every 2 s (slow headers) or a 64 KiB "
            "body's bytes one a second (slow bodies), while one client sends GET / on new connections (through a "
            "published port): its requests answered / failed, p99 ms; memory and processes of the container.",
            "",
            "| front | slow headers | slow bodies | memory MB | processes |",
            "| --- | --- | --- | --- | --- |",
        ]

        for front in (f for f in results["fronts"].values() if isinstance(f, dict)):
            lines.append(
                f"| {front['title']} | {answered(front['slow_clients'])} | {answered(front['slow_bodies'])} "
                f"| {front['memory_mb']:.0f} | {front['processes']} |"
            )
        lines.append("")
    if "offload" in results:
        o = results["offload"]
        lines += [
            "**Offloading** file responses (uwsgi.ini's `offload-threads`, 1 per worker, against none): a 1 MiB "
            "file (Flask's `send_file`) and `/`, as in the throughput table; then, in each HTTP mode, "
            f"{o['readers']} clients downloading an 8 MiB file slowly (4 KiB every 100 ms) for 10 s, in the "
            "server's network namespace, while one client sends GET / on new connections: its requests "
            "answered / failed, p99 ms.",
            "",
            "| server | 1 MiB file req/s | p99 ms | `/` req/s | CPU µs/request, `/` |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, title in o["candidates"].items():
            file, cpu = o["file"][name], o["cpu"][name]
            lines.append(
                f"| {title} | {fmt(file['rps'])} | {fmt(file['p99_ms'], '.1f')} | {fmt(cpu['rps'])} "
                f"| {fmt(cpu['cpu_us'])} |"
            )
        lines += [
            f"| ratio, none / 1 | {fmt(o['file']['prod-offload-0/prod'], '.2f')} | "
            f"| {fmt(o['cpu']['prod-offload-0/prod'], '.2f')} | |",
            "",
            "| HTTP_MODE | offload-threads 1 (default) | none |",
            "| --- | --- | --- |",
        ]
        readers = o["slow_readers"]
        for mode in ("nginx", "router", "direct"):
            lines.append(f"| {mode} | {answered(readers[mode])} | {answered(readers[mode + '-offload-0'])} |")
        lines.append("")
    if "debugger" in results:
        lines += [
            "**Debugger** (dev image, 2 workers, no request log, `/`): requests/s as a share of the debugger off.",
            "",
            "| Python | off req/s | on, nobody attached | attached as VS Code attaches, no breakpoints |",
            "| --- | --- | --- | --- |",
        ]
        for python, d in results["debugger"].items():
            lines.append(
                f"| {python} | {fmt(d['rps']['off'])} | {fmt(d['idle/off'], '.2f')} | {fmt(d['attached/off'], '.2f')} |"
            )
        lines.append("")
    if "start" in results:
        lines += [
            "**Images**: size, `docker run` to the first 200, idle `docker stop` (exit status).",
            "",
            "| Python | prod MB | dev MB | prod start s | dev start s | dev, debugger on, start s "
            "| prod stop s | dev stop s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for python, s in results["start"].items():
            lines.append(
                f"| {python} | {s['prod_mb']:.1f} | {s['dev_mb']:.1f} | {fmt(s['prod']['start'], '.2f')} "
                f"| {fmt(s['dev']['start'], '.2f')} | {fmt(s['dev-debug']['start'], '.2f')} "
                f"| {fmt(s['prod']['stop'], '.2f')} {s['prod']['exit_codes']} | {fmt(s['dev']['stop'], '.2f')} "
                f"{s['dev']['exit_codes']} |"
            )
        lines.append("")
    if "reload" in results:
        lines += [
            "**Hot reload**: a saved file to the first answer with the new code (dev image, debugger on, 2 workers).",
            "",
        ]
        lines += ["| path | median s | p90 s | min-max s |", "| --- | --- | --- | --- |"]
        for path, s in results["reload"].items():
            lines.append(f"| {path} | {s['median']:.2f} | {s['p90']:.2f} | {s['min']:.2f}-{s['max']:.2f} |")
        lines.append("")
    if "attach" in results:
        a = results["attach"]
        lines += [
            f"**Debugging**: DAP connect to a hit breakpoint {fmt(a['breakpoint'], '.2f', ' s')}; "
            f"rebuild of a user image after a one-line edit {fmt(a['rebuild'], '.2f', ' s')}.",
            "",
        ]
    if "load" in results:
        lines += [
            "Commands: " + "; ".join(f"{i['title']}: `{i['command']}`" for i in results["load"]["candidates"].values())
        ]
    return "\n".join(lines).rstrip() + "\n"


def update_page(markdown: str) -> bool:
    text = PAGE.read_text()
    if MARK_START not in text or MARK_END not in text:
        return False
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    PAGE.write_text(f"{head}{MARK_START}\n{markdown}{MARK_END}{tail}")
    return True


def publish(results: dict[str, Any]) -> None:
    markdown = render(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(markdown)
    updated = update_page(markdown)
    log("docs/performance.md updated" if updated else "docs/performance.md has no bench markers: not updated")
    print(markdown)
