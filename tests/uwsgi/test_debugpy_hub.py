"""The one-port hub's channel to the workers (uwsgi/debugpy_hub.py), on the host."""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import debugpy_hub


def test_hub_tells_each_worker_the_state_now_and_every_change(tmp_path: Path) -> None:
    path = str(tmp_path / "hub.sock")
    channel = debugpy_hub.HubChannel(path)
    assert os.stat(path).st_mode & 0o777 == 0o600  # it carries the adapter's token
    seen: queue.Queue[dict] = queue.Queue()
    stop = threading.Event()
    follower = threading.Thread(target=debugpy_hub.follow_hub, args=(path, seen.put), kwargs={"stop": stop})
    follower.start()
    assert seen.get(timeout=5) == {"attached": False}
    channel.publish({"attached": True, "port": 1})
    assert seen.get(timeout=5) == {"attached": True, "port": 1}
    # A worker connecting later hears the current state at once.
    late: queue.Queue[dict] = queue.Queue()
    threading.Thread(target=debugpy_hub.follow_hub, args=(path, late.put), kwargs={"stop": stop}, daemon=True).start()
    assert late.get(timeout=5) == {"attached": True, "port": 1}
    channel.publish({"attached": False})
    assert seen.get(timeout=5) == {"attached": False}
    # The hub gone: each worker hears that it is no longer attached.
    stop.set()
    channel.server.close()
    for conn in channel.workers:
        conn.close()
    assert seen.get(timeout=5) == {"attached": False, "hub": "gone"}
    follower.join(5)
