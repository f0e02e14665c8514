"""The arm64 images under emulation, as a developer on Apple Silicon or an
operator on Graviton meets them: they say and hold arm64, prod serves, the dev
image's debugger stops at a view's breakpoint for a client that attaches as
VS Code does, hot reload picks up an edit, and `docker stop` ends them with 0.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from tests.support.containers import HELLO, Running, http_get, wait_served
from tests.support.dap import Session

Run = Callable[..., Running]

# How much longer than in tests/images a wait may take under QEMU (conftest.py).
SLOWER = 10
ARCH = "arm64"
MAIN = HELLO / "main.py"
BREAK_LINE = next(n for n, line in enumerate(MAIN.read_text().splitlines(), 1) if "return {" in line)


@pytest.fixture(scope="module", autouse=True)
def arm64_images(images: dict[str, str]) -> None:
    # The images fixture builds PROD_IMAGE and DEV_IMAGE for PLATFORM (make
    # test-arm64 sets both); images of this machine's own architecture would
    # make every test here pass for nothing.
    for image in images.values():
        assert docker.from_env().images.get(image).attrs["Architecture"] == ARCH, f"{image} is not {ARCH}"


# ELF's e_machine (bytes 18-19, little-endian) of an aarch64 binary: 183. QEMU's
# F flag runs an amd64 binary natively, so running uwsgi proves nothing alone.
ELF_MACHINE = "import sys; print(int.from_bytes(open(sys.argv[1], 'rb').read(20)[18:20], 'little'))"


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_the_image_holds_arm64_binaries(client: docker.DockerClient, images: dict[str, str], variant: str) -> None:
    script = f"""uname -m; python -c 'import platform, flask; print(platform.machine())'
        python -c "{ELF_MACHINE}" /opt/venv/bin/uwsgi; python -c "{ELF_MACHINE}" "$(readlink -f /opt/venv/bin/python)"
        uwsgi --version"""
    out = client.containers.run(images[variant], ["sh", "-c", script], entrypoint=[], remove=True).decode()
    assert out.split()[:4] == ["aarch64", "aarch64", "183", "183"], out


def test_prod_serves_an_app(run: Run) -> None:
    app = run("prod")
    status, body = app.wait_http(timeout=60 * SLOWER)
    assert status == 200 and "Hello from flask-uwsgi" in body


def test_a_view_breakpoint_stops_and_continues(run: Run) -> None:
    app = run("dev", env={"DEBUGPY_ENABLE": "1"}, ports=(8080, 5678))
    app.wait_log(r"^debugpy: worker 1 ready to join the debug session on port 5678$", 90 * SLOWER)
    mappings = [{"localRoot": str(HELLO), "remoteRoot": "/app"}]
    with Session("127.0.0.1", app.ports[5678], mappings, {str(MAIN): [BREAK_LINE]}, timeout=30 * SLOWER) as session:
        session.wait_joined(30 * SLOWER)
        results: list = []
        thread = threading.Thread(target=lambda: results.append(http_get(app.url(), timeout=60 * SLOWER)), daemon=True)
        thread.start()
        dap, stopped = session.wait_stop(30 * SLOWER)
        assert stopped["reason"] == "breakpoint"
        frame = dap.top_frame(stopped["threadId"])
        assert (frame["source"]["path"], frame["line"]) == (str(MAIN), BREAK_LINE)
        assert dap.evaluate("__import__('platform').machine()", frame["id"]) == "'aarch64'"
        assert results == []  # the request waits at the breakpoint
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(60 * SLOWER)
    assert results and results[0][0] == 200


def test_hot_reload_picks_up_an_edit(run: Run, readable_dir: Path) -> None:
    source = readable_dir / "app"
    shutil.copytree(HELLO, source)
    source.chmod(0o777)
    app = run("dev", app=source, env={"HOT_RELOAD": "1"})
    wait_served(app.url(), "Hello from", 60 * SLOWER, "the app")
    main = source / "main.py"
    main.write_text(main.read_text().replace("Hello from", "Reloaded from"))
    wait_served(app.url(), "Reloaded from", 30 * SLOWER, "the edited app")


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_docker_stop_exits_0(run: Run, variant: str) -> None:
    app = run(variant)
    app.wait_http(timeout=60 * SLOWER)
    app.container.stop(timeout=30 * SLOWER)
    assert app.wait_exit(10) == 0, app.logs()[-3000:]
