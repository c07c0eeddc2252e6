"""The emperor's loop: scan the config files, start, reload, stop and respawn the vassals.

One `select` (usher.supervise.reactor) waits on the signal pipe, the vassals' notify socket,
the stats socket and the on-demand sockets; signal handlers only wake it. Every pass reaps the
vassals that exited, scans the files when the scan is due, restarts the throttled vassals whose
wait is over and kills the ones that outlived their stop.

Why a scan every emperor-freq seconds rather than inotify: a stat per file is microseconds for
the tens of vassals a host runs; it sees what inotify does not (a vassal that is a symlink to
the app's own ini, whose target is touched; globs over many directories; network and bind
mounts; a directory created after the start), it is what uWSGI's dir and glob monitors do, and
it needs no dependency. The cost is up to emperor-freq seconds between a change and its effect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from usher.emperor.envfile import EnvFileError, read_env_file
from usher.emperor.launch import Launch, launch
from usher.emperor.notify import NotifySocket
from usher.emperor.ondemand import bind_on_demand, on_demand_address
from usher.emperor.plan import compare
from usher.emperor.report import SystemdReport, apply_notice
from usher.emperor.sources import SeenFile, env_path, scan
from usher.emperor.stats import StatsServer, document
from usher.emperor.vassal import Vassal, VassalCommand
from usher.logs import write_line
from usher.options import ConfigError, ExitRequested, Settings, load_settings
from usher.sockets import ListenerError
from usher.supervise import systemd
from usher.supervise.backoff import boot_failures, respawn_delay
from usher.supervise.kill import kill
from usher.supervise.reactor import Reactor

# A vassal's own graceful stop waits up to worker-reload-mercy (60 s by default) for its
# workers; past that and a margin, the emperor kills it (its workers then stop by themselves
# when they find their master gone).
STOP_MERCY = 75.0
_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD)
# The emperor's own service-manager variables are not the vassals': each gets the emperor's
# notify socket instead, and socket activation variables only for its own on-demand socket.
_NOT_INHERITED = ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


class Emperor:
    """The vassals of the config files matching `globs`, supervised until a stop signal."""

    def __init__(self, settings: Settings, globs: tuple[str, ...]) -> None:
        self.settings = settings
        self.globs = globs
        self.command = VassalCommand(settings.vassals_include, settings.vassals_set)
        self.vassals: dict[str, Vassal] = {}
        self.reactor = Reactor()
        self.notify = NotifySocket()
        self.stats = StatsServer(settings.emperor_stats) if settings.emperor_stats else None
        self.stopping = False
        self.report = SystemdReport()
        self.next_scan = 0.0
        env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
        self.base_env = {**env, "NOTIFY_SOCKET": self.notify.address}

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until SIGTERM, SIGINT (graceful) or SIGQUIT (now); the exit status."""
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write)
        for signum in _HANDLED:
            signal.signal(signum, _wake_only)
        self.reactor.on_readable(wake_read, lambda: self._read_signals(wake_read))
        self.reactor.on_readable(self.notify.fileno(), self._read_notices)
        if self.stats is not None:
            stats = self.stats
            self.reactor.on_readable(stats.fileno(), lambda: stats.answer(self._document))
        write_line(f"usher emperor: pid {os.getpid()}, watching {' '.join(self.settings.emperor)}")
        try:
            while not (self.stopping and not any(v.running for v in self.vassals.values())):
                self.reactor.wait(self._timeout())
                self._pass()
        finally:
            signal.set_wakeup_fd(-1)
            os.close(wake_read)
            os.close(wake_write)
            self._close()
        write_line("usher emperor: every vassal stopped; goodbye")
        return 0

    def _pass(self) -> None:
        self._reap()
        now = time.monotonic()
        if not self.stopping and now >= self.next_scan:
            self.next_scan = now + self.settings.emperor_freq
            self.scan()
        for vassal in list(self.vassals.values()):
            if vassal.respawn_at is not None and vassal.respawn_at <= now and not self.stopping:
                vassal.respawn_at = None
                self._start(vassal)
            if vassal.kill_at is not None and vassal.kill_at <= now and vassal.running:
                write_line(
                    f"usher emperor: {vassal.name} did not stop in {STOP_MERCY:.0f} s; killing it"
                )
                kill(vassal.pid, signal.SIGKILL)
                vassal.kill_at = None
        if not self.stopping:
            self.report.announce(list(self.vassals.values()))

    def _timeout(self) -> float:
        deadlines = [] if self.stopping else [self.next_scan]
        for vassal in self.vassals.values():
            deadlines += [at for at in (vassal.respawn_at, vassal.kill_at) if at is not None]
        now = time.monotonic()
        return max(0.0, min(deadlines, default=now + 1.0) - now)

    # -- signals -------------------------------------------------------------------------------

    def _read_signals(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            for signum in os.read(fd, 64):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    self.stop(graceful=True, why=signal.Signals(signum).name)
                elif signum == signal.SIGQUIT:
                    self.stop(graceful=False, why="SIGQUIT")
                elif signum == signal.SIGHUP:
                    self._reload_all()

    def stop(self, *, graceful: bool, why: str) -> None:
        """Stop every vassal (SIGTERM: gracefully; SIGQUIT: now) and leave once all exited."""
        if self.stopping and graceful:
            return
        self.stopping = True
        write_line(
            f"usher emperor: {why}: stopping every vassal {'gracefully' if graceful else 'now'}"
        )
        systemd.stopping("stopping the vassals")
        for vassal in list(self.vassals.values()):
            vassal.respawn_at = None
            if vassal.running:
                self._signal_stop(vassal, signal.SIGTERM if graceful else signal.SIGQUIT)
            else:
                self._forget(vassal)

    def _reload_all(self) -> None:
        write_line("usher emperor: SIGHUP: reloading every vassal gracefully")
        for vassal in list(self.vassals.values()):
            if vassal.running and not vassal.removed:
                self._reload(vassal, "SIGHUP")

    # -- files ---------------------------------------------------------------------------------

    def scan(self) -> None:
        """Compare the config files with the vassals, and act on the differences."""
        seen = scan(self.globs)
        known = {path: v.seen for path, v in self.vassals.items() if not v.removed}
        changes = compare(known, seen)
        for path in changes.stop:
            self._remove(self.vassals[path])
        for path in changes.start:
            if path in self.vassals:  # removed, still stopping, and back: start it at its exit
                vassal = self.vassals[path]
                vassal.seen, vassal.removed, vassal.restart = seen[path], False, True
                continue
            self.vassals[path] = vassal = Vassal(seen[path])
            self._admit(vassal)
        for path in changes.reload:
            self._touched(self.vassals[path], seen[path])
        for path in changes.restart:
            vassal = self.vassals[path]
            vassal.seen = seen[path]
            write_line(f"usher emperor: {vassal.name}: its env file changed; restarting it")
            self._restart(vassal)

    def _admit(self, vassal: Vassal) -> None:
        """A new config file: start its vassal, or hold its socket until a client comes."""
        if self.settings.emperor_tyrant:
            if vassal.seen.uid == 0 or vassal.seen.gid == 0:
                vassal.last_exit = "refused: emperor-tyrant runs no vassal as root"
                write_line(
                    f"usher emperor: {vassal.name}: owned by root, not started (emperor-tyrant runs each vassal as its file's owner)"
                )
                return
            vassal.uid, vassal.gid = vassal.seen.uid, vassal.seen.gid
        address = on_demand_address(
            vassal.seen.path,
            self.settings.emperor_on_demand_directory,
            self.settings.emperor_on_demand_extension,
        )
        if address is None:
            self._start(vassal)
            return
        try:
            vassal.on_demand = bind_on_demand(address)
        except ListenerError as exc:
            vassal.last_exit = f"on-demand socket: {exc}"
            write_line(f"usher emperor: {vassal.name}: {exc}")
            return
        vassal.on_demand_address = address
        write_line(
            f"usher emperor: {vassal.name}: on demand, waiting for a connection on {address}"
        )
        self._await_connection(vassal)

    def _await_connection(self, vassal: Vassal) -> None:
        assert vassal.on_demand is not None
        self.reactor.on_readable(vassal.on_demand.fileno(), lambda: self._start(vassal))

    def _touched(self, vassal: Vassal, now: SeenFile) -> None:
        vassal.seen = now
        if vassal.running:
            self._reload(vassal, "changed")
        elif vassal.respawn_at is not None:  # throttled: the file was edited, perhaps fixed
            vassal.respawn_at = None
            self._start(vassal)
        elif vassal.on_demand is None:  # refused (tyrant) or its socket failed: check again
            self._admit(vassal)

    def _reload(self, vassal: Vassal, why: str) -> None:
        if not vassal.ready:
            # Still starting: its master may not handle SIGHUP yet (the default action ends
            # it), and it reads the file anew on a start anyway.
            write_line(f"usher emperor: {vassal.name} {why} while starting; starting it again")
            self._restart(vassal)
            return
        write_line(f"usher emperor: {vassal.name} {why}; reloading it gracefully (SIGHUP)")
        kill(vassal.pid, signal.SIGHUP)

    def _remove(self, vassal: Vassal) -> None:
        vassal.removed = True
        vassal.respawn_at = None
        if vassal.running:
            write_line(f"usher emperor: {vassal.name} removed; stopping it gracefully")
            self._signal_stop(vassal, signal.SIGTERM)
        else:
            write_line(f"usher emperor: {vassal.name} removed")
            self._forget(vassal)

    def _restart(self, vassal: Vassal) -> None:
        if vassal.running:
            vassal.restart = True
            self._signal_stop(vassal, signal.SIGTERM)
        else:
            vassal.respawn_at = None
            self._start(vassal)

    # -- processes -----------------------------------------------------------------------------

    def _start(self, vassal: Vassal) -> None:
        if vassal.running or self.stopping:
            return
        try:
            env = {**self.base_env, **read_env_file(env_path(vassal.seen.path), vassal.uid)}
        except (OSError, EnvFileError) as exc:
            self._failed(vassal, f"env file: {exc}", lived=0.0)
            return
        argv = self.command.argv(vassal.seen.path)
        listen_fd = None
        if vassal.on_demand is not None:
            self.reactor.forget(vassal.on_demand.fileno())
            listen_fd = vassal.on_demand.fileno()
            if not _has_listener(argv[3:], env):
                argv += ["--socket", vassal.on_demand_address]
        vassal.pid = launch(Launch(argv, env, vassal.uid, vassal.gid, listen_fd))
        vassal.born, vassal.started_at = time.time(), time.monotonic()
        if vassal.first_run:
            vassal.respawns += 1
        else:
            vassal.first_run = vassal.born
        vassal.ready = False
        write_line(f"usher emperor: {vassal.name} started (pid {vassal.pid})")

    def _signal_stop(self, vassal: Vassal, signum: int) -> None:
        kill(vassal.pid, signum)
        vassal.kill_at = time.monotonic() + STOP_MERCY

    def _reap(self) -> None:
        by_pid = {v.pid: v for v in self.vassals.values() if v.running}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            vassal = by_pid.get(pid)
            if vassal is not None:
                self._exited(vassal, status)

    def _exited(self, vassal: Vassal, status: int) -> None:
        lived = time.monotonic() - vassal.started_at
        vassal.pid, vassal.ready, vassal.kill_at = 0, False, None
        vassal.last_exit = _describe(status)
        if vassal.removed or self.stopping:
            write_line(f"usher emperor: {vassal.name} stopped ({vassal.last_exit})")
            self._forget(vassal)
        elif vassal.restart:
            vassal.restart = False
            self._start(vassal)
        elif vassal.on_demand is not None and status == 0:
            write_line(
                f"usher emperor: {vassal.name} exited (idle); waiting for the next connection on {vassal.on_demand_address}"
            )
            self._await_connection(vassal)
        else:
            self._failed(vassal, f"{vassal.last_exit} after {lived:.1f} s", lived=lived)

    def _failed(self, vassal: Vassal, what: str, *, lived: float) -> None:
        """The vassal died or could not start: start it again, later each time it dies young."""
        vassal.last_exit = what
        vassal.failures = boot_failures(vassal.failures, lived)
        delay = respawn_delay(vassal.failures)
        if vassal.failures:
            write_line(
                f"usher emperor: {vassal.name}: {what}; {vassal.failures} failed start(s) in a row, next try in {delay:.1f} s"
            )
        else:
            write_line(f"usher emperor: {vassal.name}: {what}; starting it again")
        vassal.respawn_at = time.monotonic() + delay

    def _forget(self, vassal: Vassal) -> None:
        if vassal.on_demand is not None:
            self.reactor.forget(vassal.on_demand.fileno())
            vassal.on_demand.close()
            vassal.on_demand = None
        if vassal.removed or self.stopping:
            self.vassals.pop(vassal.seen.path, None)

    # -- readiness and reports -----------------------------------------------------------------

    def _read_notices(self) -> None:
        running = {vassal.pid: vassal for vassal in self.vassals.values() if vassal.running}
        for notice in self.notify.receive():
            apply_notice(notice, running)

    def _document(self) -> dict[str, object]:
        return document(
            self.vassals.values(), self.settings.emperor, tyrant=self.settings.emperor_tyrant
        )

    def _close(self) -> None:
        for vassal in self.vassals.values():
            if vassal.on_demand is not None:
                vassal.on_demand.close()
        if self.stats is not None:
            self.stats.close()
        self.notify.close()
        self.reactor.close()


def _wake_only(signum: int, frame: object) -> None:
    """The handler of every emperor signal: the wakeup fd carries it to the loop."""


def _has_listener(args: list[str], env: dict[str, str]) -> bool:
    """Whether the vassal's own config names a listener (else it gets its on-demand socket)."""
    try:
        return bool(load_settings(args, env).settings.listeners)
    except (ConfigError, ExitRequested):
        return True  # the vassal will say what is wrong itself


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
