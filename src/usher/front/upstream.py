"""Connections to upstream servers: one asyncio protocol each, and the idle ones kept per server.

An `UpstreamConnection` feeds its bytes to a client codec (HTTP, or the same codec reading a uwsgi
server's answer, which is an HTTP head and a body to the end of the stream) and hands the events
to its current `Sink`, the attempt that sent the request. Between requests an HTTP connection
waits in its server's `IdleConnections` (nginx's upstream `keepalive`): at most `keepalive` of
them, each closed after `keepalive_timeout` idle, or as soon as the upstream closes it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from usher.front.model import Address
from usher.protocols.events import END, Data
from usher.protocols.http1_client import ClientEvent, HttpClientCodec, Response


class Sink(Protocol):
    """The attempt that receives a connection's events."""

    def on_event(self, event: ClientEvent) -> None:
        """An event of the response (or the tunnel's bytes)."""

    def on_whole(self, response: Response, body: bytes) -> None:
        """A complete response (head, body and end) arrived in one read."""

    def on_lost(self, reason: str) -> None:
        """The connection closed before the response was complete."""

    def on_drained(self) -> None:
        """The connection can take more of the request body."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream server."""

    __slots__ = ("closed", "codec", "idle_since", "paused", "sink", "transport", "used")

    def __init__(self) -> None:
        self.codec = HttpClientCodec()
        self.sink: Sink | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused = False  # the upstream's side of the socket is full: wait for on_drained
        self.idle_since = 0.0
        self.used = 0  # requests sent on it, for the status page and the stale-connection rule

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without inheriting from it.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        events = self.codec.receive_data(data)
        if sink is None:
            # An idle connection that speaks: the upstream is closing it, or broken.
            self.close()
            return
        if (
            len(events) == 3
            and events[2] is END
            and type(events[0]) is Response
            and type(body := events[1]) is Data
        ):
            sink.on_whole(events[0], body.data)
            return
        for event in events:
            sink.on_event(event)

    def eof_received(self) -> bool:
        sink = self.sink
        events = self.codec.receive_eof()
        if sink is not None:
            for event in events:
                sink.on_event(event)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.on_lost(f"upstream closed the connection{f': {exc}' if exc else ''}")

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.sink is not None:
            self.sink.on_drained()

    def write(self, data: bytes) -> None:
        """Send request bytes."""
        transport = self.transport
        if transport is not None and not self.closed:
            transport.write(data)

    def close(self) -> None:
        """Drop the connection at once (a response abandoned half-way cannot be reused)."""
        self.sink = None
        transport = self.transport
        if transport is not None and not self.closed:
            self.closed = True
            transport.abort()

    @property
    def usable(self) -> bool:
        """Open, and ready for another request."""
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and self.codec.idle
        )


async def connect(loop: asyncio.AbstractEventLoop, address: Address) -> UpstreamConnection:
    """A new connection to `address` (raises OSError). The caller bounds its time: the proxy's
    tick cancels a connect past connect_timeout, with no timer or task per connect."""
    if address.unix is not None:
        _, conn = await loop.create_unix_connection(UpstreamConnection, address.unix)
    else:
        _, conn = await loop.create_connection(UpstreamConnection, address.host, address.port)
    return conn


class IdleConnections:
    """The kept-alive connections to one server, most recently used first."""

    __slots__ = ("limit", "timeout", "waiting")

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self.waiting: deque[UpstreamConnection] = deque()

    def take(self, now: float) -> UpstreamConnection | None:
        """An idle connection still good to use, or None."""
        waiting = self.waiting
        while waiting:
            conn = waiting.pop()
            if conn.usable and now - conn.idle_since < self.timeout:
                return conn
            conn.close()
        return None

    def give_back(self, conn: UpstreamConnection, now: float) -> None:
        """Keep `conn` for a later request, or close it when enough are kept."""
        conn.sink = None
        transport = conn.transport  # conn.usable, written out: once per kept-alive request
        if (
            conn.closed
            or transport is None
            or transport.is_closing()
            or not conn.codec.idle
            or self.limit <= 0
        ):
            conn.close()
            return
        conn.idle_since = now
        self.waiting.append(conn)
        if len(self.waiting) > self.limit:
            self.waiting.popleft().close()

    def sweep(self, now: float) -> None:
        """Close the connections idle past the timeout (called about once a second)."""
        waiting = self.waiting
        while waiting and (now - waiting[0].idle_since >= self.timeout or not waiting[0].usable):
            waiting.popleft().close()

    def close_all(self) -> None:
        while self.waiting:
            self.waiting.pop().close()
