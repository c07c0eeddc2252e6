"""The systemd notify protocol, without a dependency: one datagram to $NOTIFY_SOCKET.

With `Type=notify` systemd waits for READY=1 before it starts units ordered after usher, shows the
STATUS= text in `systemctl status`, and with `Type=notify-reload` it waits for READY=1 after the
RELOADING=1 that a reload announces (which must carry MONOTONIC_USEC, the moment it began).
"""

from __future__ import annotations

import os
import socket
import time


def notify(message: str, *, wait: bool = True) -> bool:
    """Send `message` (e.g. "READY=1") to the service manager; False when there is none (or,
    with wait=False, when its queue is full: the message is dropped rather than waited for)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.setblocking(wait)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def ready(status: str) -> bool:
    """The workers serve (at startup, and again when a reload is complete)."""
    return notify(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")


def reloading(status: str) -> bool:
    """A reload begins; READY=1 follows when it is complete."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS={status}")


def stopping(status: str) -> bool:
    """The server is stopping."""
    return notify(f"STOPPING=1\nSTATUS={status}")


def status(text: str, *, wait: bool = True) -> bool:
    """A one-line state for `systemctl status`; wait=False for a supervisor whose loop must not
    block on a manager that reads slowly (the next STATUS= replaces a dropped one anyway)."""
    return notify(f"STATUS={text}", wait=wait)
