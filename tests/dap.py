"""A small Debug Adapter Protocol client: Content-Length framed JSON over TCP.

Enough of the protocol to attach to debugpy the way VS Code does, set
breakpoints, wait for a stop, look at the stack, evaluate and continue, and,
like VS Code, to open a child session for each subprocess the adapter
reports (``Session``). Standard library only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar


class DAPError(Exception):
    """The adapter answered a request with success: false, or went away."""


class DAPClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        on_subprocess: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.timeout = timeout
        # Called (in a thread of its own) with the attach configuration of
        # each subprocess the adapter reports; None: they are declined.
        self.on_subprocess = on_subprocess
        self._sock = connect_with_retry(host, port, timeout)
        self._seq = itertools.count(1)
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.event_log: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # --- framing -------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        with self._lock:
            self._sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                header, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in header.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                message = json.loads(buffer[:length])
                buffer = buffer[length:]
                self._dispatch(message)
        except OSError:
            return
        finally:
            self._closed.set()
            self._events.put({"type": "closed"})

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == "response":
            with self._lock:
                box = self._responses.setdefault(message["request_seq"], queue.Queue())
            box.put(message)
        elif message.get("type") == "event":
            self.event_log.append(message)
            if message.get("event") == "debugpyAttach" and self.on_subprocess:
                self._subprocess(message["body"])
            self._events.put(message)
        elif message.get("type") == "request":
            # Reverse requests: startDebugging (a subprocess to attach to) when
            # subprocesses are followed; anything else (runInTerminal) declined.
            accepted = message["command"] == "startDebugging" and self.on_subprocess is not None
            self._send(
                {
                    "seq": next(self._seq),
                    "type": "response",
                    "request_seq": message["seq"],
                    "command": message["command"],
                    "success": accepted,
                    **({} if accepted else {"message": "not supported by this client"}),
                }
            )
            if accepted:
                self._subprocess(message["arguments"]["configuration"])

    def _subprocess(self, config: dict[str, Any]) -> None:
        assert self.on_subprocess is not None
        threading.Thread(target=self.on_subprocess, args=(config,), daemon=True).start()

    # --- requests ------------------------------------------------------------
    def send_request(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        seq = next(self._seq)
        with self._lock:
            self._responses.setdefault(seq, queue.Queue())
        message: dict[str, Any] = {"seq": seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self._send(message)
        return seq

    def response(self, seq: int, timeout: float | None = None) -> dict[str, Any]:
        with self._lock:
            box = self._responses.setdefault(seq, queue.Queue())
        try:
            message = box.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise DAPError(f"no response to request {seq} within {timeout or self.timeout} s") from None
        if not message.get("success"):
            raise DAPError(f"{message.get('command')} failed: {message.get('message')}")
        return message

    def request(self, command: str, arguments: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.response(self.send_request(command, arguments), **kw)

    def wait_event(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [e.get("event") for e in self.event_log]
                raise DAPError(f"no {name!r} event within {timeout or self.timeout} s (saw {seen})")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("type") == "closed":
                raise DAPError(f"connection closed while waiting for {name!r}")
            if event.get("event") == name:
                return event

    # --- the VS Code attach sequence ----------------------------------------
    def attach(
        self,
        path_mappings: list[dict[str, str]],
        breakpoints: dict[str, list[int]],
        *,
        just_my_code: bool = False,
        config: dict[str, Any] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """initialize, attach, setBreakpoints, configurationDone; returns breakpoint results.

        ``config``: the attach arguments as a launch.json entry or a subprocess
        report gives them (they win over the defaults here).
        """
        self.request(
            "initialize",
            {
                "clientID": "flask-uwsgi-tests",
                "clientName": "flask-uwsgi tests",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                "supportsVariableType": True,
                "supportsRunInTerminalRequest": False,
                "supportsStartDebuggingRequest": self.on_subprocess is not None,
            },
        )
        arguments = {
            "request": "attach",
            "type": "debugpy",
            "justMyCode": just_my_code,
            "pathMappings": path_mappings,
            **(config or {}),
        }
        attach_seq = self.send_request("attach", arguments)
        self.wait_event("initialized")
        results = {}
        for path, lines in breakpoints.items():
            body = self.request(
                "setBreakpoints",
                {"source": {"path": path}, "breakpoints": [{"line": n} for n in lines]},
            )["body"]
            results[path] = body["breakpoints"]
        self.request("setExceptionBreakpoints", {"filters": []})
        self.request("configurationDone")
        self.response(attach_seq)
        return results

    def top_frame(self, thread_id: int) -> dict[str, Any]:
        frames = self.request("stackTrace", {"threadId": thread_id, "levels": 1})["body"]["stackFrames"]
        return frames[0]

    def evaluate(self, expression: str, frame_id: int) -> str:
        body = self.request("evaluate", {"expression": expression, "frameId": frame_id, "context": "repl"})["body"]
        return body["result"]

    def close(self) -> None:
        if not self._closed.is_set():
            with contextlib.suppress(DAPError, OSError):
                self.request("disconnect", {"terminateDebuggee": False}, timeout=5)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> DAPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stop(NamedTuple):
    """Where a debuggee stopped: its session, the event body, the top frame, its pid."""

    client: DAPClient
    body: dict[str, Any]
    frame: dict[str, Any]
    pid: int

    def resume(self) -> None:
        self.client.request("continue", {"threadId": self.body["threadId"]})


class _Sessions:
    """Debug sessions whose stops all arrive on one queue."""

    def __init__(self) -> None:
        self.stops: queue.Queue[tuple[DAPClient, dict[str, Any]]] = queue.Queue()

    def _forward_stops(self, client: DAPClient) -> None:
        threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: DAPClient) -> None:
        while True:
            try:
                event = client.wait_event("stopped", timeout=24 * 3600)
            except DAPError:
                return
            self.stops.put((client, event["body"]))

    def wait_stop(self, timeout: float = 30.0) -> tuple[DAPClient, dict[str, Any]]:
        """The next stop: the session it happened in, and the event body."""
        try:
            return self.stops.get(timeout=timeout)
        except queue.Empty:
            raise DAPError(f"no stop within {timeout} s") from None

    def stop_in_turn(self, fire: Callable[[], object], count: int, timeout: float = 30.0) -> list[Stop]:
        """``count`` times: fire() (a request, say) and wait for the stop it causes.

        Each stop stays paused, so with one thread per worker the next
        request must go to another worker.
        """
        stops = []
        for _ in range(count):
            fire()
            client, body = self.wait_stop(timeout)
            frame = client.top_frame(body["threadId"])
            pid = int(client.evaluate("__import__('os').getpid()", frame["id"]))
            stops.append(Stop(client, body, frame, pid))
        return stops

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_S = TypeVar("_S", bound=_Sessions)


class Session(_Sessions):
    """One debug session as VS Code runs it: a root attach, plus a child
    session for every subprocess the adapter reports, each given the same
    breakpoints.
    """

    def __init__(
        self, host: str, port: int, path_mappings: list[dict[str, str]], breakpoints: dict[str, list[int]]
    ) -> None:
        super().__init__()
        self.host, self.port = host, port
        self.path_mappings, self.breakpoints = path_mappings, breakpoints
        self.children: dict[int, DAPClient] = {}
        self.joined: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self.root = DAPClient(host, port, on_subprocess=self._child)
        self.root.attach(path_mappings, breakpoints)

    def _child(self, config: dict[str, Any]) -> None:
        # The report's connect address is the adapter's view of it; this
        # client reaches the adapter where the root session did.
        child = DAPClient(self.host, self.port, on_subprocess=self._child)
        config = {k: v for k, v in config.items() if k != "connect"}
        try:
            child.attach(self.path_mappings, self.breakpoints, config=config)
        except (DAPError, OSError):
            child.close()
            return
        with self._lock:
            self.children[config["subProcessId"]] = child
        self.joined.put(config["subProcessId"])
        self._forward_stops(child)

    def wait_joined(self, timeout: float = 30.0) -> int:
        """The pid of the next subprocess whose child session is configured."""
        try:
            return self.joined.get(timeout=timeout)
        except queue.Empty:
            raise DAPError(f"no subprocess joined within {timeout} s") from None

    def close(self) -> None:
        with self._lock:
            children = list(self.children.values())
            self.children.clear()
        for child in children:
            child.close()
        self.root.close()


class PortSessions(_Sessions):
    """A plain attach on each of several ports (DEBUGPY_PORTS=per-worker), as a
    compound launch configuration does it."""

    def __init__(
        self, host: str, ports: list[int], path_mappings: list[dict[str, str]], breakpoints: dict[str, list[int]]
    ) -> None:
        super().__init__()
        self.clients: list[DAPClient] = []
        try:
            for port in ports:
                client = DAPClient(host, port)
                self.clients.append(client)
                client.attach(path_mappings, breakpoints)
                self._forward_stops(client)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for client in self.clients:
            client.close()


def connect_with_retry(host: str, port: int, timeout: float) -> socket.socket:
    """Connect, retrying while the adapter is not listening yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.settimeout(None)
            return sock
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
