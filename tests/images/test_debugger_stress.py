"""The known uWSGI crash classes on Python 3.12+, on every Python version.

uWSGI has open reports of worker segfaults on 3.12 and later:
unbit/uwsgi#2617 (in _PyThread_CurrentFrames, reached by a thread dump) and
#2738 (threads with fork hooks). Each test drives one of the paths they take
with a debugger attached (a tracer in every thread of every worker), then
checks the logs for a worker that died of a signal and that the app still
answers 200.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from tests.images.test_debugger import MAPPINGS, start_debug, worker_pids
from tests.support.containers import HELLO, Running, http_get, wait_for
from tests.support.dap import Session

Run = Callable[..., Running]

# uWSGI's words for a process that crashed: "!!! uWSGI process N got
# Segmentation Fault !!!", "DAMN ! worker N (pid: P) died, killed by signal S",
# and Python's own "Fatal Python error".
CRASH = re.compile(r"got Segmentation Fault|killed by signal (\d+)|Fatal Python error|core dumped")


def crashes(logs: str, killed: set[int] = frozenset()) -> list[str]:
    """Crash lines, leaving out the SIGKILLs a test sent itself (pids in ``killed``)."""
    found = []
    for line in logs.splitlines():
        match = CRASH.search(line)
        if not match:
            continue
        pid = re.search(r"\(pid: (\d+)\)", line)
        if match[1] == "9" and pid and int(pid[1]) in killed:
            continue
        found.append(line)
    return found


def load(url: str, clients: int, requests: int, statuses: list[int] | None = None) -> list[int]:
    """``clients`` threads, each sending ``requests`` GETs; every status (0: no answer)."""
    statuses = [] if statuses is None else statuses
    lock = threading.Lock()

    def client() -> None:
        for _ in range(requests):
            try:
                status, _ = http_get(url, timeout=60)
            except OSError:
                status = 0
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return statuses


def test_attached_to_2_workers_of_4_threads_under_concurrent_load(run: Run) -> None:
    app = start_debug(run, workers=2, UWSGI_PROCESSES="2", UWSGI_THREADS="4")
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {}) as session:
        assert {session.wait_joined(), session.wait_joined()} == worker_pids(app)
        statuses = load(app.url(), clients=16, requests=40)
    assert statuses == [200] * 640
    assert crashes(app.logs()) == []
    assert http_get(app.url())[0] == 200


def test_hot_reload_while_attached(run: Run, readable_dir: Path) -> None:
    source = readable_dir / "app"
    shutil.copytree(HELLO, source)
    source.chmod(0o777)  # the container's user writes nothing, but reads all
    app = start_debug(run, workers=2, app=source, UWSGI_PROCESSES="2", UWSGI_THREADS="4", HOT_RELOAD="1")
    mappings = [{"localRoot": str(source), "remoteRoot": "/app"}]
    with Session("127.0.0.1", app.ports[5678], mappings, {}) as session:
        before = {session.wait_joined(), session.wait_joined()}
        busy = threading.Thread(target=load, args=(app.url(), 4, 50), daemon=True)
        busy.start()
        main = source / "main.py"
        main.write_text(main.read_text().replace("Hello from", "Reloaded from"))
        wait_for(lambda: "Reloaded from" in http_get(app.url())[1], 30, "the reloaded app")
        after = {session.wait_joined(60), session.wait_joined(60)}
        busy.join(120)
    assert before.isdisjoint(after), "the reload replaced both workers, which joined the session again"
    assert crashes(app.logs()) == []
    assert http_get(app.url())[0] == 200


def test_saves_during_a_reload_leave_every_worker_on_the_last_one(run: Run, readable_dir: Path) -> None:
    # Each save lands as soon as the previous one began a reload, while the
    # workers import the app anew: a worker that is signalled then still has
    # the master's SIGHUP handler (uwsgi_hot_reload.py says why), restarts the
    # front and never reloads, and the debugger's reload mercy (a day)
    # keeps it so.
    source = readable_dir / "app"
    shutil.copytree(HELLO, source)
    source.chmod(0o777)
    app = start_debug(run, workers=2, app=source, UWSGI_PROCESSES="2", UWSGI_THREADS="1", HOT_RELOAD="1")
    main = source / "main.py"
    text = main.read_text()
    for save in [*(f"Save {n}" for n in range(1, 9)), "Last save"]:
        reloads = app.logs().count("changed, reloading")
        main.write_text(text.replace("Hello from", f"{save} from"))

        def reloading_or_served(save: str = save, reloads: int = reloads) -> bool:
            # (A save that came before a worker's import needs no reload.)
            return app.logs().count("changed, reloading") > reloads or f"{save} from" in http_get(app.url())[1]

        wait_for(reloading_or_served, 30, f"a reload for {save!r}")

    def every_worker_serves_the_last_save() -> bool:
        answers = {}
        for _ in range(20):
            body = http_get(app.url())[1]
            pid = re.search(r"worker pid (\d+)", body)
            answers[int(pid[1]) if pid else 0] = "Last save from" in body
        return set(answers) == worker_pids(app) and all(answers.values())

    wait_for(every_worker_serves_the_last_save, 60, "every worker serving the last save")
    logs = app.logs()
    # uWSGI's words for a restart of the router, of nginx, and of the whole instance.
    for restart in ("has been buried", "[uwsgi-daemons] stopping daemon", "gracefully killing workers"):
        assert restart not in logs, logs[-3000:]
    assert crashes(logs) == []


def test_killed_worker_respawns_while_attached_under_load(run: Run) -> None:
    app = start_debug(run, workers=2, UWSGI_PROCESSES="2", UWSGI_THREADS="4")
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {}) as session:
        first = {session.wait_joined(), session.wait_joined()}
        statuses: list[int] = []
        busy = threading.Thread(target=load, args=(app.url(), 4, 50, statuses), daemon=True)
        busy.start()
        wait_for(lambda: len(statuses) >= 20, 30, "requests under way")
        victim = min(first)
        assert app.exec("bash", "-c", f"kill -KILL {victim}")[0] == 0
        replacement = session.wait_joined(60)
        assert replacement not in first
        busy.join(120)
        assert worker_pids(app) == (first - {victim}) | {replacement}
    # Only requests the killed worker was handling (4 threads) go unanswered.
    assert len(statuses) == 200 and statuses.count(200) >= 196, statuses
    assert crashes(app.logs(), killed={victim}) == []
    assert http_get(app.url())[0] == 200
