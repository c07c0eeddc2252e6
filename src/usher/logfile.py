"""Reopening and rotating the log file that `logto` or `daemonize` points fd 1 and 2 at.

logrotate renames the file and asks the server to reopen it; until then usher would keep writing
into the renamed file. Every process holds the file on its own descriptors 1 and 2, so the master
reopens its own and signals the workers to do the same.
"""

from __future__ import annotations

import os
import sys
import time

from usher.options import Settings


def log_path(settings: Settings) -> str | None:
    """The file the server logs to, if it logs to a file."""
    return settings.daemonize or settings.logto or None


def reopen(path: str) -> None:
    """Point descriptors 1 and 2 at `path` again (created if it was moved away)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def rotate(path: str, now: float | None = None, backup: str | None = None) -> str:
    """Move the log aside as `backup` (replacing it), or `path.<unix time>`, and reopen `path`;
    returns the new name."""
    moved = backup or f"{path}.{int(time.time() if now is None else now)}"
    os.rename(path, moved)
    reopen(path)
    return moved


def oversized(path: str, limit: int) -> bool:
    """log-maxsize: has the log at `path` reached `limit` bytes?"""
    try:
        return os.stat(path).st_size >= limit
    except OSError:
        return False  # moved away by someone else: nothing to rotate
