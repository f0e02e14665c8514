"""Clients that download a big file slowly (phones on a bad network, or an
attacker holding threads), while one client sends GET / on new connections;
standard library only, so that it runs in a container's network namespace
(nsenter) with the host's python3.

    python3 slow_readers.py HOST PORT READERS PATH SECONDS

Each reader sends ``GET PATH`` with a 16 KiB receive buffer and reads 4 KiB
of the answer every 100 ms. Meanwhile the client sends ``GET /``, one after
the other, each with a 5 s timeout. Prints one JSON line: the client's
answers (status 200), failures, their p50 and p99 in ms, and the MiB the
readers received.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import urllib.request


def legitimate(url: str, stop: threading.Event, results: list[tuple[bool, float]]) -> None:
    while not stop.is_set():
        began = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                ok = response.status == 200 and bool(response.read())
        except OSError:
            ok = False
        results.append((ok, time.monotonic() - began))


def main(host: str, port: int, readers: int, path: str, seconds: float) -> dict[str, object]:
    slow = []
    for _ in range(readers):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect((host, port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        sock.setblocking(False)
        slow.append(sock)
    results: list[tuple[bool, float]] = []
    stop = threading.Event()
    client = threading.Thread(target=legitimate, args=(f"http://{host}:{port}/", stop, results), daemon=True)
    client.start()
    received = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for sock in slow:
            with contextlib.suppress(OSError):  # nothing yet (BlockingIOError), or closed
                received += len(sock.recv(4096))
        time.sleep(0.1)
    stop.set()
    client.join(10)
    for sock in slow:
        sock.close()
    latencies = sorted(took for _, took in results)

    def quantile(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000, 1) if latencies else None

    return {
        "answered": sum(ok for ok, _ in results),
        "failed": sum(not ok for ok, _ in results),
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "received_mib": round(received / 2**20, 1),
    }


if __name__ == "__main__":
    host, port, readers, path, seconds = sys.argv[1:]
    print(json.dumps(main(host, int(port), int(readers), path, float(seconds))))
