"""The master's wait: signals, readiness records, stats clients and the FIFO in one `select`.

Each descriptor is registered with the callback its readiness calls. Callbacks run in the master's
loop, so they must never block: every socket here is non-blocking.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable

Callback = Callable[[], None]


class Reactor:
    """Descriptors and what to do when they become readable or writable."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()

    def on_readable(self, fd: int, callback: Callback) -> None:
        self._set(fd, selectors.EVENT_READ, callback)

    def on_writable(self, fd: int, callback: Callback) -> None:
        self._set(fd, selectors.EVENT_WRITE, callback)

    def forget(self, fd: int) -> None:
        if fd in self.selector.get_map():
            self.selector.unregister(fd)

    def _set(self, fd: int, events: int, callback: Callback) -> None:
        if fd in self.selector.get_map():
            self.selector.modify(fd, events, callback)
        else:
            self.selector.register(fd, events, callback)

    def wait(self, timeout: float) -> None:
        """Run the callbacks of whatever becomes ready within `timeout` seconds."""
        for key, _ in self.selector.select(max(timeout, 0.0)):
            callback: Callback = key.data
            callback()

    def close(self) -> None:
        """Drop the selector (in a forked worker, which must not share it)."""
        self.selector.close()
