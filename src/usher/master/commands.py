"""What an operator (or a limit) can ask of the master besides signals: reloads, worker count,
log files, stats in the log, and the verdicts of the limits.

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
from usher.logs import write_line
from usher.master.respawn import kill, stats_lines
from usher.master.verdicts import Verdict, kernel_view
from usher.supervise import systemd

if TYPE_CHECKING:
    from usher.master.loop import Master
    from usher.master.slots import WorkerProcess, WorkerSlot

# After the harakiri signal the stack is in the log at once; this long lets the worker answer its
# clients 504 and leave on its own before SIGKILL.
HARAKIRI_GRACE = 1.0


class Controls:
    """The master's actions that are not supervision itself."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.commands: dict[str, Callable[[], None]] = {
            "r": lambda: self.reload("master FIFO 'r'", brutal=False),
            "R": lambda: self.reload("master FIFO 'R'", brutal=True),
            "q": lambda: master.stop(graceful=True, why="master FIFO 'q'"),
            "Q": lambda: master.stop(graceful=False, why="master FIFO 'Q'"),
            "c": lambda: master.chain.start("master FIFO 'c'"),
            "w": lambda: self.reload_workers("master FIFO 'w'", brutal=False),
            "W": lambda: self.reload_workers("master FIFO 'W'", brutal=True),
            "s": self.log_stats,
            "+": lambda: self.add_worker("master FIFO '+'"),
            "-": lambda: self.remove_worker("master FIFO '-'"),
            "l": lambda: self.reopen_log("master FIFO 'l'", rotate=False),
            "L": lambda: self.reopen_log("master FIFO 'L'", rotate=True),
        }

    def obey(self, command: str) -> None:
        """Carry out one FIFO command; unknown letters are logged and ignored."""
        action = self.commands.get(command)
        if action is None:
            known = "".join(self.commands)
            write_line(f"usher: master FIFO: unknown command {command!r} (known: {known})")
            return
        action()

    # -- reloads -------------------------------------------------------------------------------

    def reload(self, why: str, *, brutal: bool) -> None:
        """Reload everything: re-exec the master (non-lazy) or replace every worker (lazy)."""
        master = self.master
        if master.exit_status is not None or master.reexec_pending:
            return
        if master.settings.log_reopen:
            self.reopen_log(why, rotate=False)
        if master.settings.lazy_apps:
            self.reload_workers(why, brutal=brutal)
            return
        write_line(f"usher: {why}: reloading {'now' if brutal else 'gracefully'}")
        systemd.reloading("reloading")
        master.chain.abort()
        master.reexec_pending = True
        master.signal_workers(signal.SIGKILL if brutal else signal.SIGTERM)
        master.stop_deadline = time.monotonic() + master.settings.worker_reload_mercy

    def reload_workers(self, why: str, *, brutal: bool) -> None:
        """Replace every worker from this master (the master itself stays)."""
        master = self.master
        if master.exit_status is not None or master.reexec_pending:
            return
        write_line(f"usher: {why}: replacing every worker {'now' if brutal else 'gracefully'}")
        systemd.reloading("reloading workers")
        master.chain.abort()
        for slot in master.slots.values():
            if slot.successor is not None:
                master.retire(slot.successor, brutal=True)
                slot.successor = None
            if slot.current is not None:
                master.retire(slot.current, brutal=brutal)
                master.spawn(slot)
        master.awaiting_ready = True

    # -- worker count --------------------------------------------------------------------------

    def add_worker(self, why: str) -> None:
        master = self.master
        slot = next((s for s in master.slots.values() if s.cheap), None)
        if slot is None:
            write_line(f"usher: {why}: all {len(master.slots)} workers already run (processes)")
            return
        slot.cheap = False
        write_line(f"usher: {why}: starting worker {slot.worker_id}")
        master.spawn(slot)
        systemd.status(master.status_text())

    def remove_worker(self, why: str) -> None:
        master = self.master
        running = [s for s in master.slots.values() if not s.cheap and s.current is not None]
        if len(running) <= max(1, master.settings.cheaper):
            write_line(f"usher: {why}: {len(running)} worker(s) is the minimum; none stopped")
            return
        write_line(f"usher: {why}: stopping worker {running[-1].worker_id}")
        self.make_cheap(running[-1])
        systemd.status(master.status_text())

    def make_cheap(self, slot: WorkerSlot) -> None:
        """Stop the slot's worker gracefully and leave the slot empty until it is needed."""
        slot.cheap = True
        if slot.current is not None:
            self.master.retire(slot.current)

    # -- logs ----------------------------------------------------------------------------------

    def reopen_log(self, why: str, *, rotate: bool) -> None:
        master = self.master
        path = logfile.log_path(master.settings)
        if path is None:
            write_line(f"usher: {why}: no log file to reopen (set logto or daemonize)")
            return
        try:
            moved = logfile.rotate(path) if rotate else None
            if moved is None:
                logfile.reopen(path)
        except OSError as exc:
            write_line(f"usher: {why}: cannot reopen {path}: {exc.strerror}")
            return
        master.signal_workers(signal.SIGUSR1)
        write_line(f"usher: {why}: log reopened{f' (previous log: {moved})' if moved else ''}")
        systemd.status(f"{master.status_text()}; log reopened")

    def log_stats(self) -> None:
        for line in stats_lines(self.master.monitor.figures()):
            write_line(line)
        systemd.status(f"{self.master.status_text()}; stats written to the log")

    # -- limits --------------------------------------------------------------------------------

    def carry_out(self, proc: WorkerProcess, verdict: Verdict) -> None:
        """Apply a limit's verdict on a worker, with one log line saying why."""
        master = self.master
        slot = master.slots[proc.worker_id]
        where = f"worker {proc.worker_id} (pid {proc.pid})"
        if verdict.action == "harakiri":
            settings = master.settings
            verbose = f"; {kernel_view(proc.pid)}" if settings.harakiri_verbose else ""
            write_line(
                f"usher: harakiri: {where} on {verdict.reason} (harakiri = "
                f"{settings.harakiri}s){verbose}; its stack follows, then it is killed"
            )
            slot.harakiris += 1
            proc.ended_for = "harakiri"
            proc.kill_at = time.monotonic() + HARAKIRI_GRACE
            kill(proc.pid, signal.SIGUSR2)
        elif verdict.action == "kill":
            write_line(f"usher: {where} killed (SIGKILL): {verdict.reason}; respawning")
            proc.ended_for = verdict.reason
            kill(proc.pid, signal.SIGKILL)
        elif slot.current is proc:
            write_line(f"usher: {where} recycled gracefully: {verdict.reason}; respawning")
            master.retire(proc)
            master.spawn(slot)
