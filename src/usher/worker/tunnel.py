"""A connection that switched protocols: after a WebSocket's 101 the transport's protocol is this
`Tunnel`, and the HTTP codec, the queue of requests and the responder are out of the way.

The tunnel only moves bytes and tells its end (usher.adapters.base.TunnelEnd) what happened: data,
drained, lost, and the worker's once-a-second tick, on which the end pings, enforces its close
deadline and, when the worker stops gracefully, closes with 1001. A client that does not read
what is written for longer than http-timeout is dropped, as it is during an HTTP response.

It is one of the worker's connections, so a stopping worker waits for it; it is never idle, so
the stop's grace period does not cut it, its end closes it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from usher.adapters.base import TunnelEnd

if TYPE_CHECKING:
    from usher.worker.context import WorkerContext


class Tunnel(asyncio.Protocol):
    """The raw stream of a switched connection (usher.adapters.base.Tunnel)."""

    __slots__ = (
        "closed",
        "end",
        "paused",
        "paused_at",
        "peer",
        "started_ns",
        "transport",
        "worker",
    )

    idle = False  # (usher.worker.context.Connected) its end closes it, not the stop's grace
    busy = False  # not a request in progress on the scoreboard: it may stay open for hours

    def __init__(
        self,
        worker: WorkerContext,
        transport: asyncio.Transport,
        end: TunnelEnd,
        started_ns: int,
        peer: tuple[str, str],
    ) -> None:
        self.worker = worker
        self.peer = peer
        self.transport = transport
        self.end = end
        self.started_ns = started_ns
        self.paused = False
        self.paused_at = 0.0
        self.closed = False

    # -- transport callbacks -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.end.tunnel_data(data)

    def eof_received(self) -> bool:
        # The client will send nothing more: its end hears it as a lost connection (1006 unless
        # a close frame came first), and the transport closes.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        worker = self.worker
        worker.connections.discard(self)
        self.end.tunnel_lost()
        if worker.stopping:
            worker.connection_closed()

    def pause_writing(self) -> None:
        self.paused = True
        self.paused_at = self.worker.now

    def resume_writing(self) -> None:
        self.paused = False
        self.end.tunnel_resumed()

    # -- the end's side ------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.closed and data:
            self.transport.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self, why: str = "") -> None:
        if why and not self.closed:
            self.worker.log.timeout(self.peer, why)
        self.closed = True
        self.transport.abort()

    def pause_reading(self) -> None:
        if not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.closed:
            self.transport.resume_reading()

    # -- the worker's side (usher.worker.context.Connected) ------------------------------------

    def check_timeout(self, now: float) -> None:
        worker = self.worker
        if self.paused and now - self.paused_at > worker.write_timeout:
            # As for an HTTP response (http-timeout): a client that stopped reading is dropped,
            # pings or not, and the app's waiting send() ends.
            self.abort("not reading WebSocket messages")
            return
        self.end.tunnel_tick(now, worker.stopping)

    def flush(self) -> None:
        """Nothing is held for the turn's end on a tunnel."""

    def abandon(self, reply: bytes) -> None:
        """The worker leaves at once (harakiri): no HTTP reply fits in a WebSocket stream."""
        self.abort()
