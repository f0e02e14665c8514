"""The listen queues, as the kernel of the container's network namespace counts them.

uWSGI 2.0.31's stats cannot give them here: its ``listen_queue`` reads a unix
socket's queue only on kernels with Unbit's SIOBKLGQ patch (0 on Linux as
shipped, and the workers' socket behind the router is a unix socket), and its
``listen_queue_errors`` is never incremented. The kernel knows both:

- a listening TCP socket's accept queue is its ``rx_queue`` in /proc/net/tcp
  and tcp6 (the port uWSGI serves HTTP on, router or direct);
- a listening unix socket's, and its backlog, come from sock_diag (netlink,
  ``UNIX_DIAG_RQLEN``), as ``ss -xl`` shows them (the workers' socket);
- TcpExt's ``ListenOverflows`` in /proc/net/netstat counts connections
  dropped because a TCP accept queue was full, in this namespace.
"""

from __future__ import annotations

import socket
import struct

TCP_LISTEN = 10
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
UDIAG_SHOW_NAME, UDIAG_SHOW_RQLEN = 0x1, 0x10
UNIX_DIAG_NAME, UNIX_DIAG_RQLEN = 0, 4


def tcp_accept_queue(port: int, proc_net: str = "/proc/net") -> int | None:
    """Connections waiting in the accept queue of the TCP listener on ``port``."""
    found = None
    for name in ("tcp", "tcp6"):
        try:
            with open(f"{proc_net}/{name}", encoding="ascii") as table:
                rows = table.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(state, 16) == TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                found = (found or 0) + int(queues.split(":")[1], 16)
    return found


def listen_overflows(proc_net: str = "/proc/net") -> int:
    """TcpExt ListenOverflows: connections dropped on a full TCP accept queue."""
    with open(f"{proc_net}/netstat", encoding="ascii") as netstat:
        lines = netstat.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:], strict=True)).get("ListenOverflows", 0))
    return 0


def unix_accept_queues() -> dict[str, tuple[int, int]]:
    """Every listening unix socket with a path: (connections waiting, backlog)."""
    show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN
    # struct unix_diag_req: family, protocol, pad, states, inode, show, cookie.
    request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 1 << TCP_LISTEN, 0, show, 0, 0)
    header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    found: dict[str, tuple[int, int]] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(5)
        netlink.send(header + request)
        while True:
            data = netlink.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    raise OSError("sock_diag refused the unix socket dump")
                name, queues = _attributes(data[offset + 16 + 16 : offset + length])
                if name and queues:
                    found[name] = queues
                offset += (length + 3) & ~3


def _attributes(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    name = queues = None
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        value = data[offset + 4 : offset + length]
        if kind == UNIX_DIAG_NAME and value[:1] not in (b"", b"\0"):  # not an abstract socket
            name = value.rstrip(b"\0").decode(errors="replace")
        elif kind == UNIX_DIAG_RQLEN:
            queues = struct.unpack("=II", value[:8])
        offset += (length + 3) & ~3
    return name, queues
