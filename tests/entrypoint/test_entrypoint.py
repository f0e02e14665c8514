"""The entrypoint's logic, function by function, on the host (no Docker)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.entrypoint.conftest import Result, Shell

EX_CONFIG = 78


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On"])
def test_bool_true(sh: Shell, value: str) -> None:
    assert sh.run("fu_bool DEBUGPY_ENABLE", DEBUGPY_ENABLE=value).status == 0


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_bool_false(sh: Shell, value: str) -> None:
    assert sh.run("fu_bool DEBUGPY_ENABLE", DEBUGPY_ENABLE=value).status == 1


@pytest.mark.parametrize("value", ["2", "enable", "y", "tru"])
def test_bool_rejects_anything_else(sh: Shell, value: str) -> None:
    result = sh.run("fu_bool DEBUGPY_ENABLE", DEBUGPY_ENABLE=value)
    assert result.status == EX_CONFIG
    assert result.stderr.strip() == (
        f'flask-uwsgi: error: DEBUGPY_ENABLE="{value}" is not a boolean (use 1/true/yes/on or 0/false/no/off)'
    )


@pytest.mark.parametrize("value", ["1", "80", "8080", "65535", "08080"])
def test_port_accepts(sh: Shell, value: str) -> None:
    assert sh.run("fu_check_port PORT", PORT=value).status == 0


@pytest.mark.parametrize("value", ["0", "65536", "99999", "abc", "-1", "80a", " 80", "123456"])
def test_port_rejects(sh: Shell, value: str) -> None:
    result = sh.run("fu_check_port PORT", PORT=value)
    assert result.status == EX_CONFIG
    assert result.stderr.count("\n") == 1
    assert f'PORT="{value}" is not a port number (1-65535)' in result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "main:app",
        "main",
        "pkg.sub.mod:app",
        "pkg:create_app()",
        'pkg:create_app("prod", debug=False)',
        "m:a.b",
    ],
)
def test_app_module_accepts(sh: Shell, value: str) -> None:
    assert sh.run("fu_check_app_module", APP_MODULE=value).status == 0


@pytest.mark.parametrize(
    "value", ["main:", ":app", "my-app:app", "main:app:x", "1main:app", "main app", "main.py", "app.py:app"]
)
def test_app_module_rejects(sh: Shell, value: str) -> None:
    result = sh.run("fu_check_app_module", APP_MODULE=value)
    assert result.status == EX_CONFIG
    assert f'APP_MODULE="{value}"' in result.stderr


def test_defaults(sh: Shell) -> None:
    result = sh.run('echo "$APP_MODULE $PORT $DEBUGPY_HOST $DEBUGPY_PORT"')
    assert result.stdout.strip() == "main:app 8080 0.0.0.0 5678"


def test_debug_on_prod_warns_and_stays_off(sh: Shell) -> None:
    result = sh.run('fu_validate; echo "debug=$FU_DEBUG"', DEBUGPY_ENABLE="1")
    assert result.status == 0
    assert result.stdout.strip() == "debug=0"
    assert "warning: DEBUGPY_ENABLE=1 is ignored: this image has no debugger (use the :dev image)" in (result.stderr)


def test_debug_on_dev(sh: Shell) -> None:
    sh.make_dev()
    result = sh.run('fu_validate; echo "debug=$FU_DEBUG"', DEBUGPY_ENABLE="yes")
    assert (result.status, result.stdout.strip(), result.stderr) == (0, "debug=1", "")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUGPY_PORT": "abc"}, 'DEBUGPY_PORT="abc" is not a port number'),
        ({"DEBUGPY_PORT": "70000"}, 'DEBUGPY_PORT="70000" is not a port number'),
        ({"DEBUGPY_WAIT": "maybe"}, 'DEBUGPY_WAIT="maybe" is not a boolean'),
        ({"DEBUGPY_ENABLE": "debug"}, 'DEBUGPY_ENABLE="debug" is not a boolean'),
        ({"DEBUGPY_HOST": "a b"}, 'DEBUGPY_HOST="a b" is not an address'),
        ({"HOT_RELOAD": "sometimes"}, 'HOT_RELOAD="sometimes" is not a boolean'),
        ({"PORT": "0"}, 'PORT="0" is not a port number'),
        ({"METRICS_PORT": "prom"}, 'METRICS_PORT="prom" is not a port number'),
        ({"METRICS_PORT": "9100/tcp"}, 'METRICS_PORT="9100/tcp" is not a port number'),
        ({"METRICS_PORT": "8080"}, 'METRICS_PORT="8080" is PORT too: metrics need a port of their own'),
        ({"LOG_FORMAT": "JSON"}, 'LOG_FORMAT="JSON" is not plain or json'),
        ({"LOG_FORMAT": "xml"}, 'LOG_FORMAT="xml" is not plain or json'),
        *(
            ({"STOP_DRAIN_SECONDS": value}, f'STOP_DRAIN_SECONDS="{value}" is not a number of seconds (0-3600)')
            for value in ("3601", "1.5", "-1", "5s")
        ),
    ],
)
@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_validate_rejects(sh: Shell, variant: str, env: dict[str, str], message: str) -> None:
    if variant == "dev":
        sh.make_dev()
    result = sh.run("fu_validate", **env)
    assert result.status == EX_CONFIG
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_debug_ports_mode_is_checked(sh: Shell) -> None:
    sh.make_dev()
    result = sh.run("fu_validate", DEBUGPY_ENABLE="1", DEBUGPY_PORTS="each")
    assert (result.status, result.stderr) == (
        EX_CONFIG,
        'flask-uwsgi: error: DEBUGPY_PORTS="each" is not one or per-worker\n',
    )


def test_per_worker_debug_ports_must_fit(sh: Shell) -> None:
    sh.make_dev()
    env = {"DEBUGPY_PORTS": "per-worker", "DEBUGPY_PORT": "65535", "UWSGI_PROCESSES": "2"}
    result = sh.run("fu_validate", DEBUGPY_ENABLE="1", **env)
    assert result.status == EX_CONFIG
    assert "leaves no room for 2 workers' ports (up to 65536 > 65535)" in result.stderr
    # One port for every worker: 65535 is fine.
    assert sh.run("fu_validate", DEBUGPY_ENABLE="1", DEBUGPY_PORT="65535", UWSGI_PROCESSES="2").status == 0


def test_debug_ports_must_not_collide_with_port(sh: Shell) -> None:
    sh.make_dev()
    env = {"DEBUGPY_PORTS": "per-worker", "UWSGI_PROCESSES": "3"}
    result = sh.run("fu_validate", DEBUGPY_ENABLE="1", PORT="5679", **env)
    assert result.status == EX_CONFIG
    assert 'PORT="5679" collides with the debug ports 5678-5680' in result.stderr
    result = sh.run("fu_validate", DEBUGPY_ENABLE="1", PORT="5678")
    assert result.status == EX_CONFIG
    assert 'PORT="5678" collides with the debug port (DEBUGPY_PORT)' in result.stderr
    result = sh.run("fu_validate", DEBUGPY_ENABLE="1", METRICS_PORT="5680", **env)
    assert (result.status, result.stderr.strip()) == (
        EX_CONFIG,
        'flask-uwsgi: error: METRICS_PORT="5680" collides with the debug ports 5678-5680 (DEBUGPY_PORT)',
    )


def command(sh: Shell, *args: str, **env: str) -> tuple[list[str], str]:
    script = "fu_validate\nfu_uwsgi_command " + " ".join(f"'{a}'" for a in args)
    script += "\nprintf '%s\\n' \"${FU_UWSGI[@]}\"\nenv | grep '^UWSGI_' || :"
    result = sh.run(script, **env)
    assert result.status == 0, result.stderr
    return result.lines, result.stderr


def test_command_layers_ini_files(sh: Shell) -> None:
    lines, _ = command(sh)
    base = ["uwsgi", "--ini", f"{sh.etc}/uwsgi.ini", "--listen", "4096", "--ini", f"{sh.etc}/http-nginx.ini"]
    assert lines == base
    (sh.app / "uwsgi.ini").write_text("[uwsgi]\n")
    lines, _ = command(sh)
    assert lines == [*base, "--ini", f"{sh.app}/uwsgi.ini"]
    for mode in ("router", "direct"):
        lines, _ = command(sh, HTTP_MODE=mode)
        assert lines[5:7] == ["--ini", f"{sh.etc}/http-{mode}.ini"]


@pytest.mark.parametrize(
    ("env", "hooks"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "shop"}, True),
        ({"OTEL_SERVICE_NAME": "shop", "OTEL_SDK_DISABLED": " True "}, False),
        ({"OTEL_SDK_DISABLED": "false"}, True),
        ({"NOT_OTEL_X": "1"}, False),
    ],
)
def test_opentelemetry_gets_pythons_fork_hooks_in_the_workers(sh: Shell, env: dict[str, str], hooks: bool) -> None:
    lines, _ = command(sh, **env)
    assert ("py-call-uwsgi-fork-hooks=true" in lines) == hooks


def test_uwsgi_variables_come_after_ini_files_and_leave_the_environment(sh: Shell) -> None:
    (sh.app / "uwsgi.ini").write_text("[uwsgi]\n")
    lines, _ = command(sh, "--die-on-idle", UWSGI_HARAKIRI="30", UWSGI_BUFFER_SIZE="8192", UWSGI_ENV="A=b c")
    assert lines == [
        "uwsgi",
        "--ini",
        f"{sh.etc}/uwsgi.ini",
        "--listen",
        "4096",
        "--ini",
        f"{sh.etc}/http-nginx.ini",
        "--ini",
        f"{sh.app}/uwsgi.ini",
        "--set",
        "buffer-size=8192",
        "--set",
        "env=A=b c",
        "--set",
        "harakiri=30",
        "--die-on-idle",
    ]


def test_debug_command(sh: Shell) -> None:
    sh.make_dev()
    lines, stderr = command(sh, DEBUGPY_ENABLE="1", UWSGI_THREADS="2")
    assert lines == [
        "uwsgi",
        "--ini",
        f"{sh.etc}/uwsgi.ini",
        "--listen",
        "4096",
        "--ini",
        f"{sh.etc}/http-nginx.ini",
        "--set",
        "processes=1",
        "--set",
        "threads=2",
        "--ini",
        f"{sh.etc}/debug.ini",
        "--ini",
        f"{sh.etc}/debug-one-port.ini",
    ]
    assert stderr == ""
    lines, _ = command(sh, DEBUGPY_ENABLE="1", DEBUGPY_PORTS="per-worker")
    assert lines[-2:] == ["--ini", f"{sh.etc}/debug.ini"]


def test_debug_command_keeps_explicit_processes_and_warns_on_harakiri(sh: Shell) -> None:
    sh.make_dev()
    lines, stderr = command(sh, DEBUGPY_ENABLE="1", UWSGI_PROCESSES="3", UWSGI_HARAKIRI="5")
    assert lines[7:9] == ["--set", "processes=3"]
    assert lines[-4:-2] == ["--ini", f"{sh.etc}/debug.ini"]
    assert stderr.strip() == (
        "flask-uwsgi: warning: UWSGI_HARAKIRI is ignored while the debugger is on: "
        "a worker paused at a breakpoint must not be killed"
    )


def test_hot_reload_command(sh: Shell) -> None:
    reload = ["--set", "lazy-apps=true", "--set", "skip-atexit-teardown=true"]
    lines, _ = command(sh, HOT_RELOAD="1")
    assert lines[7:] == reload
    lines, _ = command(sh)
    assert not {"lazy-apps=true", "skip-atexit-teardown=true"} & set(lines)


def test_extra_arguments_come_after_variables_and_before_debug_ini(sh: Shell) -> None:
    sh.make_dev()
    lines, _ = command(sh, "--harakiri", "5", DEBUGPY_ENABLE="1", UWSGI_HARAKIRI="30", UWSGI_THREADS="2")
    assert lines[7:] == [
        "--set",
        "processes=1",
        "--set",
        "harakiri=30",
        "--set",
        "threads=2",
        "--harakiri",
        "5",
        "--ini",
        f"{sh.etc}/debug.ini",
        "--ini",
        f"{sh.etc}/debug-one-port.ini",
    ]


def test_dropins_run_in_sorted_order(sh: Shell) -> None:
    (sh.dropins / "20-second.sh").write_text('echo "second $FROM_ENVSH"\n')
    (sh.dropins / "10-first.envsh").write_text("export FROM_ENVSH=sourced\n")
    (sh.dropins / "30-third.sh").write_text("#!/bin/sh\necho third\n")
    (sh.dropins / "30-third.sh").chmod(0o755)
    (sh.dropins / "README.txt").write_text("not a script\n")
    result = sh.run("fu_run_dropins")
    assert result.status == 0, result.stderr
    assert [line for line in result.lines if not line.startswith("flask-uwsgi:")] == [
        "second sourced",
        "third",
    ]
    assert f"warning: ignoring {sh.dropins}/README.txt: drop-ins must end in .sh or .envsh" in result.stderr


def test_quiet_logs(sh: Shell) -> None:
    (sh.dropins / "10-hello.sh").write_text("echo hello\n")
    assert sh.run("fu_run_dropins").lines == [f"flask-uwsgi: running {sh.dropins}/10-hello.sh", "hello"]
    assert sh.run("fu_run_dropins", ENTRYPOINT_QUIET_LOGS="1").lines == ["hello"]


def test_quiet_logs_keep_warnings_and_errors(sh: Shell) -> None:
    (sh.dropins / "05-notes.txt").write_text("not a drop-in\n")
    (sh.dropins / "10-fail.sh").write_text("exit 3\n")
    result = sh.run("fu_run_dropins", ENTRYPOINT_QUIET_LOGS="1")
    assert result.status == 3
    assert "drop-ins must end in .sh or .envsh" in result.stderr
    assert "failed with exit status 3" in result.stderr


def test_a_drain_of_3600_seconds_is_accepted(sh: Shell) -> None:
    assert sh.run("fu_validate", STOP_DRAIN_SECONDS="3600").status == 0


def test_failing_dropin_stops_with_its_status(sh: Shell) -> None:
    (sh.dropins / "10-fail.sh").write_text("exit 3\n")
    (sh.dropins / "20-never.sh").write_text("echo never\n")
    result = sh.run("fu_run_dropins")
    assert result.status == 3
    assert "never" not in result.stdout
    assert f"error: {sh.dropins}/10-fail.sh failed with exit status 3" in result.stderr


def test_prestart_runs_and_fails_with_its_status(sh: Shell) -> None:
    prestart = sh.app / "prestart.sh"
    prestart.write_text("echo preparing\n")
    assert "preparing" in sh.run("fu_run_prestart").stdout
    prestart.write_text("echo broken >&2\nexit 7\n")
    result = sh.run("fu_run_prestart")
    assert result.status == 7
    assert f"error: {prestart} failed with exit status 7" in result.stderr


def test_prestart_absent_is_fine_unless_named(sh: Shell) -> None:
    assert sh.run("fu_run_prestart").status == 0
    result = sh.run("fu_run_prestart", FU_PRESTART_EXPLICIT="1")
    assert result.status == EX_CONFIG
    assert f'PRESTART_SCRIPT="{sh.app}/prestart.sh" does not exist' in result.stderr


def test_other_commands_are_executed(sh: Shell) -> None:
    result = sh.run("fu_main echo hello world")
    assert (result.status, result.stdout) == (0, "hello world\n")


def test_control_characters_in_supervised_arguments_are_refused(sh: Shell) -> None:
    sh.make_dev()
    (sh.etc / "supervisord.conf").write_text("")
    result = sh.run("fu_serve --env $'A=1\\nB=2'", HTTP_MODE="router")
    assert result.status == EX_CONFIG
    assert "uWSGI arguments must not contain control characters" in result.stderr


def test_supervisord_gets_the_very_command_line_it_will_split(sh: Shell, tmp_path: Path) -> None:
    """One pass: supervisord runs the entrypoint's uWSGI command line itself,
    split as supervisor splits it (shlex)."""
    (sh.etc / "uwsgi.ini").write_text("[uwsgi]\nworker-reload-mercy = 8\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "flask-uwsgi-supervisord"
    stub.write_text('#!/bin/sh\nprintf "%s\\n%s" "$FLASK_UWSGI_STOP_WAIT" "$FLASK_UWSGI_COMMAND"\n')
    stub.chmod(0o755)
    args = ["uwsgi", "--ini", "/etc/a b.ini", "--set", 'logformat=%(addr) it\'s "x" $HOME \\back', "--set", ""]
    quoted = " ".join(shlex.quote(arg) for arg in args)
    path = f"{bin_dir}:{os.environ['PATH']}"
    result = sh.run(f"FU_UWSGI=({quoted}); fu_exec_supervisord", PATH=path, ENTRYPOINT_QUIET_LOGS="1")
    assert result.status == 0, result.stderr
    stop_wait, command = result.stdout.split("\n", 1)
    assert stop_wait == "9"  # no drain, uwsgi.ini's 8 s mercy, and a second
    assert shlex.split(command) == args


def nginx_conf(sh: Shell, tmp_path: Path, nginx: str = "exit 0", **env: str) -> tuple[Result, str]:
    """fu_write_nginx_conf with the image's nginx.conf (and the ini files its
    timeout comes from) and ``nginx`` as the nginx command's script; the
    result and the configuration written."""
    for name in ("nginx.conf", "http-router.ini", "debug.ini"):
        (sh.etc / name).write_text((ROOT / "uwsgi" / name).read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nginx").write_text(f"#!/bin/sh\n{nginx}\n")
    (bin_dir / "nginx").chmod(0o755)
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FLASK_UWSGI_RUN": str(run), **env}
    result = sh.run("FU_DEBUG=${FU_DEBUG:-0} FU_LISTEN=4096; fu_write_nginx_conf", **env)
    written = run / "nginx.conf"
    return result, written.read_text() if written.exists() else ""


def test_nginx_conf_has_this_containers_values(sh: Shell, tmp_path: Path) -> None:
    result, conf = nginx_conf(sh, tmp_path, PORT="8081", MAX_REQUEST_BODY="1000")
    assert result.status == 0, result.stderr
    assert not re.search(r"@[A-Z_]+@", conf), conf  # every placeholder filled in
    assert "listen 8081 backlog=4096;" in conf
    assert "client_max_body_size 1000;" in conf
    assert f"uwsgi_pass unix:{tmp_path}/run/uwsgi.sock;" in conf
    assert "uwsgi_read_timeout 60s;" in conf
    _, conf = nginx_conf(sh, tmp_path, FU_DEBUG="1")
    assert "uwsgi_read_timeout 86400s;" in conf  # a paused worker has no limit (debug.ini)


def test_a_configuration_nginx_refuses_stops_the_start_in_one_line(sh: Shell, tmp_path: Path) -> None:
    refuse = 'echo "nginx: [emerg] bad thing" >&2; echo "nginx: configuration file test failed" >&2; exit 1'
    result, _ = nginx_conf(sh, tmp_path, nginx=refuse)
    assert result.status == EX_CONFIG
    assert result.stderr.count("\n") == 1, result.stderr
    assert "error: HTTP_MODE=nginx: nginx refuses its configuration: nginx: [emerg] bad thing" in result.stderr


NUMERIC_OPTIONS = (ROOT / "entrypoint" / "uwsgi-numeric-options").read_text()


@pytest.mark.parametrize(
    ("var", "value", "why"),
    [
        ("UWSGI_PROCESSES", "four", "is not a whole number"),  # core, int
        ("UWSGI_HARAKIRI", "30s", "is not a whole number"),  # a unit
        ("UWSGI_PROCESSES", "-1", "is not a whole number"),  # a negative
        ("UWSGI_LIMIT_POST", "big", "is not a whole number"),  # 64bit: 0 would mean no limit
        ("UWSGI_HTTP_TIMEOUT", "soon", "is not a whole number"),  # the http plugin's
        ("UWSGI_HTTP_KEEPALIVE", "true", "is not a whole number"),  # a number with an optional argument
        ("UWSGI_LIMIT_AS", "512M", "is not a whole number"),  # megabytes
        ("UWSGI_BUFFER_SIZE", "70000", "is more than 65535"),  # 16bit: would be 65535
        ("UWSGI_THREADS", "3000000000", "is more than 2147483647"),
    ],
)
def test_numeric_uwsgi_options(sh: Shell, var: str, value: str, why: str) -> None:
    result = sh.run("fu_validate", **{var: value})
    assert result.status == EX_CONFIG
    assert result.stderr.strip() == f'flask-uwsgi: error: {var}="{value}" {why}'


@pytest.mark.parametrize(
    ("var", "value"),
    [("UWSGI_PROCESSES", "4"), ("UWSGI_LIMIT_POST", "10485760"), ("UWSGI_PRIO", "-5"), ("UWSGI_MODULE", "four")],
)
def test_good_numbers_and_other_options_pass(sh: Shell, var: str, value: str) -> None:
    assert sh.run("fu_check_uwsgi_numbers", **{var: value}).status == 0


def test_the_numeric_options_are_the_pinned_uwsgis() -> None:
    pinned = re.search(r"^uwsgi==(\S+)", (ROOT / "requirements" / "prod.txt").read_text(), re.MULTILINE)[1]
    assert NUMERIC_OPTIONS.startswith(f"# uWSGI {pinned}: ")
    kinds = dict(line.split() for line in NUMERIC_OPTIONS.splitlines()[1:])
    for option in ("processes", "threads", "harakiri", "listen", "post-buffering", "max-requests", "cheaper"):
        assert kinds[option] in ("int", "64bit"), option
    assert (kinds["buffer-size"], kinds["prio"], kinds["http-timeout"]) == ("16bit", "signed", "int")


@pytest.mark.parametrize(("somaxconn", "listen"), [("4096", "4096"), ("65535", "65535"), ("128", "128")])
def test_the_backlog_is_the_kernels_cap(sh: Shell, somaxconn: str, listen: str) -> None:
    sh.somaxconn.write_text(somaxconn + "\n")
    result = sh.run('fu_size_workers; fu_size_backlog; echo "$FU_LISTEN|$FU_SIZING"')
    assert result.status == 0, result.stderr
    value, sizing = result.stdout.strip().split("|")
    assert value == listen and sizing.endswith(f", listen backlog {listen}")
    assert ("net.core.somaxconn is 128 here" in result.stderr) == (somaxconn == "128")


def test_a_backlog_above_the_kernels_cap_is_refused(sh: Shell) -> None:
    assert sh.run("fu_validate", UWSGI_LISTEN="4096").status == 0
    result = sh.run("fu_validate", UWSGI_LISTEN="8192")
    assert result.status == EX_CONFIG
    expected = 'flask-uwsgi: error: UWSGI_LISTEN="8192" is above this container\'s net.core.somaxconn (4096)'
    assert result.stderr.startswith(expected)


@pytest.mark.parametrize("var", ["UWSGI_CHEAPER", "UWSGI_MAX_REQUESTS", "UWSGI_RELOAD_ON_RSS"])
def test_every_setting_debug_ini_forces_is_warned_about(sh: Shell, var: str) -> None:
    sh.make_dev()
    _, stderr = command(sh, DEBUGPY_ENABLE="1", **{var: "5"})
    assert f"warning: {var} is ignored while the debugger is on" in stderr


USERS = "root:x:0:0:root:/root:/bin/bash\napp:x:10001:0::/home/app:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nusers:x:100:\n"


def name_app_owner(sh: Shell, uid: int, gid: int, users: str = USERS, group: str = GROUP) -> tuple[str, str, str]:
    """fu_name_app_owner on copies of the image's /etc/passwd and /etc/group: (users, groups, stderr)."""
    files = {"passwd": sh.etc / "passwd", "group": sh.etc / "group"}
    files["passwd"].write_text(users)
    files["group"].write_text(group)
    env = {"FLASK_UWSGI_PASSWD": str(files["passwd"]), "FLASK_UWSGI_GROUP": str(files["group"])}
    result = sh.run(f"fu_name_app_owner {uid} {gid}", **env)
    assert result.status == 0, result.stderr
    return files["passwd"].read_text(), files["group"].read_text(), result.stderr


def test_app_takes_the_uid_and_gid_of_the_owner_of_app_and_joins_group_0(sh: Shell) -> None:
    users, group, stderr = name_app_owner(sh, 1000, 1000)
    assert users == "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/usr/sbin/nologin\n"
    assert group == "root:x:0:app\nusers:x:100:\n"
    assert stderr == ""
    # Another start of the same container: nothing more to change.
    assert name_app_owner(sh, 1000, 1000, users, group)[:2] == (users, group)


def test_app_joins_group_0_beside_its_other_members(sh: Shell) -> None:
    _, group, _ = name_app_owner(sh, 1000, 1000, group="root:x:0:admin\n")
    assert group == "root:x:0:admin,app\n"


def test_a_root_owned_app_leaves_the_image_user_as_it_is(sh: Shell) -> None:
    # fu_become_app_owner maps a root-owned /app to 10001:0, the image's own user.
    assert name_app_owner(sh, 10001, 0)[:2] == (USERS, GROUP)


@pytest.mark.parametrize(
    ("env", "sizing"),
    [
        ({}, "2 processes x 64 threads"),
        ({"UWSGI_PROCESSES": "3", "UWSGI_THREADS": "2"}, "3 processes x 2 threads"),
        ({"FU_DEBUG": "1"}, "1 processes x 16 threads"),
        ({"FU_DEBUG": "1", "UWSGI_PROCESSES": "2"}, "2 processes x 16 threads"),
    ],
)
def test_the_start_up_line_says_what_will_run(sh: Shell, env: dict[str, str], sizing: str) -> None:
    result = sh.run('fu_cpus() { echo 1; }; FU_DEBUG="${FU_DEBUG:-0}"; fu_size_workers; echo "$FU_SIZING"', **env)
    assert result.stdout.strip() == f"1 CPU(s): {sizing}", result.stderr
