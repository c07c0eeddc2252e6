"""One client connection on a worker's event loop: bytes to the codec, its events to the handler.

The codec's events for a request (its head, pieces of its body, its end) go to the exchange its
listener's handler began for it (usher.adapters.base); the response comes back through this
connection's `Responder`. Requests pipelined behind a busy one wait in order, with reading paused
so that a client cannot queue unbounded work.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import monotonic_ns
from typing import TYPE_CHECKING, Final, Union

from usher.adapters.base import Exchange, TunnelEnd
from usher.protocols.events import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    Event,
    ProtocolError,
    Request,
    Upgraded,
)
from usher.protocols.response import (
    CONTINUE_100,
    error_response,
)
from usher.worker.harakiri import shut_sending, write_through
from usher.worker.responder import Responder
from usher.worker.tunnel import Tunnel

if TYPE_CHECKING:
    from usher.protocols.http1 import HttpCodec
    from usher.protocols.uwsgi import UwsgiCodec
    from usher.worker.context import ListenerContext, WorkerContext

IDLE: Final = CodecState.IDLE
HEAD: Final = CodecState.HEAD
BODY: Final = CodecState.BODY
DONE: Final = CodecState.DONE


class Answered:
    """The codec of a connection whose one request was read whole outside it (usher.worker.oneshot):
    nothing more is expected, whatever arrives. It keeps no state, so one serves them all."""

    __slots__ = ()

    state = DONE

    def receive_data(self, data: bytes) -> list[Event]:
        return []

    def receive_eof(self) -> list[Event]:
        return []


ANSWERED: Final = Answered()

Codec = Union["HttpCodec", "UwsgiCodec", Answered]


class Connection(asyncio.Protocol):
    """A client connection: reads requests, runs them one at a time, writes responses in order."""

    # Slots: one of these is made per connection (per request behind nginx), and read on every
    # request; without a __dict__ both are cheaper.
    __slots__ = (
        "_peer",
        "busy",
        "closed",
        "codec",
        "exchange",
        "head_started",
        "last_activity",
        "listener",
        "lost",
        "paused_at",
        "pending",
        "queue",
        "reading",
        "responder",
        "started_ns",
        "transport",
        "waiting",
        "worker",
        "write_paused",
    )

    def __init__(
        self, worker: WorkerContext, listener: ListenerContext, codec: Codec | None = None
    ) -> None:
        self.worker: WorkerContext = worker
        self.listener: ListenerContext = listener
        # A given codec: the request was read outside it (usher.worker.oneshot), and it says so.
        self.codec: Codec = listener.new_codec() if codec is None else codec
        self.transport: asyncio.Transport | None = None
        self._peer: tuple[str, str] | None = None
        self.started_ns = 0  # when the request in progress reached the app (scoreboard)
        self.queue: deque[Event] = deque()
        self.busy = False
        # Complete, and waiting for its turn in arrival order (WorkerContext.wait_turn): not
        # `busy`, which the scoreboard reads as the app running since `started_ns`.
        self.waiting = False
        self.reading = True
        self.closed = False
        self.lost = False  # connection_lost came: the transport is gone
        self.last_activity = worker.now
        self.head_started = worker.now
        self.paused_at = 0.0
        self.write_paused = False
        self.responder = Responder(self)
        self.exchange: Exchange | None = None
        self.pending = b""  # complete responses held until the loop's turn ends (see defer)

    # -- transport callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without inheriting from it.
        self.transport = transport  # type: ignore[assignment]
        self.worker.connections.add(self)

    @property
    def peer(self) -> tuple[str, str]:
        """The client's address and port, looked up on first use: behind nginx the uwsgi vars
        carry the client, and the lookup (a socket object in uvloop) costs every connection."""
        peer = self._peer
        if peer is None:
            name = self.transport.get_extra_info("peername") if self.transport else None
            peer = (str(name[0]), str(name[1])) if isinstance(name, tuple) else ("", "")
            self._peer = peer
        return peer

    @property
    def client(self) -> str:
        """The client's address as far as known without a lookup (read from the board's
        reporter thread): the front server's REMOTE_ADDR behind one, else the peer seen so far."""
        request = self.responder.request
        if request is not None and request.vars is not None:
            return request.vars.get("REMOTE_ADDR", "")
        peer = self._peer
        return peer[0] if peer is not None else ""

    @property
    def idle(self) -> bool:
        """Between requests, with nothing queued: a stopping worker may close it."""
        return not self.busy and not self.waiting and not self.queue and self.codec.state is IDLE

    def data_received(self, data: bytes) -> None:
        now = self.worker.now
        self.last_activity = now
        codec = self.codec
        if codec.state is not HEAD:
            self.head_started = now
        for event in codec.receive_data(data):
            if self.busy or self.waiting or self.queue:
                self.queue.append(event)
            elif event is END:
                self.run()
            elif type(event) is Request:
                self.begin(event)
            else:
                self.dispatch(event)
        if self.queue and self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        for event in self.codec.receive_eof():
            self.queue.append(event)
        self.drain_queue()
        if self.pending:
            self.flush()  # returning False closes the transport: what it holds must be in it
        # Keep the write side open while a response is still to be produced.
        return self.busy or self.waiting

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.lost = True
        self.pending = b""
        worker = self.worker
        worker.connections.discard(self)
        responder = self.responder
        if responder.drained is not None:
            responder.drained.set()  # a pool thread waiting to write must not wait forever
        if not self.busy:
            self.release_request()
            self.unlink()
        elif responder.paused and self.exchange is not None:
            # An inline response waiting for the client to read: let it run into the closed
            # connection and end, or it would wait for a resume that never comes.
            responder.paused = False
            self.exchange.resume()
        if worker.stopping:
            worker.connection_closed()

    def unlink(self) -> None:
        """The connection is over: drop the responder's link back to it. Freed together by
        reference counting, the pair goes at once; left as a cycle, it waits (with the request
        and response it holds) for a full collection of the cyclic GC. Behind nginx, one
        connection per request, that held 2.6 MiB more per worker serving Django."""
        self.responder.conn = None  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self.paused_at = self.worker.now
        self.write_paused = True
        responder = self.responder
        # Inline, the exchange checks `paused` between chunks; a pool thread blocks on `drained`.
        if responder.drained is None:
            responder.paused = True
        else:
            responder.drained.clear()

    def resume_writing(self) -> None:
        self.write_paused = False
        responder = self.responder
        if responder.drained is not None:
            responder.drained.set()
        elif not responder.in_sendfile:
            responder.paused = False
            if self.exchange is not None:
                self.exchange.resume()

    # -- request dispatch ----------------------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        if event is END:
            self.run()
        elif type(event) is Request:
            self.begin(event)
        elif type(event) is Data:
            if self.exchange is not None:
                self.exchange.receive_data(event.data)
        elif type(event) is ContinueRequested:
            self.write(CONTINUE_100)
        elif isinstance(event, ProtocolError):
            self.reject(event)
        # Upgraded: bytes after an Upgrade request that no handler switched (a WSGI app, a
        # refused WebSocket); the connection closes after its answer. An accepted one: switch.

    def drain_queue(self) -> None:
        """Run queued events in order until one of them keeps the connection busy."""
        queue = self.queue
        while queue and not self.busy and not self.waiting and not self.closed:
            self.dispatch(queue.popleft())
        if not queue and not self.reading and not self.closed and self.transport is not None:
            self.reading = True
            self.transport.resume_reading()

    def reject(self, error: ProtocolError) -> None:
        # An app streaming the body may have begun its response: no second one after it.
        answering = self.exchange is not None and bool(self.responder.status)
        self.release_request()
        self.worker.log.protocol_error(self.peer, error)
        if answering:
            self.abort()
            return
        worker = self.worker
        self.write(
            error_response(error.status, error.reason, date=worker.date, server=worker.server)
        )
        self.close()

    def begin(self, request: Request) -> None:
        """A request's head: its listener's handler takes it; body and end follow."""
        responder = self.responder
        responder.start(request)
        self.exchange = self.listener.handler.begin(request, responder)

    def run(self) -> None:
        """The request is complete: the exchange answers it, inline or on a pool thread, now
        or, while recent requests were slow, in its turn (WorkerContext.wait_turn)."""
        exchange = self.exchange
        if exchange is None:
            # Answered before its body ended (an ASGI app streaming the body): the rest of the
            # body was read and dropped, and the connection goes on with the next request.
            return
        worker = self.worker
        if not worker.batching:
            self.waiting = True
            worker.wait_turn(self)
            return
        self.answer(exchange)

    def take_turn(self) -> None:
        """The request's turn has come (WorkerContext.wait_turn): answer it, unless the client
        went away meanwhile (connection_lost released the exchange)."""
        self.waiting = False
        exchange = self.exchange
        if exchange is None:
            return
        if self.closed:
            self.release_request()
            return
        self.answer(exchange)

    def answer(self, exchange: Exchange) -> None:
        # Before `busy`: the scoreboard's reporter reads `busy`, then this.
        self.started_ns = started_ns = monotonic_ns()
        self.busy = True
        exchange.receive_end()
        if not self.responder.threaded:
            self.worker.after_inline_request(started_ns)

    def take_over(self, request: Request, exchange: Exchange, started_ns: int) -> Responder:
        """Carry on a response begun outside any connection (usher.worker.oneshot.OneShot): the
        app was called at `started_ns` and its response needs more than one write. Returns the
        responder the exchange writes through from now on."""
        self.started_ns = started_ns
        self.busy = True
        responder = self.responder
        responder.start(request)
        self.exchange = exchange
        exchange.out = responder
        return responder

    def response_finished(self) -> None:
        """Called on the loop when a response is complete."""
        responder = self.responder
        worker = self.worker
        self.count_answered()
        self.busy = False
        exchange = self.exchange  # release_request, written out: once per request
        if exchange is not None:
            self.exchange = None
            exchange.release()
        if self.lost:
            self.unlink()
            return
        self.last_activity = worker.now
        if not responder.keep_alive or worker.stopping:
            self.close()
            return
        if self.queue or not self.reading:
            self.drain_queue()

    def count_answered(self) -> None:
        """The request's response is complete: its access line, the worker's count, the board."""
        responder, worker = self.responder, self.worker
        if worker.logging and not responder.quiet:
            worker.log.access(self, responder)
        worker.requests += 1
        worker.board.finish(
            self.started_ns, responder.head_bytes + responder.body_bytes, responder.status
        )

    def switch(self, head: bytes, end: TunnelEnd) -> Tunnel | None:
        """The handler accepted the upgrade: write its 101 `head`, count the request as
        answered, and hand the transport to a Tunnel for `end`, with the bytes read past the
        request so far."""
        transport = self.transport
        if transport is None or self.closed:
            return None
        worker = self.worker
        self.write(head)
        responder = self.responder
        responder.status = "101 Switching Protocols"
        responder.head_bytes = len(head)
        self.count_answered()
        tunnel = Tunnel(worker, transport, end, self.started_ns, self.peer)
        worker.connections.discard(self)
        worker.connections.add(tunnel)
        transport.set_protocol(tunnel)
        early = [event.data for event in self.queue if type(event) is Upgraded]
        self.queue.clear()
        self.busy = False
        self.exchange = None  # the exchange lives on as the tunnel's end
        self.closed = True  # nothing of HTTP may be written here any more
        self.unlink()
        if not self.reading:
            transport.resume_reading()
        if early:
            # After the accept has returned: the end is still inside its own send.
            worker.loop.call_soon(end.tunnel_data, b"".join(early))
        return tunnel

    def hold_reading(self, held: bool) -> None:
        """Pause or resume reading for the exchange (its app reads the body at its own pace);
        a paused body is not "stalled" (check_timeout)."""
        transport = self.transport
        if transport is None or self.closed:
            return
        if held and self.reading:
            self.reading = False
            transport.pause_reading()
        elif not held and not self.reading and not self.queue:
            self.reading = True
            self.last_activity = self.worker.now
            transport.resume_reading()

    def release_request(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.release()

    # -- output --------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            if self.pending:
                data = self.pending + data
                self.pending = b""
            self.transport.write(data)

    def defer(self, data: bytes) -> None:
        """Write a complete response when the loop's turn ends, with the others of that turn.

        A client waiting in epoll is woken by each write; written one by one, between two
        requests' Python work, every response costs the client a wake-up (an inter-processor
        interrupt when it sleeps on another core). Written back to back, the first wakes it and
        it finds the rest ready. Only quick responses are held, and not for long (see
        WorkerContext.after_inline_request).
        """
        if self.pending:
            self.pending += data
            return
        self.pending = data
        self.worker.defer(self, self.started_ns)

    def flush(self) -> None:
        """Write the held responses; close now if the connection was closed meanwhile."""
        data = self.pending
        transport = self.transport
        if data and transport is not None:
            self.pending = b""
            transport.write(data)
            if self.closed:
                transport.close()

    def abandon(self, reply: bytes) -> None:
        """The worker is leaving at once (harakiri; the loop will not run again): write the held
        responses straight to the socket, then `reply` if the request in progress has sent
        nothing yet, and shut our side."""
        transport = self.transport
        held, self.pending = self.pending, b""
        if transport is None or (held and not write_through(transport, held)):
            return  # what is held could not go: nothing may follow it
        responder = self.responder
        if not self.busy or self.closed or (responder.status != "" and not responder.head):
            return  # idle, or part of the response is out: a reply now would corrupt it
        if write_through(transport, reply):
            shut_sending(transport.get_extra_info("socket"))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            # With responses held, the close waits for the flush that writes them.
            if not self.pending:
                self.transport.close()

    def abort(self) -> None:
        self.pending = b""
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    # -- timeouts ------------------------------------------------------------------------------

    def check_timeout(self, now: float) -> None:
        """Called about once a second: drop clients that are too slow or idle too long."""
        worker = self.worker
        if self.busy or self.waiting:
            if self.write_paused and now - self.paused_at > worker.write_timeout:
                worker.log.timeout(self.peer, "not reading the response")
                self.abort()
            return
        state = self.codec.state
        if state is IDLE and not self.queue:
            if now - self.last_activity > worker.idle_timeout:
                self.close()
        elif state is HEAD:
            # A deadline for the whole header section, not per read, or a client sending one byte
            # every few seconds (slowloris) would never be cut.
            if now - self.head_started > worker.read_timeout:
                worker.log.timeout(self.peer, "request headers too slow")
                self.abort()
        elif state is BODY and self.reading and now - self.last_activity > worker.read_timeout:
            worker.log.timeout(self.peer, "request body stalled")
            self.abort()
