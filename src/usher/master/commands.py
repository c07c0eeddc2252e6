"""What an operator, a signal or a limit can ask of the master: stop, reloads, the worker count,
log files, stats in the log, and carrying out the limits' verdicts.

Each command checks the lifecycle's phase, asks it for the transition (a stop, a re-exec, a reload
of the workers), and only once the transition is accepted acts on the pool: the signal handlers
of the master's loop and the FIFO letters below end up here alike. A reload that would import
the code anew (everything but `c`, and `w`/`W` without lazy-apps) asks for no transition until
usher.master.preflight has proven, in a throwaway child, that the new code imports.

The master FIFO's letters follow uWSGI's:

| letter | action |
| --- | --- |
| `r` | graceful reload (as SIGHUP) |
| `R` | brutal reload: workers are killed, not drained |
| `q` | graceful stop (as SIGTERM) |
| `Q` | immediate stop (as SIGQUIT) |
| `c` | chain reload |
| `w` | graceful reload of the workers only (the master is not re-executed) |
| `W` | brutal reload of the workers only |
| `s` | write the stats of every worker to the log |
| `+` | start one more worker (up to processes) |
| `-` | stop one worker (down to cheaper, at least one) |
| `l` | reopen the log file |
| `L` | rotate the log file: move it to `<name>.<unix time>` and reopen |
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from usher import logfile
from usher.logs import reopen_loggers, write_line
from usher.master.chain import ChainReload
from usher.master.lifecycle import Lifecycle
from usher.master.pool import WorkerPool
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.master.verdicts import Verdict
from usher.options import Settings
from usher.supervise import systemd
from usher.supervise.procfs import kernel_view

if TYPE_CHECKING:
    from usher.master.preflight import Preflight
    from usher.ops.figures import ServerFigures

# After the harakiri signal the stack is in the log at once; this long lets the worker answer its
# clients 504 and leave on its own before SIGKILL.
HARAKIRI_GRACE = 1.0


class Commands:
    """The master's actions on its workers that are not supervision itself."""

    def __init__(
        self,
        settings: Settings,
        pool: WorkerPool,
        lifecycle: Lifecycle,
        chain: ChainReload,
        figures: Callable[[], ServerFigures],
        preflight: Preflight | None = None,
    ) -> None:
        self.settings = settings
        self.preflight = preflight
        self.pool = pool
        self.lifecycle = lifecycle
        self.chain = chain
        self.figures = figures
        self.letters: dict[str, Callable[[], None]] = {
            "r": lambda: self.reload("master FIFO 'r'", brutal=False),
            "R": lambda: self.reload("master FIFO 'R'", brutal=True),
            "q": lambda: self.stop(graceful=True, why="master FIFO 'q'"),
            "Q": lambda: self.stop(graceful=False, why="master FIFO 'Q'"),
            "c": lambda: chain.start("master FIFO 'c'"),
            "w": lambda: self.reload_workers_checked("master FIFO 'w'", brutal=False),
            "W": lambda: self.reload_workers_checked("master FIFO 'W'", brutal=True),
            "s": self.log_stats,
            "+": lambda: self.add_worker("master FIFO '+'"),
            "-": lambda: self.remove_worker("master FIFO '-'"),
            "l": lambda: self.reopen_log("master FIFO 'l'", rotate=False),
            "L": lambda: self.reopen_log("master FIFO 'L'", rotate=True),
        }

    def obey(self, command: str) -> None:
        """Carry out one FIFO command; unknown letters are logged and ignored."""
        action = self.letters.get(command)
        if action is None:
            known = "".join(self.letters)
            write_line(f"usher: master FIFO: unknown command {command!r} (known: {known})")
            return
        action()

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, *, graceful: bool, why: str, status: int = 0) -> None:
        """Stop the server: gracefully (in-flight requests get worker-reload-mercy) or now. A
        second graceful stop changes nothing; a forced one cuts a graceful stop short."""
        if not self.lifecycle.request_stop(status, graceful=graceful):
            return
        self.chain.abort()
        systemd.stopping("stopping")
        if graceful:
            mercy = self.settings.worker_reload_mercy
            write_line(f"usher: {why}: stopping gracefully (in-flight requests get {mercy}s)")
            self.pool.drain(signal.SIGTERM)
        else:
            write_line(f"usher: {why}: stopping now")
            self.pool.signal_all(signal.SIGKILL)

    # -- reloads -------------------------------------------------------------------------------

    def reload(self, why: str, *, brutal: bool) -> None:
        """Reload everything once the new code is proven to import (usher.master.preflight):
        re-exec the master (non-lazy) or replace every worker (lazy)."""
        if self.lifecycle.winding_down:
            return
        self._checked(why, lambda: self._reload_now(why, brutal=brutal))

    def reload_workers_checked(self, why: str, *, brutal: bool) -> None:
        """Replace every worker; with lazy-apps (the workers import the code anew) only once the
        new code is proven to import."""
        if not self.settings.lazy_apps:
            self.reload_workers(why, brutal=brutal)
            return
        self._checked(why, lambda: self.reload_workers(why, brutal=brutal))

    def _checked(self, why: str, action: Callable[[], None]) -> None:
        preflight = self.preflight
        if preflight is None:
            action()
            return
        if preflight.running:
            write_line(f"usher: {why}: ignored: a reload is being checked already")
            return
        write_line(f"usher: {why}: checking that the new code imports before reloading")
        systemd.reloading("checking the new code before reloading")
        preflight.start(lambda failure: self._after_check(why, action, failure))

    def _after_check(self, why: str, action: Callable[[], None], failure: str | None) -> None:
        if self.lifecycle.winding_down:
            return  # a stop came while the check ran
        if failure is None:
            action()
            return
        write_line(failure)
        write_line(
            f"usher: {why}: reload abandoned, the new code does not import; the old workers keep "
            "serving (fix the code and reload again)"
        )
        assert self.preflight is not None  # only a preflight calls back
        error = self.preflight.record.error
        at = time.strftime("%H:%M:%S", time.localtime(self.preflight.record.failed_at))
        systemd.ready(f"{self.pool.status_text()}; last reload FAILED at {at}: {error}")

    def _reload_now(self, why: str, *, brutal: bool) -> None:
        if self.lifecycle.winding_down:
            return
        if self.settings.log_reopen:
            self.reopen_log(why, rotate=False)
        if self.settings.lazy_apps:
            self.reload_workers(why, brutal=brutal)
            return
        self.lifecycle.request_reexec()
        write_line(f"usher: {why}: reloading {'now' if brutal else 'gracefully'}")
        systemd.reloading("reloading")
        self.chain.abort()
        # The master execs itself once every worker is gone; the drain bounds the wait.
        self.pool.drain(signal.SIGKILL if brutal else signal.SIGTERM)

    def reload_workers(self, why: str, *, brutal: bool) -> None:
        """Replace every worker from this master (the master itself stays)."""
        if not self.lifecycle.begin_worker_reload():
            return
        write_line(f"usher: {why}: replacing every worker {'now' if brutal else 'gracefully'}")
        systemd.reloading("reloading workers")
        self.chain.abort()
        pool = self.pool
        for slot in pool.slots.values():
            if slot.successor is not None:
                pool.retire(slot.successor, brutal=True)
            if slot.current is not None:
                pool.retire(slot.current, brutal=brutal)
                pool.spawn(slot)

    # -- worker count --------------------------------------------------------------------------

    def add_worker(self, why: str) -> None:
        """Start the worker of the first slot left empty by cheaper (up to processes)."""
        if self.lifecycle.winding_down:
            # A worker started now would not be told to leave, and would hold up the exit or
            # the re-exec until the drain's deadline kills it.
            write_line(
                f"usher: {why}: no worker started (the server is {self.lifecycle.phase.value})"
            )
            return
        pool = self.pool
        slot = next((s for s in pool.slots.values() if s.cheap), None)
        if slot is None:
            write_line(f"usher: {why}: all {len(pool.slots)} workers already run (processes)")
            return
        slot.cheap = False
        write_line(f"usher: {why}: starting worker {slot.worker_id}")
        pool.spawn(slot)
        systemd.status(pool.status_text())

    def remove_worker(self, why: str) -> None:
        """Stop the last running worker gracefully (down to cheaper, at least one)."""
        running = [s for s in self.pool.serving_slots() if s.current is not None]
        if len(running) <= max(1, self.settings.cheaper):
            write_line(f"usher: {why}: {len(running)} worker(s) is the minimum; none stopped")
            return
        write_line(f"usher: {why}: stopping worker {running[-1].worker_id}")
        self.make_cheap(running[-1])
        systemd.status(self.pool.status_text())

    def make_cheap(self, slot: WorkerSlot) -> None:
        """Stop the slot's worker gracefully and leave the slot empty until it is needed."""
        slot.cheap = True
        if slot.current is not None:
            self.pool.retire(slot.current)

    # -- logs ----------------------------------------------------------------------------------

    def reopen_log(self, why: str, *, rotate: bool, backup: str | None = None) -> None:
        """Reopen (or rotate, then reopen) the log file, in the master and in every worker."""
        path = logfile.log_path(self.settings)
        loggers = reopen_loggers()  # file: loggers, beside the logto file
        if path is None and not loggers:
            write_line(f"usher: {why}: no log file to reopen (set logto or daemonize)")
            return
        try:
            moved = logfile.rotate(path, backup=backup) if rotate and path else None
            if moved is None and path is not None:
                logfile.reopen(path)
        except OSError as exc:
            write_line(f"usher: {why}: cannot reopen {path}: {exc.strerror}")
            return
        self.pool.signal_all(signal.SIGUSR1)
        write_line(f"usher: {why}: log reopened{f' (previous log: {moved})' if moved else ''}")
        systemd.status(f"{self.pool.status_text()}; log reopened")

    def log_stats(self) -> None:
        """Write the figures of every worker to the log."""
        # Imported when first asked for, like the figures: master-only code that would otherwise
        # stay resident in every worker.
        from usher.ops import loglines

        for line in loglines.render(self.figures()):
            write_line(line)
        systemd.status(f"{self.pool.status_text()}; stats written to the log")

    # -- limits --------------------------------------------------------------------------------

    def carry_out(self, proc: WorkerProcess, verdict: Verdict) -> None:
        """Apply a limit's verdict on a worker, with one log line saying why."""
        slot = self.pool.slots[proc.worker_id]
        where = f"worker {proc.worker_id} (pid {proc.pid})"
        if verdict.action == "harakiri":
            self._harakiri(slot, proc, where, verdict.reason)
        elif verdict.action == "kill":
            write_line(f"usher: {where} killed (SIGKILL): {verdict.reason}; respawning")
            self.pool.end(proc, signal.SIGKILL, verdict.reason)
        elif slot.current is proc and not self.lifecycle.winding_down:
            # Recycling is retire + respawn; while winding down the worker is leaving already.
            write_line(f"usher: {where} recycled gracefully: {verdict.reason}; respawning")
            self.pool.retire(proc)
            self.pool.spawn(slot)

    def _harakiri(self, slot: WorkerSlot, proc: WorkerProcess, where: str, reason: str) -> None:
        settings = self.settings
        verbose = f"; {kernel_view(proc.pid)}" if settings.harakiri_verbose else ""
        write_line(
            f"usher: harakiri: {where} on {reason} (harakiri = "
            f"{settings.harakiri}s){verbose}; its stack follows, then it is killed"
        )
        slot.harakiris += 1
        grace = settings.harakiri_graceful_timeout or HARAKIRI_GRACE  # uWSGI's graceful harakiri
        self.pool.end(proc, signal.SIGUSR2, "harakiri", grace=grace)
