"""One client connection on a worker's event loop: bytes to the codec, its events to the handler.

The codec's events for a request (its head, pieces of its body, its end) go to the exchange its
listener's handler began for it (usher.adapters.base); the response comes back through this
connection's `Responder`. Requests pipelined behind a busy one wait in order, with reading paused
so that a client cannot queue unbounded work.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from time import monotonic_ns
from typing import TYPE_CHECKING, Any, Union

from usher.adapters.base import Exchange
from usher.protocols.events import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    Event,
    ProtocolError,
    Request,
)
from usher.protocols.response import (
    CONTINUE_100,
    LAST_CHUNK,
    encode_chunk,
    error_response,
)
from usher.worker.harakiri import shut_sending, write_through

if TYPE_CHECKING:
    from usher.protocols.http1 import HttpCodec
    from usher.protocols.uwsgi import UwsgiCodec
    from usher.worker.context import ListenerContext, WorkerContext

IDLE = CodecState.IDLE
HEAD = CodecState.HEAD
BODY = CodecState.BODY
DONE = CodecState.DONE


class Answered:
    """The codec of a connection whose one request was read whole outside it (usher.worker.oneshot):
    nothing more is expected, whatever arrives. It keeps no state, so one serves them all."""

    __slots__ = ()

    state = DONE

    def receive_data(self, data: bytes) -> list[Event]:
        return []

    def receive_eof(self) -> list[Event]:
        return []


ANSWERED = Answered()

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
        return not self.busy and not self.queue and self.codec.state is IDLE

    def data_received(self, data: bytes) -> None:
        now = self.worker.now
        self.last_activity = now
        codec = self.codec
        if codec.state is not HEAD:
            self.head_started = now
        for event in codec.receive_data(data):
            if self.busy or self.queue:
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
        # Keep the write side open while a response is still being produced.
        return self.busy

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
        # Upgraded: bytes after an Upgrade request, which a WSGI app never accepts; the
        # connection closes after its answer.

    def drain_queue(self) -> None:
        """Run queued events in order until one of them keeps the connection busy."""
        queue = self.queue
        while queue and not self.busy and not self.closed:
            self.dispatch(queue.popleft())
        if not queue and not self.reading and not self.closed and self.transport is not None:
            self.reading = True
            self.transport.resume_reading()

    def reject(self, error: ProtocolError) -> None:
        self.release_request()
        self.worker.log.protocol_error(self.peer, error)
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
        """The request is complete: the exchange answers it, inline or on a pool thread."""
        exchange = self.exchange
        assert exchange is not None
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
        if worker.log.enabled and not responder.quiet:
            worker.log.access(self, responder)
        worker.requests += 1
        worker.board.finish(self, responder)
        self.busy = False
        self.release_request()
        if self.lost:
            self.unlink()
            return
        self.last_activity = worker.now
        if not responder.keep_alive or worker.stopping:
            self.close()
            return
        if self.queue or not self.reading:
            self.drain_queue()

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
        WorkerState.after_inline_request).
        """
        if self.pending:
            self.pending += data
            return
        self.pending = data
        self.worker.defer(self)

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
        if self.busy:
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
        elif state is BODY and now - self.last_activity > worker.read_timeout:
            worker.log.timeout(self.peer, "request body stalled")
            self.abort()


class Responder:
    """Frames one response at a time for a connection; the WSGI exchange writes through it.

    Inline (threads = 1) it writes to the transport directly and `paused` tells the exchange to
    stop iterating until the transport drains. On a pool thread every write is handed to the loop
    and the thread blocks while the transport is paused.
    """

    __slots__ = (
        "body_allowed",
        "body_bytes",
        "chunked",
        "conn",
        "drained",
        "head",
        "head_bytes",
        "header_count",
        "in_sendfile",
        "keep_alive",
        "paused",
        "quiet",
        "remaining",
        "request",
        "started",
        "status",
        "threaded",
    )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.paused = False
        self.threaded = False
        self.quiet = False  # donotlog (usher.adapters.base.Responder)
        self.in_sendfile = False
        # Only a pool thread waits for the transport to drain; inline needs no lock per connection.
        self.drained: threading.Event | None = None
        if conn.worker.pool is not None:
            self.drained = threading.Event()
            self.drained.set()
        self.request: Request | None = None
        self.head = b""
        self.keep_alive = True
        self.chunked = False
        self.body_allowed = True
        self.remaining: int | None = None
        self.status: str = ""
        self.body_bytes: int = 0
        self.head_bytes: int = 0
        self.header_count: int = 0
        self.started = 0.0

    @property
    def peer(self) -> tuple[str, str]:
        conn = self.conn
        return conn._peer or conn.peer

    def start(self, request: Request) -> None:
        self.request = request
        self.keep_alive = request.keep_alive
        self.head = b""
        self.chunked = False
        self.remaining = None
        self.body_bytes = 0
        self.head_bytes = 0
        self.status = ""
        self.threaded = False
        if self.conn.worker.log.enabled:
            self.started = self.conn.worker.clock()

    def emit(self, data: bytes) -> None:
        conn = self.conn
        if not self.threaded:
            conn.write(data)
            return
        if conn.closed:
            raise ConnectionAbortedError("client went away")
        conn.worker.loop.call_soon_threadsafe(conn.write, data)
        drained = self.drained
        if drained is not None and not drained.is_set():
            drained.wait()
            if conn.closed:
                raise ConnectionAbortedError("client went away")

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        request = self.request
        assert request is not None
        worker = self.conn.worker
        plan = worker.plans.plan(
            status,
            headers,
            length,
            method=request.method,
            http_version=request.http_version,
            keep_alive=self.keep_alive,
            uwsgi=request.vars is not None,
        )
        self.status = status
        self.body_allowed = plan.body_allowed
        self.remaining = plan.remaining
        self.chunked = plan.chunked
        self.keep_alive = plan.keep_alive
        self.head = head = plan.template.render(worker.date)
        self.head_bytes = len(head)
        self.header_count = plan.header_count

    def send_body(self, data: bytes) -> None:
        if not self.body_allowed:
            return
        remaining = self.remaining
        if remaining is not None:
            if len(data) > remaining:
                # Never send more than the app declared: the surplus would be read as the next response.
                data = data[:remaining]
            self.remaining = remaining - len(data)
        if not data:
            return
        self.body_bytes += len(data)
        if self.chunked:
            data = encode_chunk(data)
        head = self.head
        if head:
            self.head = b""
            data = head + data
        self.emit(data)

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_head(status, headers, len(body))
        data = self.head
        self.head = b""
        if self.body_allowed:
            declared = self.remaining
            if declared is not None and len(body) != declared:
                if len(body) > declared:
                    body = body[:declared]  # never more than the app's Content-Length
                else:
                    self.keep_alive = False  # fewer bytes than declared: only closing tells
            self.remaining = 0
            self.body_bytes = len(body)
            data += body
        conn = self.conn
        if not self.threaded and conn.worker.batching:
            conn.defer(data)
        else:
            self.emit(data)
        if self.threaded:
            self.conn.worker.loop.call_soon_threadsafe(self.conn.response_finished)
        else:
            self.conn.response_finished()

    def send_file(self, fd: int, offset: int, count: int) -> None:
        if self.head:
            head, self.head = self.head, b""
            self.emit(head)
        if not self.body_allowed or count <= 0:
            return
        self.body_bytes += count
        if self.remaining is not None:
            self.remaining -= count
        conn = self.conn
        if not self.threaded:
            self.paused = True
            self.in_sendfile = True
            Sendfile(conn, fd, offset, count).start()
            return
        done = threading.Event()
        conn.worker.loop.call_soon_threadsafe(
            lambda: Sendfile(conn, fd, offset, count, done).start()
        )
        done.wait()
        if conn.closed:
            raise ConnectionAbortedError("client went away")

    def finish(self) -> None:
        tail = self.head
        self.head = b""
        if self.chunked and self.body_allowed:
            tail += LAST_CHUNK
        if self.remaining and self.body_allowed:
            # The app sent less than its Content-Length: only closing tells the client.
            self.keep_alive = False
        if tail:
            self.emit(tail)
        if self.threaded:
            self.conn.worker.loop.call_soon_threadsafe(self.conn.response_finished)
        else:
            self.conn.response_finished()

    def abort(self) -> None:
        self.keep_alive = False
        conn = self.conn
        if self.threaded:
            conn.worker.loop.call_soon_threadsafe(conn.abort)
            conn.worker.loop.call_soon_threadsafe(conn.response_finished)
        else:
            conn.abort()
            conn.response_finished()


class Sendfile:
    """Send a file span with os.sendfile on the loop, bypassing the transport's buffer.

    The transport owns the socket's descriptor in the loop, so the writer callback is registered on
    a duplicate of it; the transport's own buffer (the head) is flushed first to keep the order.
    """

    __slots__ = ("conn", "count", "done", "fd", "offset", "out_fd")

    def __init__(
        self, conn: Connection, fd: int, offset: int, count: int, done: Any = None
    ) -> None:
        self.conn = conn
        self.fd = fd
        self.offset = offset
        self.count = count
        self.done = done
        self.out_fd = -1

    def start(self) -> None:
        transport = self.conn.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or self.conn.closed:
            self.finish()
            return
        self.out_fd = os.dup(sock.fileno())
        self.conn.worker.loop.add_writer(self.out_fd, self.step)

    def step(self) -> None:
        transport = self.conn.transport
        if self.conn.closed or transport is None:
            self.finish()
            return
        if transport.get_write_buffer_size():
            return
        try:
            sent = os.sendfile(self.out_fd, self.fd, self.offset, min(self.count, 1 << 20))
        except BlockingIOError:
            return
        except OSError:
            self.conn.abort()
            self.finish()
            return
        if sent == 0:
            # The file shrank under us: the declared length cannot be met, so close.
            self.conn.responder.keep_alive = False
            self.count = 0
        self.offset += sent
        self.count -= sent
        self.conn.last_activity = self.conn.worker.now
        if self.count <= 0:
            self.finish()

    def finish(self) -> None:
        if self.out_fd >= 0:
            self.conn.worker.loop.remove_writer(self.out_fd)
            os.close(self.out_fd)
            self.out_fd = -1
        responder = self.conn.responder
        responder.in_sendfile = False
        if self.done is not None:
            self.done.set()
            return
        responder.paused = False
        if self.conn.exchange is not None:
            self.conn.exchange.resume()
