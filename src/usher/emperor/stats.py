"""The emperor's stats: uWSGI's emperor document as JSON, written to each client that connects.

The keys are uWSGI's (uwsgitop's emperor mode reads `emperor`, `emperor_tyrant` and each
vassal's `id` and `pid`; scripts read the rest). usher adds per vassal `status` (running,
throttled, waiting, stopping), `last_exit` and the vassal's own STATUS= line as `status_text`.
Times are Unix seconds, as uWSGI writes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from usher import __version__
from usher.emperor.vassal import Vassal
from usher.sockets import bind

# Sending the document blocks the emperor's loop: bounded so that a client that connects and
# never reads cannot hold the vassals' supervision for long.
SEND_TIMEOUT = 1.0


def document(
    vassals: Iterable[Vassal], sources: tuple[str, ...], *, tyrant: bool
) -> dict[str, Any]:
    """The stats document of an emperor watching `sources`."""
    wall, mono = time.time(), time.monotonic()
    listed = sorted(vassals, key=lambda vassal: vassal.name)
    return {
        "version": __version__,
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": os.getcwd(),
        "emperor": list(sources),
        "emperor_tyrant": int(tyrant),
        "throttle_level": max((vassal.failures for vassal in listed), default=0),
        "vassals": [_vassal(vassal) for vassal in listed],
        "blacklist": [_throttled(vassal, wall, mono) for vassal in listed if vassal.respawn_at],
    }


def _vassal(vassal: Vassal) -> dict[str, Any]:
    return {
        "id": vassal.name,
        "pid": vassal.pid,
        "born": int(vassal.born),
        "last_mod": vassal.seen.mtime_ns // 1_000_000_000,
        "last_heartbeat": 0,
        "loyal": int(vassal.ready and vassal.respawn_at is None),
        "ready": int(vassal.ready),
        "accepting": int(vassal.ready),
        "last_loyal": int(vassal.ready_at),
        "last_ready": int(vassal.ready_at),
        "last_accepting": int(vassal.ready_at),
        "first_run": int(vassal.first_run),
        "last_run": int(vassal.born),
        "cursed": 0,
        "zerg": 0,
        "on_demand": vassal.on_demand_address,
        "uid": vassal.uid if vassal.uid is not None else os.getuid(),
        "gid": vassal.gid if vassal.gid is not None else os.getgid(),
        "monitor": os.path.dirname(vassal.seen.path),
        "respawns": vassal.respawns,
        "status": state(vassal),
        "status_text": vassal.status,
        "last_exit": vassal.last_exit,
    }


def _throttled(vassal: Vassal, wall: float, mono: float) -> dict[str, Any]:
    assert vassal.respawn_at is not None
    return {
        "id": vassal.name,
        "throttle_level": vassal.failures,
        "attempt": vassal.failures,
        "first_attempt": int(vassal.first_run),
        "last_attempt": int(vassal.born),
        "next_attempt": int(wall + max(vassal.respawn_at - mono, 0.0)),
    }


def state(vassal: Vassal) -> str:
    """One word for the vassal's state."""
    if vassal.removed or vassal.kill_at is not None:
        return "stopping"
    if vassal.respawn_at is not None:
        return "throttled"
    if vassal.running:
        return "running" if vassal.ready else "starting"
    return "waiting" if vassal.on_demand is not None else "stopped"


class StatsServer:
    """A listening socket that answers every connection with the current document."""

    def __init__(self, address: str) -> None:
        # ListenerError (one line) when the address cannot be bound.
        self.listener = bind("http", address, backlog=16, chmod=None)

    def fileno(self) -> int:
        return self.listener.sock.fileno()

    def answer(self, build: Callable[[], dict[str, Any]]) -> None:
        """Write the document `build` makes to every client waiting to be accepted."""
        body = b""
        while True:
            try:
                client, _ = self.listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            body = body or json.dumps(build()).encode()
            with client, contextlib.suppress(OSError):
                client.settimeout(SEND_TIMEOUT)
                client.sendall(body)
                client.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.sock.close()
        if self.listener.unix_path:
            with contextlib.suppress(OSError):
                os.unlink(self.listener.unix_path)
