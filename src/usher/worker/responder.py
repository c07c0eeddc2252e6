"""A connection's response side: `Responder` frames one response at a time and writes it through
its connection; `Sendfile` sends a file span with os.sendfile on the loop.

Both are typed with their connection's class (imported for the type checker only, so the
modules import each other in one direction): the compiled form then calls its methods directly,
where a protocol type would look each one up by name, on every response.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from usher.adapters.base import Tunnel, TunnelEnd
from usher.protocols.events import Request
from usher.protocols.framing import Prepared, ResponsePlan
from usher.protocols.response import LAST_CHUNK, encode_chunk

if TYPE_CHECKING:
    from usher.worker.connection import Connection


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
        "gone",
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
        # The client went away (went_away). Never reset: no request follows on the connection.
        self.gone = False

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
        worker = self.conn.worker
        if worker.logging:
            self.started = worker.clock()

    def emit(self, data: bytes) -> None:
        conn = self.conn
        if not self.threaded:
            # After a write error the transport discards what it is given and reports the loss
            # a turn later: the exchange must stop producing a response nobody reads now.
            transport = conn.transport
            if conn.closed or transport is None or transport.is_closing():
                raise self.went_away()
            conn.write(data)
            return
        if conn.closed:
            raise self.went_away()
        conn.worker.loop.call_soon_threadsafe(conn.write, data)
        drained = self.drained
        if drained is not None and not drained.is_set():
            drained.wait()
            if conn.closed:
                raise self.went_away()

    def went_away(self) -> ConnectionAbortedError:
        """The error a write raises once the client has gone (WsgiExchange.failed ends the
        exchange on it). The first for a request is logged, unless usher closed the connection
        itself (a timeout, already logged)."""
        conn = self.conn
        if not self.gone and (conn.lost or not conn.closed):
            self.gone = True
            conn.worker.log.client_gone(self.peer, self.request)
        return ConnectionAbortedError("client went away")

    def switch(self, head: bytes, end: TunnelEnd) -> Tunnel | None:
        """Switch protocols after an upgrade request (usher.adapters.base.Switching)."""
        return self.conn.switch(head, end)

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        self._plan_head(status, headers, length)

    def _plan_head(
        self, status: str, headers: list[tuple[str, str]], length: int | None
    ) -> ResponsePlan:
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
        return plan

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
        # _plan_head and ResponsePlan.fit written out: this is every small response's one call
        # here, and two calls fewer are ~2% of hello world's request path.
        request = self.request
        assert request is not None
        conn = self.conn
        worker = conn.worker
        length = len(body)
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
        self.chunked = plan.chunked
        self.keep_alive = plan.keep_alive
        self.header_count = plan.header_count
        self.head = b""
        data = plan.template.render(worker.date)
        self.head_bytes = len(data)
        self.body_allowed = allowed = plan.body_allowed
        if allowed:
            declared = plan.remaining
            if declared is not None and length != declared:
                if length > declared:
                    # Never more than the head announces: the surplus would be read as the
                    # next response.
                    body = body[:declared]
                    length = declared
                else:
                    self.keep_alive = False  # fewer bytes than declared: only closing tells
            self.body_bytes = length
            data += body
        self.remaining = 0 if allowed else plan.remaining
        if self.threaded:
            self.emit(data)
            worker.loop.call_soon_threadsafe(conn.response_finished)
            return
        if worker.batching:
            conn.defer(data)
        else:
            # Whole, so nothing follows it: a client gone already is noticed by no write error.
            conn.write(data)
        conn.response_finished()

    def prepare(self, status: str, headers: list[tuple[str, str]], body: bytes) -> Prepared:
        request = self.request
        assert request is not None
        plan = self.conn.worker.plans.plan(
            status,
            headers,
            len(body),
            method=request.method,
            http_version=request.http_version,
            keep_alive=self.keep_alive,
            uwsgi=request.vars is not None,
        )
        return Prepared(status, headers, body, plan)

    def send_prepared(self, prepared: Prepared) -> None:
        # send_whole with the plan, the fit of the body and the render done once: the date is
        # the only part of the response that changes from one request to the next.
        conn = self.conn
        worker = conn.worker
        plan = prepared.plan
        self.status = prepared.status
        self.chunked = False  # a whole body has its length
        self.keep_alive = prepared.keep_alive
        self.header_count = plan.header_count
        self.head = b""
        before = prepared.before
        data = before + worker.date + prepared.after if before else prepared.after
        self.body_bytes = length = prepared.body_bytes
        self.head_bytes = len(data) - length
        self.body_allowed = allowed = plan.body_allowed
        self.remaining = 0 if allowed else plan.remaining
        if self.threaded:
            self.emit(data)
            worker.loop.call_soon_threadsafe(conn.response_finished)
            return
        if worker.batching:
            conn.defer(data)
        else:
            conn.write(data)
        conn.response_finished()

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

    def hold_reading(self, held: bool) -> None:
        """Stop or restart reading the request (usher.adapters.base.Responder)."""
        conn = self.conn
        if conn is not None:  # None: unlinked, the connection is over
            conn.hold_reading(held)


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
