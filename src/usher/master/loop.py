"""The master: forks the workers, then only supervises them.

Signals are never handled inside a handler: Python's wakeup descriptor queues the signal numbers
into a pipe, and the supervision loop reads them and calls one `handle_<SIGNAL>` method each.

- SIGTERM, SIGINT: graceful stop. Workers stop accepting, finish in-flight requests within
  `worker-reload-mercy` seconds, and are killed after that.
- SIGQUIT: immediate stop.
- SIGHUP: graceful reload. With `lazy-apps` each worker is replaced and imports the code anew; without
  it the master waits for its workers to finish, then re-executes itself with the same arguments,
  keeping the listening sockets open, so the new code is imported once and shared again.
- A worker that dies is respawned; one that dies young makes the next respawn wait longer, so a
  broken app cannot fork-bomb the host. A worker that cannot import the app before the server was
  ever ready stops the server: restarting would not fix it.

Around that loop: the scoreboard the workers write (`usher.scoreboard`), the once-a-second duties
(`usher.master.upkeep`: harakiri, memory limits, cheaper, touched files), chain reloads (`usher.master.chain`),
the stats endpoints (`usher.master.endpoints`) and the master FIFO (`usher.supervise.fifo`, `usher.master.commands`). Every
descriptor the master waits on goes through one `Reactor`, and nothing in the loop blocks.

What a worker may do after the fork: everything the master set up before it (listeners, the
imported app, the scoreboard) is shared; the master's own descriptors (signal pipe, reactor,
stats sockets, FIFO) are closed in the child before the worker starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING

from usher.adapters.load import WsgiApp
from usher.exits import EXIT_APP_LOAD_FAILED
from usher.logs import write_line
from usher.master.chain import ChainReload
from usher.master.commands import Controls
from usher.master.endpoints import Monitor
from usher.master.respawn import describe_status, kill, plan_respawn
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.master.upkeep import Upkeep
from usher.options import Settings
from usher.scoreboard import Scoreboard
from usher.sockets import INHERIT_ENV, Listener, ListenerError, close_all
from usher.supervise import systemd
from usher.supervise.reactor import Reactor
from usher.worker.board import cores_for
from usher.worker.process import (
    READY_RECORD,
    Seat,
    request_limit,
    run_worker,
)

if TYPE_CHECKING:
    from usher.supervise.fifo import MasterFifo

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD)

# The master's duties run once a second: harakiri is counted in whole seconds, as in uWSGI.
TICK = 1.0


# Signals held across fork(): the worker unblocks them once its own handling is in place.
FORK_BLOCKED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}


class Master:
    """Supervises the workers of one server."""

    def __init__(
        self,
        settings: Settings,
        listeners: list[Listener],
        app: WsgiApp | None,
        argv: list[str],
        cwd: str,
    ) -> None:
        self.settings = settings
        self.listeners = listeners
        self.app = app
        self.argv = argv
        self.cwd = cwd
        self.slots = {i: WorkerSlot(i) for i in range(1, settings.processes + 1)}
        self.procs: dict[int, WorkerProcess] = {}
        # Rows for the current workers, their chain-reload successors and retiring predecessors.
        self.scoreboard = Scoreboard(rows=3 * settings.processes, cores=cores_for(settings.threads))
        self.reactor = Reactor()
        self.chain = ChainReload(self)
        self.controls = Controls(self)
        self.monitor = Monitor(self, self.reactor)
        self.upkeep = Upkeep(self)
        self.fifo: MasterFifo | None = None
        if settings.master_fifo:
            # Imported only when set, as every feature the master alone uses: what the master
            # imports before forking stays resident in every worker.
            from usher.supervise.fifo import MasterFifo

            self.fifo = MasterFifo(settings.master_fifo, self.reactor, self.controls.obey)
        self.ever_ready = False
        self.awaiting_ready = False  # a reload is waiting for its new workers
        self.exit_status: int | None = None
        self.stop_deadline: float | None = None
        self.reexec_pending = False
        self.signal_r, self.signal_w = os.pipe()
        self.ready_r, self.ready_w = os.pipe()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        if not self._open_services():
            return 1
        for slot in self._initial_slots():
            self.spawn(slot)
        next_tick = time.monotonic() + TICK
        while not (self.exit_status is not None and not self.procs):
            self.reactor.wait(self._timeout(next_tick))
            self.reap()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK
                self.upkeep.tick(now)
            self._respawn_due(now)
            self._enforce_deadlines(now)
            if self.reexec_pending and not self.procs:
                self.reexec()
        return self.exit_status or 0

    def _install_signals(self) -> None:
        os.set_blocking(self.signal_w, False)
        os.set_blocking(self.signal_r, False)
        signal.set_wakeup_fd(self.signal_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, _enqueue_only)
        self.reactor.on_readable(self.signal_r, self._read_signals)
        self.reactor.on_readable(self.ready_r, self._read_ready)

    def _open_services(self) -> bool:
        try:
            self.monitor.open()
        except ListenerError as exc:
            write_line(f"usher: {exc}")
            return False
        if self.fifo is not None:
            from usher.supervise.fifo import FifoError

            try:
                self.fifo.open()
            except FifoError as exc:
                write_line(f"usher: {exc}")
                return False
        if self.monitor.endpoints:
            write_line(f"usher: stats on {self.monitor.describe()}")
        return True

    def _initial_slots(self) -> list[WorkerSlot]:
        settings = self.settings
        count = settings.processes
        if settings.cheaper:
            count = min(max(settings.cheaper_initial, settings.cheaper, 1), settings.processes)
        for slot in self.slots.values():
            slot.cheap = slot.worker_id > count
        return [slot for slot in self.slots.values() if not slot.cheap]

    def _timeout(self, next_tick: float) -> float:
        moments = [next_tick]
        moments.extend(s.respawn_at for s in self.slots.values() if s.respawn_at is not None)
        moments.extend(p.kill_at for p in self.procs.values() if p.kill_at is not None)
        if self.stop_deadline is not None:
            moments.append(self.stop_deadline)
        return max(0.0, min(moments) - time.monotonic())

    def _read_signals(self) -> None:
        try:
            data = os.read(self.signal_r, 64)
        except BlockingIOError:
            return
        for signum in data:
            self.dispatch(signum)

    def dispatch(self, signum: int) -> None:
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else ""
        handler = getattr(self, f"handle_{name}", None)
        if handler is not None:
            handler()

    # -- signals -------------------------------------------------------------------------------

    def handle_SIGTERM(self) -> None:
        self.stop(graceful=True, why="SIGTERM")

    def handle_SIGINT(self) -> None:
        self.stop(graceful=True, why="SIGINT")

    def handle_SIGQUIT(self) -> None:
        self.stop(graceful=False, why="SIGQUIT")

    def handle_SIGCHLD(self) -> None:
        pass  # reaping happens on every pass of the loop

    def handle_SIGHUP(self) -> None:
        self.controls.reload("SIGHUP", brutal=False)

    # -- workers -------------------------------------------------------------------------------

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
            self._become_worker(Seat(slot.worker_id, self.ready_w, self.scoreboard, row))
        proc = WorkerProcess(pid, slot.worker_id, row, time.monotonic(), time.time())
        if row is not None:
            self.scoreboard.set_head(row, pid=pid, worker_id=slot.worker_id)
        self.procs[pid] = proc
        slot.spawns += 1
        return proc

    def _become_worker(self, seat: Seat) -> None:
        try:
            for fd in (self.signal_r, self.signal_w, self.ready_r):
                os.close(fd)
            self.reactor.close()
            self.monitor.drop_in_child()
            if self.fifo is not None:
                self.fifo.drop_in_child()
            run_worker(self.settings, self.app, self.listeners, seat)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(1)

    def retire(self, proc: WorkerProcess, *, brutal: bool = False) -> None:
        """Ask a worker to finish its requests and leave (killed after worker-reload-mercy)."""
        slot = self.slots[proc.worker_id]
        if slot.current is proc:
            slot.current = None
        proc.retiring = True
        if brutal:
            kill(proc.pid, signal.SIGKILL)
            return
        proc.kill_at = time.monotonic() + self.settings.worker_reload_mercy
        kill(proc.pid, signal.SIGTERM)

    def slot_busy(self, slot: WorkerSlot) -> bool:
        proc = slot.current
        return proc is not None and proc.row is not None and self.scoreboard.read(proc.row).busy

    def _read_ready(self) -> None:
        data = os.read(self.ready_r, READY_RECORD.size * 64)
        for offset in range(0, len(data) - READY_RECORD.size + 1, READY_RECORD.size):
            worker_id, pid = READY_RECORD.unpack_from(data, offset)
            proc = self.procs.get(pid)
            if proc is None or proc.worker_id != worker_id:
                continue
            proc.ready = True
            slot = self.slots[worker_id]
            if proc is slot.successor:
                proc.kill_at = None
                self.chain.successor_ready(slot)
        self._check_all_ready()

    def _check_all_ready(self) -> None:
        if self.ever_ready and not self.awaiting_ready:
            return
        serving = [slot for slot in self.slots.values() if not slot.cheap]
        if not all(slot.current is not None and slot.current.ready for slot in serving):
            return
        if not self.ever_ready:
            count = len(serving)
            write_line(
                f"usher: ready, {count} worker{'s' * (count > 1)} serving "
                f"(master pid {os.getpid()})"
            )
        else:
            write_line("usher: reload complete, every worker serving")
        self.ever_ready = True
        self.awaiting_ready = False
        systemd.ready(self.status_text())

    def status_text(self) -> str:
        """The STATUS= line for systemd."""
        running = sum(1 for slot in self.slots.values() if slot.current is not None)
        return f"serving with {running} worker{'s' * (running != 1)}"

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.procs.pop(pid, None)
            if proc is not None:
                self._worker_exited(proc, status)

    def _worker_exited(self, proc: WorkerProcess, status: int) -> None:
        slot = self.slots[proc.worker_id]
        if proc.row is not None:
            slot.totals.add(self.scoreboard.read(proc.row))
            self.scoreboard.release(proc.row)
        if proc is slot.successor:
            slot.successor = None
            self.chain.successor_failed(slot, proc.ended_for or describe_status(status))
            return
        if proc is not slot.current:
            return  # a retiring worker left; why was logged when it was asked to
        slot.current = None
        if self.exit_status is not None or self.reexec_pending:
            return
        if self._app_cannot_load(slot, status):
            return
        limit = request_limit(self.settings, slot.worker_id)
        slot.respawn_at = time.monotonic() + plan_respawn(slot, proc, status, limit)

    def _app_cannot_load(self, slot: WorkerSlot, status: int) -> bool:
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_APP_LOAD_FAILED):
            return False
        if self.ever_ready:
            return False
        write_line(
            f"usher: worker {slot.worker_id} could not load the app; stopping (fix the app and start again)"
        )
        self.stop(graceful=False, why="app load failure", status=1)
        return True

    def _respawn_due(self, now: float) -> None:
        if self.exit_status is not None or self.reexec_pending:
            return
        for slot in self.slots.values():
            if slot.respawn_at is not None and slot.respawn_at <= now and slot.current is None:
                if slot.cheap:
                    slot.respawn_at = None
                else:
                    self.spawn(slot)

    def _enforce_deadlines(self, now: float) -> None:
        for proc in list(self.procs.values()):
            if proc.kill_at is not None and now >= proc.kill_at:
                proc.kill_at = None
                if proc is self.slots[proc.worker_id].successor:
                    proc.ended_for = "was not ready within worker-reload-mercy"
                write_line(
                    f"usher: worker {proc.worker_id} (pid {proc.pid}) is still running "
                    f"{'after its harakiri' if proc.ended_for == 'harakiri' else 'past its deadline'}; "
                    "killing it (SIGKILL)"
                )
                kill(proc.pid, signal.SIGKILL)
        if self.stop_deadline is not None and now >= self.stop_deadline and self.procs:
            write_line(f"usher: worker-reload-mercy expired; killing {len(self.procs)} worker(s)")
            self.signal_workers(signal.SIGKILL)
            self.stop_deadline = None

    # -- stopping and reloading ----------------------------------------------------------------

    def stop(self, *, graceful: bool, why: str, status: int = 0) -> None:
        if self.exit_status is not None and graceful:
            return
        self.exit_status = status
        self.reexec_pending = False
        self.chain.abort()
        systemd.stopping("stopping")
        if graceful:
            mercy = self.settings.worker_reload_mercy
            write_line(f"usher: {why}: stopping gracefully (in-flight requests get {mercy}s)")
            self.signal_workers(signal.SIGTERM)
            self.stop_deadline = time.monotonic() + mercy
        else:
            write_line(f"usher: {why}: stopping now")
            self.signal_workers(signal.SIGKILL)

    def signal_workers(self, signum: int) -> None:
        for pid in list(self.procs):
            kill(pid, signum)

    def reexec(self) -> None:
        """Replace this process with a fresh master on the same sockets (non-lazy reload)."""
        self.monitor.close(unlink=False)
        if self.fifo is not None:
            self.fifo.close(unlink=False)
        for listener in self.listeners:
            listener.sock.set_inheritable(True)
        os.environ[INHERIT_ENV] = ",".join(str(item.sock.fileno()) for item in self.listeners)
        signal.set_wakeup_fd(-1)
        os.chdir(self.cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "usher", *self.argv])

    def cleanup(self) -> None:
        """Close listeners and stats sockets; with vacuum remove unix sockets and the pidfile."""
        self.monitor.close(unlink=True)
        if self.fifo is not None:
            self.fifo.close(unlink=True)
        close_all(self.listeners, unlink=self.settings.vacuum)
        if self.settings.vacuum and self.settings.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.cwd, self.settings.pidfile))


def _enqueue_only(signum: int, frame: object) -> None:
    """The real handling happens in the loop; the wakeup descriptor already carries the number."""
