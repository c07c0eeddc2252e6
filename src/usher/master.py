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
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

from usher import systemd
from usher.appload import WsgiApp
from usher.logs import write_line
from usher.options import Settings
from usher.sockets import INHERIT_ENV, Listener, close_all
from usher.worker import EXIT_APP_LOAD_FAILED, READY_RECORD, run_worker

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD)

# Signals held across fork(): the worker unblocks them once its own handling is in place.
FORK_BLOCKED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}

# A worker that dies sooner than this after its start counts as a boot failure.
BOOT_WINDOW = 5.0
# Respawn delays for successive boot failures: doubling, capped so that recovery is still prompt.
MAX_RESPAWN_DELAY = 30.0


@dataclass(slots=True)
class WorkerSlot:
    """A worker position (1..processes) and the process currently filling it."""

    worker_id: int
    pid: int = 0
    spawned_at: float = 0.0
    ready: bool = False
    boot_failures: int = 0
    respawn_at: float | None = None
    retiring: set[int] = field(default_factory=set)


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
        self.pids: dict[int, WorkerSlot] = {}
        self.ever_ready = False
        self.exit_status: int | None = None
        self.stop_deadline: float | None = None
        self.reexec_pending = False
        self.signal_r, self.signal_w = os.pipe()
        self.ready_r, self.ready_w = os.pipe()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        for slot in self.slots.values():
            self.spawn(slot)
        while not (self.exit_status is not None and not self.pids):
            readable, _, _ = select.select([self.signal_r, self.ready_r], [], [], self._timeout())
            if self.signal_r in readable:
                for signum in os.read(self.signal_r, 64):
                    self.dispatch(signum)
            if self.ready_r in readable:
                self._read_ready()
            self.reap()
            self._respawn_due()
            self._enforce_deadline()
            if self.reexec_pending and not self.pids:
                self.reexec()
        return self.exit_status or 0

    def _install_signals(self) -> None:
        os.set_blocking(self.signal_w, False)
        os.set_blocking(self.signal_r, False)
        signal.set_wakeup_fd(self.signal_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, _enqueue_only)

    def _timeout(self) -> float:
        now = time.monotonic()
        moments = [s.respawn_at for s in self.slots.values() if s.respawn_at is not None]
        if self.stop_deadline is not None:
            moments.append(self.stop_deadline)
        return max(0.0, min([now + 1.0, *moments]) - now)

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
        if self.exit_status is not None or self.reexec_pending:
            return
        write_line("usher: SIGHUP: reloading workers gracefully")
        systemd.notify("RELOADING=1")
        if not self.settings.lazy_apps:
            self.reexec_pending = True
            self._signal_workers(signal.SIGTERM)
            self.stop_deadline = time.monotonic() + self.settings.worker_reload_mercy
            return
        for slot in self.slots.values():
            if slot.pid:
                self._retire(slot)
                self.spawn(slot)
        self.ever_ready = False

    # -- workers -------------------------------------------------------------------------------

    def spawn(self, slot: WorkerSlot) -> None:
        slot.respawn_at = None
        sys.stdout.flush()
        sys.stderr.flush()
        # A stop or reload signal that reached the child between fork and its own signal setup
        # would run the master's handler there and be lost: hold them until each side is ready.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORK_BLOCKED_SIGNALS)
        pid = os.fork()
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if pid == 0:
            try:
                os.close(self.signal_r)
                os.close(self.signal_w)
                os.close(self.ready_r)
                run_worker(self.settings, self.app, self.listeners, slot.worker_id, self.ready_w)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(1)
        slot.pid = pid
        slot.spawned_at = time.monotonic()
        slot.ready = False
        self.pids[pid] = slot

    def _retire(self, slot: WorkerSlot) -> None:
        """Ask the slot's current worker to finish its requests and leave; the slot is free again."""
        slot.retiring.add(slot.pid)
        _kill(slot.pid, signal.SIGTERM)
        slot.pid = 0

    def _read_ready(self) -> None:
        data = os.read(self.ready_r, READY_RECORD.size * 64)
        for offset in range(0, len(data) - READY_RECORD.size + 1, READY_RECORD.size):
            worker_id, pid = READY_RECORD.unpack_from(data, offset)
            slot = self.slots.get(worker_id)
            if slot is not None and slot.pid == pid:
                slot.ready = True
        if not self.ever_ready and all(s.ready for s in self.slots.values()):
            self.ever_ready = True
            count = len(self.slots)
            write_line(
                f"usher: ready, {count} worker{'s' * (count > 1)} serving (master pid {os.getpid()})"
            )
            systemd.notify(f"READY=1\nSTATUS=serving with {count} workers\nMAINPID={os.getpid()}")

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.pids.pop(pid, None)
            if slot is not None:
                self._worker_exited(slot, pid, status)

    def _worker_exited(self, slot: WorkerSlot, pid: int, status: int) -> None:
        if pid in slot.retiring:
            slot.retiring.discard(pid)
            return
        slot.pid = 0
        if self.exit_status is not None or self.reexec_pending:
            return
        how = _describe_status(status)
        if (
            os.WIFEXITED(status)
            and os.WEXITSTATUS(status) == EXIT_APP_LOAD_FAILED
            and not self.ever_ready
        ):
            write_line(
                f"usher: worker {slot.worker_id} could not load the app; stopping (fix the app and start again)"
            )
            self.stop(graceful=False, why="app load failure", status=1)
            return
        lived = time.monotonic() - slot.spawned_at
        slot.boot_failures = slot.boot_failures + 1 if lived < BOOT_WINDOW else 0
        delay = (
            min(MAX_RESPAWN_DELAY, 0.5 * 2 ** (slot.boot_failures - 1))
            if slot.boot_failures
            else 0.0
        )
        write_line(
            f"usher: worker {slot.worker_id} (pid {pid}) {how} after {lived:.1f}s; "
            f"respawning{f' in {delay:.1f}s' if delay else ''}"
        )
        slot.respawn_at = time.monotonic() + delay

    def _respawn_due(self) -> None:
        if self.exit_status is not None or self.reexec_pending:
            return
        now = time.monotonic()
        for slot in self.slots.values():
            if slot.respawn_at is not None and slot.respawn_at <= now and not slot.pid:
                self.spawn(slot)

    # -- stopping and reloading ----------------------------------------------------------------

    def stop(self, *, graceful: bool, why: str, status: int = 0) -> None:
        if self.exit_status is not None and graceful:
            return
        self.exit_status = status
        self.reexec_pending = False
        systemd.notify("STOPPING=1")
        if graceful:
            mercy = self.settings.worker_reload_mercy
            write_line(f"usher: {why}: stopping gracefully (in-flight requests get {mercy}s)")
            self._signal_workers(signal.SIGTERM)
            self.stop_deadline = time.monotonic() + mercy
        else:
            write_line(f"usher: {why}: stopping now")
            self._signal_workers(signal.SIGKILL)

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self.pids):
            _kill(pid, signum)

    def _enforce_deadline(self) -> None:
        if self.stop_deadline is not None and time.monotonic() >= self.stop_deadline and self.pids:
            write_line(f"usher: worker-reload-mercy expired; killing {len(self.pids)} worker(s)")
            self._signal_workers(signal.SIGKILL)
            self.stop_deadline = None

    def reexec(self) -> None:
        """Replace this process with a fresh master on the same sockets (non-lazy reload)."""
        for listener in self.listeners:
            listener.sock.set_inheritable(True)
        os.environ[INHERIT_ENV] = ",".join(str(item.sock.fileno()) for item in self.listeners)
        signal.set_wakeup_fd(-1)
        os.chdir(self.cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "usher", *self.argv])

    def cleanup(self) -> None:
        """Close listeners; with vacuum remove unix sockets and the pidfile."""
        close_all(self.listeners, unlink=self.settings.vacuum)
        if self.settings.vacuum and self.settings.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.cwd, self.settings.pidfile))


def _enqueue_only(signum: int, frame: object) -> None:
    """The real handling happens in the loop; the wakeup descriptor already carries the number."""


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.WEXITSTATUS(status)}"
