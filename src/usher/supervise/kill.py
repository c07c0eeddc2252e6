"""Signalling a child process that may already be gone."""

from __future__ import annotations

import errno
import os


def kill(pid: int, signum: int) -> None:
    """Send `signum` to `pid`; a process that has exited already (ESRCH) is not an error.

    A supervisor signals children it has not reaped yet, or that exit while it decides: the race
    is ordinary, and any other error (EPERM) is a real one.
    """
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise
