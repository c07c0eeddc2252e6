"""Stats endpoints served by the master: the raw JSON socket, stats-http and the Prometheus page.

The master answers them from its own loop, so each step is non-blocking and bounded: accept every
pending client, read at most a request head, write what the socket takes, and close clients that
take longer than a few seconds. A slow or silent client can never delay supervision.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from usher.ops.stats import render_http
from usher.sockets import Listener, bind, close_all
from usher.supervise.reactor import Reactor

# uwsgitop and scrapers read the document within milliseconds; a client that is still there after
# this long is stuck or hostile, and holding it would only cost the master a descriptor.
CLIENT_TIMEOUT = 5.0
# An HTTP request head for a stats page is one line and a few headers; more is not a stats client.
MAX_REQUEST_HEAD = 8192
# Few clients connect at once (a scraper, an operator's uwsgitop); the backlog only absorbs bursts.
BACKLOG = 16


class StatsEndpoint:
    """One listening address that answers every client with the current figures."""

    def __init__(
        self,
        address: str,
        reactor: Reactor,
        render: Callable[[], bytes],
        *,
        http: bool,
        content_type: str = "application/json",
    ) -> None:
        self.address = address
        self.reactor = reactor
        self.render = render
        self.http = http
        self.content_type = content_type
        self.listener: Listener | None = None
        self.clients: set[_Client] = set()

    def open(self) -> None:
        """Bind the address (raises sockets.ListenerError with the cause and the fix)."""
        self.listener = bind("http", self.address, backlog=BACKLOG, chmod=None)
        self.reactor.on_readable(self.listener.sock.fileno(), self._accept)

    def display(self) -> str:
        return self.listener.display() if self.listener is not None else self.address

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                sock, _ = self.listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors, or the client left already: try again next time
            sock.setblocking(False)
            client = _Client(self, sock)
            self.clients.add(client)
            client.start()

    def expire(self, now: float) -> None:
        """Drop clients past CLIENT_TIMEOUT (called once a second)."""
        for client in list(self.clients):
            if now > client.deadline:
                client.close()

    def close(self, *, unlink: bool = True) -> None:
        for client in list(self.clients):
            client.close()
        if self.listener is not None:
            self.reactor.forget(self.listener.sock.fileno())
            close_all([self.listener], unlink=unlink)
            self.listener = None

    def drop_in_child(self) -> None:
        """In a forked worker: close the inherited descriptors without touching the socket file."""
        for client in self.clients:
            client.sock.close()
        if self.listener is not None:
            self.listener.sock.close()


class _Client:
    """One connection to a stats endpoint, from accept to close."""

    def __init__(self, endpoint: StatsEndpoint, sock: socket.socket) -> None:
        self.endpoint = endpoint
        self.sock = sock
        self.fd = sock.fileno()
        self.deadline = time.monotonic() + CLIENT_TIMEOUT
        self.received = b""
        self.out = b""

    def start(self) -> None:
        if self.endpoint.http:
            # Read the request first: closing on unread bytes would reset the connection, and the
            # client could lose the answer.
            self.endpoint.reactor.on_readable(self.fd, self._read)
        else:
            self._respond()

    def _read(self) -> None:
        try:
            data = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        self.received += data
        if not data or b"\r\n\r\n" in self.received or len(self.received) > MAX_REQUEST_HEAD:
            self._respond()

    def _respond(self) -> None:
        body = self.endpoint.render()
        self.out = render_http(body, self.endpoint.content_type) if self.endpoint.http else body
        self._write()

    def _write(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        self.out = self.out[sent:]
        if self.out:
            self.endpoint.reactor.on_writable(self.fd, self._write)
        else:
            self.close()

    def close(self) -> None:
        self.endpoint.reactor.forget(self.fd)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.endpoint.clients.discard(self)
