"""A Debug Adapter Protocol client that attaches as VS Code does.

Content-Length framed JSON over TCP, standard library only. By default it
behaves as VS Code with the Python Debugger extension behaves with the
launch.json the examples ship (``VSCODE_INITIALIZE`` and ``vscode_attach``
below say what that is, and where it comes from): the same ``initialize`` and ``attach`` arguments, the adapter's
default exception filters, the configuration requests sent together, and a
child session for each subprocess the adapter asks it to start
(``startDebugging``), as ``Session`` runs them.
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


# What VS Code and its Python Debugger extension send to debugpy, read from
# their sources: microsoft/vscode src/vs/workbench/contrib/debug/browser/
# debugSession.ts (initialize, onDidInitialize, sendExceptionBreakpoints,
# continue and steps) and rawDebugSession.ts (startDebugging);
# microsoft/vscode-python-debugger src/extension/debugger/configuration/
# resolvers/attach.ts and base.ts (the attach arguments); microsoft/debugpy
# src/debugpy/adapter/clients.py (the filters it offers, and each child's
# configuration: the parent's attach arguments plus subProcessId and name).
VSCODE_INITIALIZE: dict[str, Any] = {
    "clientID": "vscode",
    "clientName": "Visual Studio Code",
    "adapterID": "debugpy",
    "pathFormat": "path",
    "linesStartAt1": True,
    "columnsStartAt1": True,
    "supportsVariableType": True,
    "supportsVariablePaging": True,
    "supportsRunInTerminalRequest": True,
    "locale": "en",
    "supportsProgressReporting": True,
    "supportsInvalidatedEvent": True,
    "supportsMemoryReferences": True,
    "supportsArgsCanBeInterpretedByShell": True,
    "supportsMemoryEvent": True,
    "supportsStartDebuggingRequest": True,
    "supportsANSIStyling": True,
}


def vscode_attach(host: str, port: int, path_mappings: list[dict[str, str]], *, just_my_code: bool) -> dict[str, Any]:
    """The attach arguments of the examples' launch.json entry, as the extension's
    resolver completes them (clientOS, debugOptions, showReturnValue, ...)."""
    return {
        "name": "Attach to flask-uwsgi",
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": host, "port": port},
        "pathMappings": path_mappings,
        "justMyCode": just_my_code,
        "__configurationTarget": 6,
        "clientOS": "unix",
        "debugOptions": ["RedirectOutput", "ShowReturnValue"],
        "showReturnValue": True,
        "workspaceFolder": path_mappings[0]["localRoot"] if path_mappings else "/",
    }


# A breakpoint: a line, or the DAP SourceBreakpoint (line, condition,
# hitCondition, logMessage).
Breakpoint = int | dict[str, Any]


class DAPClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        on_subprocess: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
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
            if message["command"] == "startDebugging" and self.on_subprocess is not None:
                # VS Code answers once the child session has started.
                self._subprocess(message["arguments"]["configuration"], reply_to=message)
            else:
                self._reply(message, False)

    def _reply(self, request: dict[str, Any], success: bool) -> None:
        self._send(
            {
                "seq": next(self._seq),
                "type": "response",
                "request_seq": request["seq"],
                "command": request["command"],
                "success": success,
                **({} if success else {"message": "not supported by this client"}),
            }
        )

    def _subprocess(self, config: dict[str, Any], reply_to: dict[str, Any] | None = None) -> None:
        assert self.on_subprocess is not None

        def start() -> None:
            ok = False
            try:
                ok = bool(self.on_subprocess(config))  # type: ignore[misc]
            finally:
                if reply_to is not None:
                    with contextlib.suppress(OSError):
                        self._reply(reply_to, ok)

        threading.Thread(target=start, daemon=True).start()

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
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                message = box.get(timeout=0.1)
                break
            except queue.Empty:
                if self._closed.is_set():
                    raise DAPError(f"connection closed before the response to request {seq}") from None
                if time.monotonic() > deadline:
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
        breakpoints: dict[str, list[Breakpoint]],
        *,
        just_my_code: bool = False,
        exception_filters: list[str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """initialize, attach, the configuration requests, configurationDone, as
        VS Code sends them; returns the breakpoints as the adapter verified them.

        ``exception_filters``: the ids ticked in VS Code's BREAKPOINTS panel;
        None: the ones the adapter marks as default, as VS Code starts.
        ``config``: the attach arguments of a child session (they replace the
        launch.json entry's).
        """
        capabilities = self.request(
            "initialize", {**VSCODE_INITIALIZE, "supportsStartDebuggingRequest": self.on_subprocess is not None}
        )["body"]
        if exception_filters is None:
            offered = capabilities.get("exceptionBreakpointFilters", [])
            exception_filters = [f["filter"] for f in offered if f.get("default")]
        self.exception_filters = exception_filters
        arguments = config or vscode_attach(self.host, self.port, path_mappings, just_my_code=just_my_code)
        attach_seq = self.send_request("attach", arguments)
        self.wait_event("initialized")
        # All at once, then configurationDone once every one is answered.
        sent = {
            path: self.send_request(
                "setBreakpoints",
                {
                    "source": {"name": path.rsplit("/", 1)[-1], "path": path},
                    "lines": [_line(bp) for bp in lines],
                    "breakpoints": [bp if isinstance(bp, dict) else {"line": bp} for bp in lines],
                    "sourceModified": False,
                },
            )
            for path, lines in breakpoints.items()
        }
        others = [
            self.send_request("setFunctionBreakpoints", {"breakpoints": []}),
            self.send_request("setExceptionBreakpoints", {"filters": exception_filters}),
        ]
        results = {path: self.response(seq)["body"]["breakpoints"] for path, seq in sent.items()}
        for seq in others:
            self.response(seq)
        self.request("configurationDone")
        self.response(attach_seq)
        self.request("threads")
        return results

    def top_frame(self, thread_id: int) -> dict[str, Any]:
        frames = self.request("stackTrace", {"threadId": thread_id, "levels": 1})["body"]["stackFrames"]
        return frames[0]

    def evaluate(self, expression: str, frame_id: int) -> str:
        body = self.request("evaluate", {"expression": expression, "frameId": frame_id, "context": "repl"})["body"]
        return body["result"]

    def abandon(self) -> None:
        """Close the connection without a disconnect request (a killed IDE)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()

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


def _line(breakpoint: Breakpoint) -> int:
    return int(breakpoint["line"]) if isinstance(breakpoint, dict) else breakpoint


class Stop(NamedTuple):
    """Where a debuggee stopped: its session, the event body, the top frame, its pid."""

    client: DAPClient
    body: dict[str, Any]
    frame: dict[str, Any]
    pid: int

    def resume(self) -> None:
        self.client.request("continue", {"threadId": self.body["threadId"]})


class _Sessions:
    """Debug sessions whose stops all arrive on one queue.

    ``just_my_code`` and ``exception_filters`` are what the user set: the
    launch.json entry's justMyCode, the exception filters ticked in VS Code's
    BREAKPOINTS panel (None: the adapter's defaults, as VS Code starts).
    """

    def __init__(
        self,
        path_mappings: list[dict[str, str]],
        breakpoints: dict[str, list[Breakpoint]],
        just_my_code: bool,
        exception_filters: list[str] | None,
    ) -> None:
        self.path_mappings, self.breakpoints = path_mappings, breakpoints
        self.just_my_code, self.exception_filters = just_my_code, exception_filters
        self.stops: queue.Queue[tuple[DAPClient, dict[str, Any]]] = queue.Queue()
        self.clients: list[DAPClient] = []

    def _attach(self, client: DAPClient, config: dict[str, Any] | None = None) -> None:
        client.attach(
            self.path_mappings,
            self.breakpoints,
            just_my_code=self.just_my_code,
            exception_filters=self.exception_filters,
            config=config,
        )

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

    def next_stop(self, timeout: float = 30.0) -> Stop:
        """The next stop, with its top frame and the pid of the process that stopped."""
        client, body = self.wait_stop(timeout)
        frame = client.top_frame(body["threadId"])
        pid = int(client.evaluate("__import__('os').getpid()", frame["id"]))
        return Stop(client, body, frame, pid)

    def stop_in_turn(self, fire: Callable[[], object], count: int, timeout: float = 30.0) -> list[Stop]:
        """``count`` times: fire() (a request, say) and wait for the stop it causes.

        Each stop stays paused, so with one thread per worker the next
        request must go to another worker.
        """
        stops = []
        for _ in range(count):
            fire()
            stops.append(self.next_stop(timeout))
        return stops

    def output(self) -> str:
        """Everything the debuggees printed to the debug console (output events)."""
        return "".join(
            event["body"].get("output", "")
            for client in list(self.clients)
            for event in list(client.event_log)
            if event.get("event") == "output"
        )

    def abandon(self) -> None:
        """Vanish as a killed IDE does: every connection closed, no disconnect."""
        for client in list(self.clients):
            client.abandon()

    def close(self) -> None:
        for client in reversed(list(self.clients)):
            client.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_S = TypeVar("_S", bound=_Sessions)


class Session(_Sessions):
    """One debug session as VS Code runs it: a root attach, plus a child
    session for every subprocess the adapter asks to start, each configured
    as the root is (breakpoints, exception filters).
    """

    def __init__(
        self,
        host: str,
        port: int,
        path_mappings: list[dict[str, str]],
        breakpoints: dict[str, list[Breakpoint]],
        *,
        just_my_code: bool = False,
        exception_filters: list[str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(path_mappings, breakpoints, just_my_code, exception_filters)
        self.children: dict[int, DAPClient] = {}
        self.joined: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        # How long a response may take (DAPClient), the children's too.
        self.timeout = timeout
        self.root = DAPClient(host, port, timeout=timeout, on_subprocess=self._child)
        self.clients.append(self.root)
        self._attach(self.root)

    def _child(self, config: dict[str, Any]) -> bool:
        # As VS Code does: a new connection to the child configuration's
        # connect address (the root's, kept by the adapter), attached with
        # that configuration.
        connect = config["connect"]
        child = DAPClient(connect["host"], int(connect["port"]), timeout=self.timeout, on_subprocess=self._child)
        with self._lock:
            self.clients.append(child)
        try:
            self._attach(child, config={**config, "request": "attach", "type": "debugpy"})
        except (DAPError, OSError):
            child.close()
            return False
        with self._lock:
            self.children[config["subProcessId"]] = child
        self.joined.put(config["subProcessId"])
        self._forward_stops(child)
        return True

    def wait_joined(self, timeout: float = 30.0) -> int:
        """The pid of the next subprocess whose child session is configured."""
        try:
            return self.joined.get(timeout=timeout)
        except queue.Empty:
            raise DAPError(f"no subprocess joined within {timeout} s") from None


class PortSessions(_Sessions):
    """A plain attach on each of several ports (DEBUGPY_PORTS=per-worker), as a
    compound launch configuration does it."""

    def __init__(
        self,
        host: str,
        ports: list[int],
        path_mappings: list[dict[str, str]],
        breakpoints: dict[str, list[Breakpoint]],
        *,
        just_my_code: bool = False,
        exception_filters: list[str] | None = None,
    ) -> None:
        super().__init__(path_mappings, breakpoints, just_my_code, exception_filters)
        try:
            for port in ports:
                client = DAPClient(host, port)
                self.clients.append(client)
                self._attach(client)
                self._forward_stops(client)
        except BaseException:
            self.close()
            raise


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
