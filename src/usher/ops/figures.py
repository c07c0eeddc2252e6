"""The figures the stats document, the Prometheus page and `usher top` show, gathered in one pass.

The master collects them from its slots and the scoreboard (usher.master.gather); `usher.ops.stats`
and `usher.ops.prometheus` only render them, so the two outputs cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoreFigures:
    """A request slot of a worker: the loop (threads = 1) or an app thread."""

    id: int
    requests: int
    in_request: bool
    request_start: int  # unix seconds, 0 when idle
    method: str
    uri: str
    client: str


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """One worker id, over every process that has filled it."""

    id: int
    pid: int
    status: str  # idle, busy or cheap
    accepting: bool
    requests: int
    delta_requests: int  # since the current process started
    exceptions: int
    harakiri_count: int
    rss: int
    vsz: int
    running_time_us: int
    last_spawn: int
    respawn_count: int
    tx: int
    avg_rt_us: int
    timed: int
    statuses: tuple[int, ...]
    buckets: tuple[int, ...]
    cores: tuple[CoreFigures, ...]


@dataclass(frozen=True, slots=True)
class SocketFigures:
    """One listener and its accept queue."""

    name: str
    proto: str
    queue: int
    max_queue: int


@dataclass(frozen=True, slots=True)
class ServerFigures:
    """Everything a stats reader sees."""

    version: str
    pid: int
    uid: int
    gid: int
    cwd: str
    listen_queue: int
    listen_queue_errors: int
    sockets: tuple[SocketFigures, ...]
    workers: tuple[WorkerFigures, ...]
    reload_failed_at: int = 0  # unix seconds of the last reload whose new code did not import
    reload_error: str = ""  # that failure's one line
    # Sections an app that is its own handler adds (usher front: "front", its upstreams' figures
    # summed over its workers), as (key, JSON-ready value).
    sections: tuple[tuple[str, object], ...] = ()
