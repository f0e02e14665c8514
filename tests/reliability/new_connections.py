"""A load of clients that open a new connection for every request, as
browsers behind some proxies, health checkers and scripts do; standard
library only, so that it runs in a container's network namespace (nsenter)
with the host's python3.

    python3 new_connections.py HOST PORT CLIENTS REQUESTS_EACH

Each client sends ``GET / HTTP/1.1`` with ``Connection: close`` and reads the
answer until the server closes. Prints one JSON line: how many answers had
each status, and how many requests failed (refused, reset, or closed before
a status line arrived), with the first few errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter


async def one(host: str, port: int, statuses: Counter[str], errors: list[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.") else "none"
        statuses[status] += 1
        if status == "none":
            errors.append(f"closed before a status line ({answer[:40]!r})")
    except (OSError, asyncio.TimeoutError) as exc:
        statuses["failed"] += 1
        errors.append(repr(exc))


async def client(host: str, port: int, requests: int, statuses: Counter[str], errors: list[str]) -> None:
    for _ in range(requests):
        await one(host, port, statuses, errors)


async def main(host: str, port: int, clients: int, requests: int) -> None:
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    await asyncio.gather(*(client(host, port, requests, statuses, errors) for _ in range(clients)))
    print(json.dumps({"statuses": dict(statuses), "errors": len(errors), "first_errors": errors[:5]}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
