"""What the master knows about its workers: worker ids (slots) and the processes filling them.

A slot is a worker id, 1..processes, as operators see it in stats and logs. Its figures (requests,
respawns, harakiri kills) accumulate over every process that has filled it. A process is one fork:
its own pid and scoreboard row. A slot holds at most one current process; during a chain reload it
also holds the successor being started, and processes told to leave (retiring) finish their
requests on their own until they exit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from usher.scoreboard import BUCKETS, STATUS_CLASSES, RowView


@dataclass(slots=True, eq=False)
class WorkerProcess:
    """One forked worker."""

    pid: int
    worker_id: int
    row: int | None
    spawned_at: float  # monotonic seconds
    spawned_wall: float  # unix time, for stats' last_spawn
    ready: bool = False
    retiring: bool = False
    kill_at: float | None = None  # when SIGKILL follows: mercy, or the grace after harakiri
    ended_for: str | None = None  # why the master ended it; its exit needs no other explanation


@dataclass(slots=True)
class Totals:
    """Counters of the processes that have left a slot, so the slot's figures never go back."""

    requests: int = 0
    exceptions: int = 0
    tx: int = 0
    running_ns: int = 0
    timed: int = 0
    statuses: list[int] = field(default_factory=lambda: [0] * STATUS_CLASSES)
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, row: RowView) -> None:
        self.requests += row.requests
        self.exceptions += row.exceptions
        self.tx += row.tx
        self.running_ns += row.running_ns
        self.timed += row.timed
        self.statuses = [a + b for a, b in zip(self.statuses, row.statuses, strict=True)]
        self.buckets = [a + b for a, b in zip(self.buckets, row.buckets, strict=True)]


@dataclass(slots=True)
class WorkerSlot:
    """A worker id and the processes that fill it over time."""

    worker_id: int
    current: WorkerProcess | None = None
    successor: WorkerProcess | None = None
    boot_failures: int = 0
    respawn_at: float | None = None
    cheap: bool = False  # stopped by the cheaper algorithm (or `-`); not respawned
    spawns: int = 0  # uWSGI's respawn_count counts the first spawn too
    harakiris: int = 0
    totals: Totals = field(default_factory=Totals)
    avg_rt_us: int = 0
    last_sample: tuple[int, int, int] = (0, 0, 0)  # (pid, timed, running_ns) at the last tick

    @property
    def pid(self) -> int:
        return self.current.pid if self.current is not None else 0
