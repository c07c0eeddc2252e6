"""The vassals' readiness: the emperor is their service manager, over systemd's notify protocol.

Each vassal gets NOTIFY_SOCKET naming one datagram socket of the emperor, so a vassal reports
READY=1, RELOADING=1, STOPPING=1 and STATUS= exactly as it does to systemd, and usher's master
needs nothing emperor-specific. The socket is in the abstract namespace: no file to clean up, and
a vassal that dropped to another user can still send to it. The sender is known from the
kernel's credentials (SO_PASSCRED), not from what the message claims.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

# A notify message is a few short lines; systemd itself refuses datagrams over 128 KiB.
MAX_MESSAGE = 4096
_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid


@dataclass(frozen=True, slots=True)
class Notice:
    """One message: the sending pid and its KEY=VALUE fields."""

    pid: int
    fields: dict[str, str]


class NotifySocket:
    """The datagram socket the vassals report to."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(f"\0usher-emperor-{os.getpid()}-{os.urandom(6).hex()}")
        self.sock.setblocking(False)
        name = self.sock.getsockname()
        text = name.decode() if isinstance(name, bytes) else name
        self.address = "@" + text[1:]  # NOTIFY_SOCKET's spelling of an abstract name

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[Notice]:
        """Every message waiting now."""
        notices: list[Notice] = []
        size = socket.CMSG_SPACE(_CREDENTIALS.size)
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(MAX_MESSAGE, size)
            except (BlockingIOError, InterruptedError):
                return notices
            pid = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _CREDENTIALS.unpack(payload[: _CREDENTIALS.size])[0]
            notices.append(Notice(pid, parse_fields(data)))

    def close(self) -> None:
        self.sock.close()


def parse_fields(data: bytes) -> dict[str, str]:
    """The KEY=VALUE lines of a notify message (lines without `=` are ignored, as systemd does)."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, equals, value = line.partition("=")
        if equals:
            fields[key] = value
    return fields
