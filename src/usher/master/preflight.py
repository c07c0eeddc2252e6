"""Before a reload replaces anything, prove that the new code imports.

A reload (SIGHUP, touch-reload, FIFO `r`/`R`, and `w`/`W` with lazy-apps) first runs
`usher --check-config` with the master's own arguments in a throwaway child: fork, then exec of
the same interpreter from the directory the server was started in, so the options, the ini files
and the app are read anew from disk exactly as the reload would read them, as the user the server
runs as. Only when that child exits 0 does the reload go ahead. Otherwise the reload is abandoned:
the old workers keep serving, the child's output (the traceback, then one line) goes to the log,
and the failure is kept for the stats document, `usher top` and systemd's STATUS.

The child is reaped by the pool's reaper (the master's only waitpid), which hands its status here.
Its output goes to an anonymous temporary file, read once it exited: no pipe to drain while the
master's loop runs.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from usher.sockets import INHERIT_ENV
from usher.supervise.kill import kill

# A check that imports a large app takes a second or two; one that has not finished after this
# long hangs (an import waiting on a database, say), and the reload is abandoned rather than
# waiting forever while an operator believes it is under way.
CHECK_TIMEOUT = 60.0

# The child's output kept for the log: a traceback and its line, not a runaway import's chatter.
MAX_OUTPUT = 64 * 1024

Done = Callable[[str | None], None]


@dataclass(slots=True)
class ReloadRecord:
    """The last reload that failed its check (the stats document and `usher top` show it)."""

    failed_at: float = 0.0  # unix time; 0: no reload failed since this master started
    error: str = ""


class Preflight:
    """Runs one check at a time and calls back with None (the code imports) or its output."""

    def __init__(
        self, argv: list[str], cwd: str, adopt: Callable[[int, Callable[[int], None]], None]
    ) -> None:
        self.argv = argv
        self.cwd = cwd
        self.adopt = adopt  # the pool's reaper: (pid, on_exit) for a child that is not a worker
        self.pid: int | None = None
        self.deadline = 0.0
        self.record = ReloadRecord()

    @property
    def running(self) -> bool:
        """A check is under way."""
        return self.pid is not None

    def start(self, done: Done) -> None:
        """Fork and exec the check; `done` is called from the master's loop once it exited."""
        output = tempfile.TemporaryFile()  # noqa: SIM115  # closed in _exited, once the check ends
        sys.stdout.flush()
        sys.stderr.flush()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))
        try:
            pid = os.fork()
            if pid == 0:
                self._exec_check(output.fileno(), previous)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.pid = pid
        self.deadline = time.monotonic() + CHECK_TIMEOUT
        self.adopt(pid, lambda status: self._exited(status, output, done))

    def _exec_check(self, out_fd: int, mask: set[int | signal.Signals]) -> None:
        try:
            # The master's handlers only write to its signal pipe: the check must not.
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(signum, signal.SIG_DFL)
            os.chdir(self.cwd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
            env = {k: v for k, v in os.environ.items() if k not in (INHERIT_ENV, "NOTIFY_SOCKET")}
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            command = [sys.executable, "-m", "usher", "--check-config", *self.argv]
            os.execve(sys.executable, command, env)
        finally:
            os._exit(127)

    def _exited(self, status: int, output: IO[bytes], done: Done) -> None:
        self.pid = None
        with output:
            output.seek(0)
            text = output.read(MAX_OUTPUT).decode(errors="replace").strip()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            done(None)
            return
        if os.WIFSIGNALED(status):
            text += f"\nusher: the check was killed (signal {os.WTERMSIG(status)}; it may have hung past {CHECK_TIMEOUT:.0f}s)"
        elif not text:
            text = f"usher: the check exited with status {os.waitstatus_to_exitcode(status)} and said nothing"
        self.record.failed_at = time.time()
        self.record.error = text.splitlines()[-1].removeprefix("usher: check-config: ")
        done(text)

    def abandon(self) -> None:
        """The master leaves: a check still running is of no use to anyone."""
        if self.pid is not None:
            kill(self.pid, signal.SIGKILL)

    def expire(self, now: float) -> None:
        """Kill a check that has run past CHECK_TIMEOUT (its exit then fails the reload)."""
        if self.pid is not None and now >= self.deadline:
            kill(self.pid, signal.SIGKILL)
            self.deadline = now + CHECK_TIMEOUT
