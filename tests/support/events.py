"""The other half of the fixture apps' event channel: a unix datagram socket whose path the
server's environment carries as USHER_TEST_EVENTS. Apps send "sleep-started PID" or "closed PID"
to it, and a test waits on the socket instead of polling or sleeping."""

from __future__ import annotations

import select
import shutil
import socket
import time

from tests.support.server import short_tmp_dir

EVENTS_ENV = "USHER_TEST_EVENTS"


class EventListener:
    """Receives the fixture apps' event datagrams."""

    def __init__(self) -> None:
        self._dir = short_tmp_dir("usher-events-")
        self.path = str(self._dir / "events.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self.received: list[str] = []

    def env(self) -> dict[str, str]:
        """The environment entry that points the apps at this listener."""
        return {EVENTS_ENV: self.path}

    def wait_for(self, prefix: str, timeout: float = 10.0) -> str:
        """The first event (received now or earlier, not yet consumed) starting with `prefix`;
        AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.received):
                if event.startswith(prefix):
                    return self.received.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._sock], [], [], remaining)[0]:
                raise AssertionError(f"no {prefix!r} event in {timeout} s; got {self.received}")
            self.received.append(self._sock.recv(4096).decode())

    def drain(self) -> list[str]:
        """Collect the events already queued, without waiting; every one not yet consumed."""
        while select.select([self._sock], [], [], 0)[0]:
            self.received.append(self._sock.recv(4096).decode())
        return self.received

    def close(self) -> None:
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)
