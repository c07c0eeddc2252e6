"""The master's workers: the slots (worker ids), the processes filling them, and what the master
does to them: fork, respawn, signal, retire, reap, and kill at a deadline.

The pool is what the master's helpers (chain reloads, commands, upkeep, the stats endpoints) are
given instead of the master: it knows nothing of signals received, reloads or stops, which are
the lifecycle's (usher.master.lifecycle). It is the one module of the master that starts a worker
(usher.worker.process), so a change in how a worker starts stays here.

What a worker may do after the fork: everything the master set up before it (listeners, the
imported app, the scoreboard) is shared; the master's own descriptors are closed in the child by
the `in_child` callback, and the readiness pipe's reading end by the pool, before the worker runs.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable

from usher.adapters.base import App
from usher.logs import write_line
from usher.master.respawn import plan_respawn
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.options import Settings
from usher.scoreboard import Scoreboard
from usher.sockets import Listener
from usher.supervise.kill import kill
from usher.worker.board import cores_for
from usher.worker.process import READY_RECORD, Seat, request_limit, run_worker

# Signals held across fork(): the worker unblocks them once its own handling is in place.
FORK_BLOCKED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}


class WorkerPool:
    """The workers of one server, by slot and by pid."""

    def __init__(
        self,
        settings: Settings,
        app: App | None,
        listeners: list[Listener],
        in_child: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.app = app
        self.listeners = listeners
        self.in_child = in_child
        self.slots = {i: WorkerSlot(i) for i in range(1, settings.processes + 1)}
        self.procs: dict[int, WorkerProcess] = {}
        # Rows for the current workers, their chain-reload successors and retiring predecessors.
        self.scoreboard = Scoreboard(rows=3 * settings.processes, cores=cores_for(settings.threads))
        self.ready_r, self.ready_w = os.pipe()
        # When the workers told to leave by a stop or re-exec are killed (worker-reload-mercy).
        self.drain_deadline: float | None = None
        # Children that are not workers, reaped here too because the master's waitpid takes
        # every child: a reload's check (usher.master.preflight) is adopted with what to call
        # with its status; the rest (attached daemons, cron runs) go to `on_other_child`.
        self.others: dict[int, Callable[[int], None]] = {}
        self.on_other_child: Callable[[int, int], None] | None = None

    # -- which workers -------------------------------------------------------------------------

    def initial_slots(self) -> list[WorkerSlot]:
        """The slots to fill at startup (cheaper-initial of them with cheaper); the rest are
        marked cheap."""
        settings = self.settings
        count = settings.processes
        if settings.cheaper:
            count = min(max(settings.cheaper_initial, settings.cheaper, 1), settings.processes)
        for slot in self.slots.values():
            slot.cheap = slot.worker_id > count
        return [slot for slot in self.slots.values() if not slot.cheap]

    def serving_slots(self) -> list[WorkerSlot]:
        """The slots meant to have a worker (not left empty by cheaper)."""
        return [slot for slot in self.slots.values() if not slot.cheap]

    def all_ready(self) -> bool:
        """Every slot meant to have a worker has one, and it reported ready."""
        return all(slot.current is not None and slot.current.ready for slot in self.serving_slots())

    def slot_busy(self, slot: WorkerSlot) -> bool:
        """The slot's worker is in a request (as its scoreboard row says)."""
        proc = slot.current
        return proc is not None and proc.row is not None and self.scoreboard.read(proc.row).busy

    def status_text(self) -> str:
        """The STATUS= line for systemd."""
        running = sum(1 for slot in self.slots.values() if slot.current is not None)
        return f"serving with {running} worker{'s' * (running != 1)}"

    # -- starting ------------------------------------------------------------------------------

    def spawn(self, slot: WorkerSlot) -> WorkerProcess:
        """Fork the slot's worker."""
        slot.respawn_at = None
        slot.current = self._fork(slot)
        return slot.current

    def spawn_successor(self, slot: WorkerSlot) -> WorkerProcess:
        """Fork a worker that takes the slot over once it is ready (chain reload); if it is not
        ready within worker-reload-mercy it is killed and the chain stops."""
        proc = slot.successor = self._fork(slot)
        proc.kill_at = proc.spawned_at + self.settings.worker_reload_mercy
        return proc

    def _fork(self, slot: WorkerSlot) -> WorkerProcess:
        row = self.scoreboard.allocate()
        sys.stdout.flush()
        sys.stderr.flush()
        # A stop or reload signal that reached the child between fork and its own signal setup
        # would run the master's handler there and be lost: hold them until each side is ready.
        pid = -1
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORK_BLOCKED_SIGNALS)
        try:
            pid = os.fork()
        finally:
            if pid != 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if pid == 0:
            first = slot.spawns == 0  # counted after the fork: 0 in the slot's first child
            self._become_worker(Seat(slot.worker_id, self.ready_w, self.scoreboard, row, first))
        proc = WorkerProcess(pid, slot.worker_id, row, time.monotonic(), time.time())
        if row is not None:
            self.scoreboard.set_head(row, pid=pid, worker_id=slot.worker_id)
        self.procs[pid] = proc
        slot.spawns += 1
        return proc

    def _become_worker(self, seat: Seat) -> None:
        try:
            os.close(self.ready_r)
            self.in_child()
            run_worker(self.settings, self.app, self.listeners, seat)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(1)

    def read_ready(self) -> list[WorkerProcess]:
        """Mark the workers whose readiness records arrived; return them (successors included)."""
        data = os.read(self.ready_r, READY_RECORD.size * 64)
        ready = []
        for offset in range(0, len(data) - READY_RECORD.size + 1, READY_RECORD.size):
            worker_id, pid = READY_RECORD.unpack_from(data, offset)
            proc = self.procs.get(pid)
            if proc is None or proc.worker_id != worker_id:
                continue  # a record from a worker already reaped, or not ours
            proc.ready = True
            ready.append(proc)
        return ready

    def schedule_respawn(self, slot: WorkerSlot, proc: WorkerProcess, status: int) -> None:
        """The slot's worker `proc` exited with `status`: plan when its successor starts."""
        limit = request_limit(self.settings, slot.worker_id)
        slot.respawn_at = time.monotonic() + plan_respawn(slot, proc, status, limit)

    def respawn_due(self, now: float) -> None:
        """Fork the workers whose respawn time has come (a slot made cheap meanwhile stays empty)."""
        for slot in self.slots.values():
            if slot.respawn_at is not None and slot.respawn_at <= now and slot.current is None:
                if slot.cheap:
                    slot.respawn_at = None
                else:
                    self.spawn(slot)

    # -- ending --------------------------------------------------------------------------------

    def retire(self, proc: WorkerProcess, *, brutal: bool = False) -> None:
        """Ask a worker to finish its requests and leave (killed after worker-reload-mercy), or
        kill it now (brutal); it no longer fills its slot."""
        slot = self.slots[proc.worker_id]
        if slot.current is proc:
            slot.current = None
        if slot.successor is proc:
            slot.successor = None
        proc.retiring = True
        if brutal:
            kill(proc.pid, signal.SIGKILL)
            return
        proc.kill_at = time.monotonic() + self.settings.worker_reload_mercy
        kill(proc.pid, signal.SIGTERM)

    def end(self, proc: WorkerProcess, signum: int, why: str, grace: float | None = None) -> None:
        """Send `signum` to end a worker for `why` (its exit then needs no other explanation);
        with `grace`, SIGKILL follows if it is still running that many seconds later."""
        proc.ended_for = why
        if grace is not None:
            proc.kill_at = time.monotonic() + grace
        kill(proc.pid, signum)

    def signal_all(self, signum: int) -> None:
        """Send `signum` to every worker process (current, successors and retiring)."""
        for pid in list(self.procs):
            kill(pid, signum)

    def drain(self, signum: int) -> None:
        """Tell every worker to leave with `signum`; those still running after
        worker-reload-mercy are killed."""
        self.signal_all(signum)
        self.drain_deadline = time.monotonic() + self.settings.worker_reload_mercy

    def reap(self) -> list[tuple[WorkerProcess, int]]:
        """Collect the workers that exited, with their wait statuses; their counters move into
        their slot's totals and their scoreboard rows are freed."""
        exited = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            proc = self.procs.pop(pid, None)
            if proc is not None:
                self._release(proc)
                exited.append((proc, status))
            elif pid in self.others:
                self.others.pop(pid)(status)
            elif self.on_other_child is not None:
                self.on_other_child(pid, status)
        return exited

    def adopt(self, pid: int, on_exit: Callable[[int], None]) -> None:
        """Reap the child `pid` (not a worker) with the workers, and call `on_exit(status)`."""
        self.others[pid] = on_exit

    def _release(self, proc: WorkerProcess) -> None:
        if proc.row is not None:
            self.slots[proc.worker_id].totals.add(self.scoreboard.read(proc.row))
            self.scoreboard.release(proc.row)

    def next_deadline(self) -> float | None:
        """The next moment something is due: a respawn, a kill, the end of a drain."""
        moments = [s.respawn_at for s in self.slots.values() if s.respawn_at is not None]
        moments.extend(p.kill_at for p in self.procs.values() if p.kill_at is not None)
        if self.drain_deadline is not None:
            moments.append(self.drain_deadline)
        return min(moments, default=None)

    def enforce_deadlines(self, now: float) -> None:
        """SIGKILL the workers past their deadline, and every worker once a drain expires."""
        for proc in list(self.procs.values()):
            if proc.kill_at is not None and now >= proc.kill_at:
                self._kill_late(proc)
        if self.drain_deadline is not None and now >= self.drain_deadline and self.procs:
            write_line(f"usher: worker-reload-mercy expired; killing {len(self.procs)} worker(s)")
            self.signal_all(signal.SIGKILL)
            self.drain_deadline = None

    def _kill_late(self, proc: WorkerProcess) -> None:
        proc.kill_at = None
        if proc is self.slots[proc.worker_id].successor:
            proc.ended_for = "was not ready within worker-reload-mercy"
        late = "after its harakiri" if proc.ended_for == "harakiri" else "past its deadline"
        write_line(
            f"usher: worker {proc.worker_id} (pid {proc.pid}) is still running {late}; "
            "killing it (SIGKILL)"
        )
        kill(proc.pid, signal.SIGKILL)
