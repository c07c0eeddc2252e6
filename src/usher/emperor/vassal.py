"""One vassal's state, and the command line that starts it.

A vassal is `python -m usher --ini FILE` plus the emperor's vassals-include files and
vassals-set options: the same program and the same reading of the file as `usher --ini FILE`
by hand, so a plain uWSGI ini runs unchanged.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

from usher.emperor.sources import SeenFile


@dataclass(frozen=True, slots=True)
class VassalCommand:
    """What every vassal's command line gets besides its own file."""

    includes: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()

    def argv(self, path: str) -> list[str]:
        """The command line of the vassal configured by `path`."""
        extra = [arg for include in self.includes for arg in ("--ini", include)]
        extra += [arg for pair in self.sets for arg in ("--set", pair)]
        return [sys.executable, "-m", "usher", "--ini", path, *extra]


@dataclass(slots=True)
class Vassal:
    """A config file and the server it runs: what the stats show and the loop decides on."""

    seen: SeenFile
    pid: int = 0
    born: float = 0.0  # wall clock of the current process's start (0: not running)
    started_at: float = 0.0  # monotonic, for the boot-failure window
    first_run: float = 0.0
    respawns: int = 0  # starts after the first one
    failures: int = 0  # boot failures in a row (usher.supervise.backoff)
    ready: bool = False
    ready_at: float = 0.0
    respawn_at: float | None = None  # monotonic: throttled until then
    removed: bool = False  # the file is gone: stop, and forget it at its exit
    restart: bool = False  # start again at its exit (the env file changed)
    kill_at: float | None = None  # monotonic: SIGKILL if it has not exited by then
    last_exit: str = ""
    status: str = ""  # the vassal's last STATUS= line
    on_demand: socket.socket | None = None  # the socket the emperor holds for it
    on_demand_address: str = ""
    uid: int | None = None  # tyrant: the file owner's
    gid: int | None = None

    @property
    def name(self) -> str:
        """The vassal's id, as uWSGI names it: the config file's name."""
        return os.path.basename(self.seen.path)

    @property
    def running(self) -> bool:
        return self.pid > 0

    @property
    def waiting(self) -> bool:
        """Socket-activated and not running: the emperor waits for a connection."""
        return self.on_demand is not None and not self.running and self.respawn_at is None
