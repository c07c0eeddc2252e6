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

The master is built from parts that never see it, so none of them imports this module:

- `WorkerPool` (usher.master.pool): the slots, the worker processes, forking, signalling,
  reaping, deadlines, and the scoreboard the workers write;
- `Lifecycle` (usher.master.lifecycle): one `Phase` (starting, serving, reloading, re-executing,
  stopping), changed only through its transitions;
- the helpers, each given the pool and the lifecycle (and one another where needed): chain reloads
  (usher.master.chain), the commands that signals, the FIFO and the limits end in
  (usher.master.commands), the once-a-second duties (usher.master.upkeep: harakiri, memory limits,
  cheaper, touched files) and the stats endpoints (usher.master.endpoints).

This module wires them, owns the signal pipe and the readiness callbacks, and re-executes the
master. Every descriptor the master waits on goes through one `Reactor`, and nothing in the loop
blocks.

What a worker may do after the fork: everything the master set up before it (listeners, the
imported app, the scoreboard) is shared; the master's own descriptors (signal pipe, readiness
pipe, reactor, stats sockets, FIFO) are closed in the child before the worker starts.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from usher.adapters.base import App
from usher.exits import EXIT_APP_LOAD_FAILED
from usher.logs import write_line
from usher.master.chain import ChainReload
from usher.master.commands import Commands
from usher.master.endpoints import StatsEndpoints
from usher.master.lifecycle import Lifecycle, Phase
from usher.master.pool import WorkerPool
from usher.master.preflight import Preflight
from usher.master.respawn import describe_status
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.master.upkeep import Upkeep
from usher.options import Settings
from usher.sockets import INHERIT_ENV, Listener, ListenerError, close_all, vacuum
from usher.supervise import systemd
from usher.supervise.reactor import Reactor

if TYPE_CHECKING:
    from usher.master.sidecars import Sidecars
    from usher.master.subscriptions import Subscriber
    from usher.supervise.fifo import MasterFifo

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD)

# The master's duties run once a second: harakiri is counted in whole seconds, as in uWSGI.
TICK = 1.0


class Master:
    """Supervises the workers of one server."""

    def __init__(
        self,
        settings: Settings,
        listeners: list[Listener],
        app: App | None,
        argv: list[str],
        cwd: str,
    ) -> None:
        self.settings = settings
        self.listeners = listeners
        self.argv = argv
        self.cwd = cwd
        self.lifecycle = Lifecycle()
        self.pool = WorkerPool(settings, app, listeners, in_child=self._drop_in_child)
        self.reactor = Reactor()
        self.chain = ChainReload(settings, self.pool, self.lifecycle)
        self.preflight = Preflight(argv, cwd, self.pool.adopt)
        self.endpoints = StatsEndpoints(
            settings,
            self.pool,
            listeners,
            app_dir(settings, cwd),
            self.reactor,
            self.preflight.record,
        )
        self.commands = Commands(
            settings, self.pool, self.lifecycle, self.chain, self.endpoints.figures, self.preflight
        )
        self.upkeep = Upkeep(settings, self.pool, self.lifecycle, self.commands, self.chain)
        self.fifo: MasterFifo | None = None
        if settings.master_fifo:
            # Imported only when set, as every feature the master alone uses: what the master
            # imports before forking stays resident in every worker.
            from usher.supervise.fifo import MasterFifo

            self.fifo = MasterFifo(settings.master_fifo, self.reactor, self.commands.obey)
        self.signal_r, self.signal_w = os.pipe()
        self.sidecars: Sidecars | None = None
        if _wants_sidecars(settings):  # daemons and cron: imported only when set, as the FIFO
            from usher.master.sidecars import Sidecars

            self.sidecars = Sidecars(settings, self._stop_for, time.time)
            self.pool.on_other_child = self.sidecars.child_exited
        self.subscriber: Subscriber | None = None
        if settings.subscribe_to or settings.subscribe2:  # imported only when set, as the FIFO
            from usher.master.subscriptions import Subscriber

            self.subscriber = Subscriber(settings, listeners)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Fork the workers and supervise them until the server stops; the exit status."""
        self._install_signals()
        if not self._open_services():
            return 1
        for slot in self.pool.initial_slots():
            self.pool.spawn(slot)
        next_tick = time.monotonic() + TICK
        while not (self.lifecycle.phase is Phase.STOPPING and self._all_gone()):
            self.reactor.wait(self._timeout(next_tick))
            self._reap()
            now = time.monotonic()
            if self.sidecars is not None:
                self.sidecars.tick(self.lifecycle.phase, now)
            if self.subscriber is not None:
                self.subscriber.tick(self.lifecycle.phase, now)
            if now >= next_tick:
                next_tick = now + TICK
                self.upkeep.tick(now)
                self.preflight.expire(now)
                self.endpoints.tick(now)
            if not self.lifecycle.winding_down:
                self.pool.respawn_due(now)
            self.pool.enforce_deadlines(now)
            if self.lifecycle.phase is Phase.REEXECUTING and self._all_gone():
                self.reexec()
        return self.lifecycle.exit_status

    def _all_gone(self) -> bool:
        """No worker left, and no daemon the master waits for (usher.master.sidecars)."""
        return not self.pool.procs and (self.sidecars is None or self.sidecars.idle())

    def _stop_for(self, why: str) -> None:
        self.commands.stop(graceful=True, why=why)

    def _install_signals(self) -> None:
        os.set_blocking(self.signal_w, False)
        os.set_blocking(self.signal_r, False)
        signal.set_wakeup_fd(self.signal_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, _enqueue_only)
        self.reactor.on_readable(self.signal_r, self._read_signals)
        self.reactor.on_readable(self.pool.ready_r, self._read_ready)

    def _open_services(self) -> bool:
        try:
            self.endpoints.open()
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
        if self.endpoints.endpoints:
            write_line(f"usher: stats on {self.endpoints.describe()}")
        return True

    def _timeout(self, next_tick: float) -> float:
        due = self.pool.next_deadline()
        moment = next_tick if due is None else min(next_tick, due)
        return max(0.0, moment - time.monotonic())

    def _read_signals(self) -> None:
        try:
            data = os.read(self.signal_r, 64)
        except BlockingIOError:
            return
        for signum in data:
            self.dispatch(signum)

    def dispatch(self, signum: int) -> None:
        """Call the signal's `handle_<NAME>` method, if there is one."""
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else ""
        handler = getattr(self, f"handle_{name}", None)
        if handler is not None:
            handler()

    # -- signals -------------------------------------------------------------------------------

    def handle_SIGTERM(self) -> None:
        self.commands.stop(graceful=True, why="SIGTERM")

    def handle_SIGINT(self) -> None:
        self.commands.stop(graceful=True, why="SIGINT")

    def handle_SIGQUIT(self) -> None:
        self.commands.stop(graceful=False, why="SIGQUIT")

    def handle_SIGCHLD(self) -> None:
        pass  # reaping happens on every pass of the loop

    def handle_SIGHUP(self) -> None:
        self.commands.reload("SIGHUP", brutal=False)

    # -- readiness and exits -------------------------------------------------------------------

    def _read_ready(self) -> None:
        for proc in self.pool.read_ready():
            slot = self.pool.slots[proc.worker_id]
            if proc is slot.successor:
                proc.kill_at = None
                self.chain.successor_ready(slot)
        self._check_all_ready()

    def _check_all_ready(self) -> None:
        if not (self.lifecycle.awaiting_ready and self.pool.all_ready()):
            return
        if self.lifecycle.workers_ready() is Phase.STARTING:
            count = len(self.pool.serving_slots())
            write_line(
                f"usher: ready, {count} worker{'s' * (count > 1)} serving "
                f"(master pid {os.getpid()})"
            )
        else:
            write_line("usher: reload complete, every worker serving")
        systemd.ready(self.pool.status_text())

    def _reap(self) -> None:
        for proc, status in self.pool.reap():
            self._worker_exited(proc, status)

    def _worker_exited(self, proc: WorkerProcess, status: int) -> None:
        slot = self.pool.slots[proc.worker_id]
        if proc is slot.successor:
            slot.successor = None
            self.chain.successor_failed(slot, proc.ended_for or describe_status(status))
            return
        if proc is not slot.current:
            return  # a retiring worker left; why was logged when it was asked to
        slot.current = None
        if self.lifecycle.winding_down:
            return  # the workers leave for good: none is replaced
        if self._app_cannot_load(slot, status):
            return
        self.pool.schedule_respawn(slot, proc, status)

    def _app_cannot_load(self, slot: WorkerSlot, status: int) -> bool:
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_APP_LOAD_FAILED):
            return False
        if self.lifecycle.phase is not Phase.STARTING:
            return False  # it loaded before: respawning may well work again
        write_line(
            f"usher: worker {slot.worker_id} could not load the app; stopping (fix the app and start again)"
        )
        self.commands.stop(graceful=False, why="app load failure", status=1)
        return True

    # -- leaving -------------------------------------------------------------------------------

    def _drop_in_child(self) -> None:
        """In a forked worker, before it runs: close what only the master uses."""
        for fd in (self.signal_r, self.signal_w):
            os.close(fd)
        self.reactor.close()
        self.endpoints.drop_in_child()
        if self.fifo is not None:
            self.fifo.drop_in_child()

    def reexec(self) -> None:
        """Replace this process with a fresh master on the same sockets (non-lazy reload)."""
        self.endpoints.close(unlink=False)
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
        self.preflight.abandon()
        if self.subscriber is not None:
            self.subscriber.leave()
        self.endpoints.close(unlink=True)
        if self.fifo is not None:
            self.fifo.close(unlink=True)
        close_all(self.listeners, unlink=self.settings.vacuum)
        if self.settings.vacuum and self.settings.pidfile:
            vacuum(os.path.join(self.cwd, self.settings.pidfile), "pidfile")


def app_dir(settings: Settings, cwd: str) -> str:
    """The app's directory (chdir, from where the server started), as uWSGI's stats `cwd`."""
    return os.path.normpath(os.path.join(cwd, settings.chdir)) if settings.chdir else cwd


def _wants_sidecars(settings: Settings) -> bool:
    return bool(
        settings.attach_daemon
        or settings.attach_daemon2
        or settings.smart_attach_daemon
        or settings.cron
        or settings.unique_cron
    )


def _enqueue_only(signum: int, frame: object) -> None:
    """The real handling happens in the loop; the wakeup descriptor already carries the number."""
