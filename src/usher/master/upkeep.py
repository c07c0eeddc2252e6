"""The master's once-a-second duties: memory, the limits' verdicts, average times, cheaper,
touched files.

Each pass reads every live worker's row and /proc/PID/statm (a few microseconds per worker), so
the cost does not depend on the request rate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from usher import logfile
from usher.logs import write_line
from usher.master.chain import ChainReload
from usher.master.commands import Commands
from usher.master.lifecycle import Lifecycle, Phase
from usher.master.pool import WorkerPool
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.master.verdicts import judge
from usher.options import Settings
from usher.scoreboard import Scoreboard
from usher.supervise import systemd
from usher.supervise.procfs import read_memory

if TYPE_CHECKING:
    from collections.abc import Sequence

    from usher.master.cheaper import Spare
    from usher.master.idle import IdleWatch
    from usher.supervise.touch import TouchWatch


class Upkeep:
    """What the master checks on every tick."""

    def __init__(
        self,
        settings: Settings,
        pool: WorkerPool,
        lifecycle: Lifecycle,
        commands: Commands,
        chain: ChainReload,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.lifecycle = lifecycle
        self.commands = commands
        self.chain = chain
        # The cheaper algorithm and the file watches are imported only when their option is set:
        # what the master imports before forking stays resident in every worker.
        self.reload_files = _watch(settings.touch_reload)
        self.chain_files = _watch(settings.touch_chain_reload)
        self.idle: IdleWatch | None = None
        if settings.idle and settings.die_on_idle:
            from usher.master.idle import IdleWatch

            self.idle = IdleWatch(settings.idle, time.monotonic())
        self.spare: Spare | None = None
        if settings.cheaper:
            from usher.master.cheaper import Spare

            self.spare = Spare(
                minimum=min(settings.cheaper, settings.processes),
                maximum=settings.processes,
                step=settings.cheaper_step,
                patience=settings.cheaper_overload,
            )

    def tick(self, now: float) -> None:
        """One pass: every worker's memory and verdict, average times, then (unless the master
        winds down) touched files and the cheaper algorithm."""
        pool = self.pool
        for proc in list(pool.procs.values()):
            self._inspect(proc, now)
        for slot in pool.slots.values():
            _sample_average(slot, pool.scoreboard)
        if not self.lifecycle.winding_down:
            self._touched()
            self._cheaper()
            self._die_if_idle(now)
        self._rotate_full_log()

    def _die_if_idle(self, now: float) -> None:
        if self.idle is None or self.lifecycle.phase is not Phase.SERVING:
            return
        rows = [proc.row for proc in self.pool.procs.values() if proc.row is not None]
        views = [self.pool.scoreboard.read(row) for row in rows]
        requests = tuple(view.requests for view in views)
        busy = any(view.busy for view in views)
        if self.idle.idle_for_too_long(requests, busy, now):
            self.commands.stop(graceful=True, why=f"idle for {self.settings.idle}s (die-on-idle)")

    def _rotate_full_log(self) -> None:
        # log-maxsize is checked here, once a second, not at each write: every process writes to
        # the file and none knows its size without a stat per line. The master renames it and
        # every process reopens (the SIGUSR1 a logrotate reopen sends), so one rotation suffices.
        settings = self.settings
        path = logfile.log_path(settings)
        if (
            settings.log_maxsize
            and path is not None
            and logfile.oversized(path, settings.log_maxsize)
        ):
            self.commands.reopen_log(
                f"log-maxsize {settings.log_maxsize}", rotate=True, backup=settings.log_backupname
            )

    def _inspect(self, proc: WorkerProcess, now: float) -> None:
        scoreboard = self.pool.scoreboard
        if proc.row is None or proc.ended_for is not None:
            return
        rss, vsz = read_memory(proc.pid)
        scoreboard.set_memory(proc.row, rss, vsz)
        if self.lifecycle.phase is Phase.STOPPING and proc.retiring:
            return  # the stop's own deadline covers it
        verdict = judge(
            self.settings, scoreboard.read(proc.row), now - proc.spawned_at, time.monotonic_ns()
        )
        if verdict is not None and not (proc.retiring and verdict.action == "recycle"):
            self.commands.carry_out(proc, verdict)

    def _touched(self) -> None:
        for path in _touched_files(self.reload_files):
            self.commands.reload(f"touch-reload {path}", brutal=False)
            return
        for path in _touched_files(self.chain_files):
            self.chain.start(f"touch-chain-reload {path}")
            return

    def _cheaper(self) -> None:
        # Not during a chain or a reload of every worker: their replacements are not ready yet,
        # and counting them as missing would start workers that are not needed.
        if self.spare is None or self.chain.active or self.lifecycle.phase is Phase.RELOADING:
            return
        pool = self.pool
        running = [slot for slot in pool.slots.values() if _serving(slot)]
        idle = [slot for slot in running if not pool.slot_busy(slot)]
        change = self.spare.decide(len(running), len(idle))
        if change > 0:
            for _ in range(change):
                self.commands.add_worker(f"cheaper: no idle worker for {self.spare.patience}s")
        elif change < 0 and idle:
            write_line(
                f"usher: cheaper: {len(idle)} idle workers for {self.spare.patience}s; "
                f"stopping worker {idle[-1].worker_id}"
            )
            self.commands.make_cheap(idle[-1])
            systemd.status(pool.status_text())


def _watch(paths: Sequence[str]) -> TouchWatch | None:
    if not paths:
        return None
    from usher.supervise.touch import TouchWatch

    return TouchWatch(paths)


def _touched_files(watch: TouchWatch | None) -> list[str]:
    return watch.touched() if watch is not None else []


def _serving(slot: WorkerSlot) -> bool:
    return slot.current is not None and slot.current.ready and not slot.cheap


def _sample_average(slot: WorkerSlot, scoreboard: Scoreboard) -> None:
    """avg_rt over the last second's requests (unchanged when there were none): recent enough to
    show a slowdown as it happens, as uwsgitop's AVG column is read."""
    proc = slot.current
    if proc is None or proc.row is None:
        return
    row = scoreboard.read(proc.row)
    pid, timed, running = slot.last_sample
    if pid != proc.pid:
        timed, running = 0, 0  # a new process took the slot: its counters start from zero
    if row.timed > timed:
        slot.avg_rt_us = (row.running_ns - running) // (row.timed - timed) // 1000
    slot.last_sample = (proc.pid, row.timed, row.running_ns)
