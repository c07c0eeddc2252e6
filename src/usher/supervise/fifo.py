"""The master FIFO: a named pipe whose every byte written is a one-letter command.

`echo r > /run/site/master.fifo` reloads without knowing the master's pid, and several letters in
one write run in order (`echo +++s`). The master opens the pipe non-blocking and also holds a
writing end itself: without a writer, a pipe whose last client went away reads as end-of-file
forever and would wake the loop in a busy spin.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable

from usher.supervise.reactor import Reactor

# One read takes what a shell's `echo` writes many times over; the rest waits for the next wakeup.
READ_SIZE = 512


class FifoError(Exception):
    """The FIFO cannot be created; the message names the path and the fix."""


class MasterFifo:
    """Reads commands from the FIFO at `path` and hands each one to `obey`."""

    def __init__(self, path: str, reactor: Reactor, obey: Callable[[str], None]) -> None:
        self.path = path
        self.reactor = reactor
        self.obey = obey
        self.read_fd = -1
        self.write_fd = -1

    def open(self) -> None:
        _make_fifo(self.path)
        self.read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self.write_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self.reactor.on_readable(self.read_fd, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.read_fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        for command in data.decode("latin-1"):
            if not command.isspace():
                self.obey(command)

    def close(self, *, unlink: bool) -> None:
        if self.read_fd >= 0:
            self.reactor.forget(self.read_fd)
        self.drop_in_child()
        if unlink:
            from usher.sockets import vacuum

            vacuum(self.path, "master FIFO")

    def drop_in_child(self) -> None:
        """Close the descriptors (in a forked worker, or on close)."""
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self.write_fd = -1


def _make_fifo(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        try:
            os.mkfifo(path, 0o600)
        except OSError as exc:
            raise FifoError(
                f"cannot create master-fifo {path}: {exc.strerror} (check that the directory "
                "exists and is writable)"
            ) from exc
        return
    if not stat.S_ISFIFO(mode):
        raise FifoError(
            f"master-fifo {path} exists and is not a FIFO: remove it or choose another path"
        )
