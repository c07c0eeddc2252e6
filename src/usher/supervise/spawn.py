"""Start a shell command as a child of the supervisor, without waiting for it.

Daemons, cron jobs and `exec:` hooks all start here, so they start alike: `/bin/sh -c COMMAND`
with the supervisor's environment, default signal dispositions, an empty signal mask, and no
descriptor but stdin, stdout and stderr, in a process group of its own: the shell may run the
command as its child (bash does, dash execs it), so stopping it means signalling the group
(`signal_group`). The caller reaps the child: the master's one waitpid
loop collects every child, so a `subprocess.Popen` here would race it for the exit status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

SHELL = "/bin/sh"
# Exit status of a child whose exec failed, as a shell reports "command cannot be executed".
EXEC_FAILED = 127
# Dispositions the master changes (handlers that only enqueue, SIGPIPE ignored by Python): a
# program started by it expects the defaults, which exec keeps only for handled signals.
_RESET = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGPIPE,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def spawn_shell(command: str) -> int:
    """Fork and exec `/bin/sh -c command`; the child's pid (the caller must reap it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which execs or exits
        _exec_in_child(command)
    return pid


def default_signals() -> None:
    """In a forked child about to exec: the signal dispositions and mask a new program expects."""
    for signum in _RESET:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _exec_in_child(command: str) -> None:  # pragma: no cover - child side of spawn_shell
    try:
        default_signals()
        os.setpgid(0, 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.execv(SHELL, [SHELL, "-c", command])
    finally:
        os._exit(EXEC_FAILED)


def signal_group(pid: int, signum: int) -> None:
    """Send `signum` to the process group a `spawn_shell` child leads (gone already: no error)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def run_shell(command: str) -> int:
    """Run `command` and wait for it; its exit status (128 + N for a signal N, as shells say)."""
    pid = spawn_shell(command)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
