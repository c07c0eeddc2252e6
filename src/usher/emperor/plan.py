"""What a scan means for the vassals: pure, so that every case is tested without processes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from usher.emperor.sources import SeenFile


@dataclass(frozen=True, slots=True)
class Changes:
    """The paths to start, reload (config touched), restart (env file changed) and stop."""

    start: tuple[str, ...] = ()
    reload: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()


def compare(known: Mapping[str, SeenFile], seen: Mapping[str, SeenFile]) -> Changes:
    """Compare the files the vassals were started from with the files seen now."""
    reload: list[str] = []
    restart: list[str] = []
    for path, now in seen.items():
        before = known.get(path)
        if before is None or before.mtime_ns == now.mtime_ns:
            continue
        # A graceful reload re-reads the config but keeps the master's environment: a changed
        # env file needs a new process.
        (restart if before.env_mtime_ns != now.env_mtime_ns else reload).append(path)
    return Changes(
        start=tuple(path for path in seen if path not in known),
        reload=tuple(reload),
        restart=tuple(restart),
        stop=tuple(path for path in known if path not in seen),
    )
