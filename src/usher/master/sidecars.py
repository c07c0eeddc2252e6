"""The master's processes beside the app: attached daemons and cron jobs.

- Daemons (attach-daemon, attach-daemon2, smart-attach-daemon) start once the server serves. A
  daemon that dies is started again, later each time it keeps dying young (the same backoff as
  workers, usher.supervise.backoff). A smart daemon (one with a pidfile) is alive while the pid in
  its pidfile is; it is started when neither that pid nor the command the master started runs,
  and it is left running across a reload, where the re-executed master finds it by its pidfile.
  The others are stopped before a reload re-executes the master, and restarted when a reload
  replaces only the workers (lazy-apps), unless they have a reload signal: then they get it and
  keep running. On a stop every daemon gets its stop signal, and SIGKILL after
  worker-reload-mercy.
- Cron jobs (cron, unique-cron) run when the minute matches (usher.supervise.cron decides);
  unique ones not while their previous run is alive. Their runs are not waited for at a stop.

The master's waitpid loop hands every child that is not a worker to `child_exited`. `tick` runs
on every pass of the master's loop with the lifecycle's phase; nothing here blocks.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from usher.logs import write_line
from usher.master.lifecycle import Phase
from usher.options.cronspec import CronJob, parse_cron
from usher.options.daemonspec import (
    DaemonSpec,
    parse_attach_daemon,
    parse_attach_daemon2,
    parse_smart_attach_daemon,
)
from usher.supervise.backoff import boot_failures, respawn_delay
from usher.supervise.cron import CronTable
from usher.supervise.kill import kill
from usher.supervise.spawn import signal_group, spawn_shell

if TYPE_CHECKING:
    from collections.abc import Callable

    from usher.options import Settings


@dataclass
class Daemon:
    """One attached daemon and the process the master knows for it."""

    spec: DaemonSpec
    pid: int | None = None  # the command the master started, until reaped
    started_at: float = 0.0
    failures: int = 0
    start_at: float | None = None  # when to (re)start it; None: not planned
    kill_at: float | None = None  # while stopping: when SIGKILL follows
    kept: bool = False  # left running across a reload (smart): the master does not wait for it
    restarting: bool = False  # stopped for a reload of the workers: started again once reaped

    def foreign_pid(self) -> int | None:
        """The live pid from the pidfile, when it is not the master's own child."""
        pid = _read_pid(self.spec.pidfile) if self.spec.pidfile else None
        if pid is None or pid == self.pid or not _alive(pid):
            return None
        return pid

    def running(self) -> bool:
        return self.pid is not None or self.foreign_pid() is not None


class Sidecars:
    """Attached daemons and cron jobs, started, watched and stopped by the master."""

    def __init__(
        self, settings: Settings, stop_server: Callable[[str], None], clock: Callable[[], float]
    ) -> None:
        self.grace = float(settings.worker_reload_mercy)
        self.stop_server = stop_server  # for control daemons
        self.clock = clock  # wall-clock time for cron; injected so the schedule can be tested
        self.daemons = [Daemon(spec) for spec in daemon_specs(settings)]
        jobs = [parse_cron(line) for line in settings.cron]
        jobs.extend(parse_cron(line, unique=True) for line in settings.unique_cron)
        self.cron = CronTable(jobs)
        self.cron_runs: dict[int, int] = {}  # pid -> job index, for unique-cron
        self.started = False
        self.stopping = False
        self.phase_seen: Phase | None = None

    # -- the loop's calls ----------------------------------------------------------------------

    def tick(self, phase: Phase, now: float) -> None:
        """Start, restart or stop daemons as the phase asks; run the cron jobs that are due."""
        if phase is Phase.SERVING and not self.started:
            self.started = True
            for daemon in self.daemons:
                daemon.start_at = now
        if phase in (Phase.STOPPING, Phase.REEXECUTING):
            self._stop(now, keep_smart=phase is Phase.REEXECUTING)
            return
        if phase is Phase.RELOADING and self.phase_seen is not Phase.RELOADING:
            self._reload(now)
        self.phase_seen = phase
        if self.started:
            for daemon in self.daemons:
                self._watch(daemon, now)
            self._run_cron()

    def idle(self) -> bool:
        """No daemon is left running that the master must wait for before it exits or execs."""
        return not any(self._waited_for(daemon) for daemon in self.daemons)

    def child_exited(self, pid: int, status: int) -> None:
        """A child that is not a worker exited: a daemon (restart planned) or a cron run."""
        if self.cron_runs.pop(pid, None) is not None:
            return
        daemon = next((d for d in self.daemons if d.pid == pid), None)
        if daemon is None:
            return
        daemon.pid = None
        if self.stopping:
            return
        now = time.monotonic()
        if daemon.restarting:
            daemon.restarting, daemon.kill_at, daemon.failures = False, None, 0
            daemon.start_at = now
            return
        lived = now - daemon.started_at
        if daemon.spec.control:
            write_line(f"usher: control daemon {daemon.spec.command!r} exited; stopping")
            self.stop_server(f"control daemon exited ({_describe(status)})")
            return
        if daemon.spec.smart:
            # The command may have daemonized itself: it is checked through its pidfile.
            daemon.failures = (
                boot_failures(daemon.failures, lived) if not daemon.foreign_pid() else 0
            )
        else:
            daemon.failures = boot_failures(daemon.failures, lived)
            write_line(
                f"usher: daemon {daemon.spec.command!r} (pid {pid}) {_describe(status)}; "
                f"restarting in {respawn_delay(daemon.failures):.1f}s"
            )
        daemon.start_at = now + respawn_delay(daemon.failures)

    # -- daemons -------------------------------------------------------------------------------

    def _watch(self, daemon: Daemon, now: float) -> None:
        if daemon.kill_at is not None and now >= daemon.kill_at:
            daemon.kill_at = None
            write_line(f"usher: daemon {daemon.spec.command!r} still running; killing it")
            _signal(daemon, signal.SIGKILL)
        if daemon.running():
            return
        if daemon.start_at is None:
            # A smart daemon whose pid left: it is started again at once (it was not our child).
            daemon.start_at = now
        if now >= daemon.start_at:
            self._start(daemon, now)

    def _start(self, daemon: Daemon, now: float) -> None:
        daemon.start_at = None
        daemon.pid = spawn_shell(daemon.spec.command)
        daemon.started_at = now
        write_line(f"usher: daemon {daemon.spec.command!r} started (pid {daemon.pid})")

    def _reload(self, now: float) -> None:
        """The workers are replaced from this master: a daemon with a reload signal gets it, a
        smart one is left alone, the others are stopped and started again once they exit."""
        for daemon in self.daemons:
            if daemon.spec.reload_signal is not None:
                _signal(daemon, daemon.spec.reload_signal)
            elif daemon.pid is not None and not daemon.spec.smart:
                daemon.restarting = True
                daemon.kill_at = now + self.grace
                _signal(daemon, daemon.spec.stop_signal)

    def _stop(self, now: float, *, keep_smart: bool) -> None:
        first = not self.stopping
        self.stopping = True
        for daemon in self.daemons:
            daemon.start_at = None
            if keep_smart and daemon.spec.smart:
                daemon.kept = True
                if first and daemon.spec.reload_signal is not None:
                    _signal(daemon, daemon.spec.reload_signal)
                continue
            if first:
                daemon.kill_at = now + self.grace
                _signal(daemon, daemon.spec.stop_signal)
            elif daemon.kill_at is not None and now >= daemon.kill_at:
                daemon.kill_at = None
                write_line(f"usher: daemon {daemon.spec.command!r} still running; killing it")
                _signal(daemon, signal.SIGKILL)

    def _waited_for(self, daemon: Daemon) -> bool:
        if not self.stopping:
            return daemon.running()
        if daemon.kept or (daemon.kill_at is None and daemon.pid is None):
            return False  # kept across the reload, or killed and reaped
        return daemon.running()

    # -- cron ----------------------------------------------------------------------------------

    def _run_cron(self) -> None:
        for index, job in self.cron.due(self.clock()):
            if job.unique and index in self.cron_runs.values():
                write_line(f"usher: unique-cron {job.command!r} still running; not started again")
                continue
            self.cron_runs[run_cron(job)] = index


def run_cron(job: CronJob) -> int:
    """Start one cron job's command (the master's executor); its pid."""
    pid = spawn_shell(job.command)
    write_line(f"usher: cron: {job.command!r} started (pid {pid})")
    return pid


def daemon_specs(settings: Settings) -> list[DaemonSpec]:
    """Every daemon the options declare, in option order by kind."""
    specs = [parse_attach_daemon(text) for text in settings.attach_daemon]
    specs.extend(parse_attach_daemon2(text) for text in settings.attach_daemon2)
    specs.extend(parse_smart_attach_daemon(text) for text in settings.smart_attach_daemon)
    return specs


def _signal(daemon: Daemon, signum: int) -> None:
    """The master's own child leads a process group (the shell and what it runs); a pid from a
    pidfile is signalled alone, as the daemon wrote it."""
    if daemon.pid is not None:
        signal_group(daemon.pid, signum)
    foreign = daemon.foreign_pid()
    if foreign is not None:
        kill(foreign, signum)


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.WEXITSTATUS(status)}"
