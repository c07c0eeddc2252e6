"""uwsgi-protocol listeners: the worker accepts and answers their connections itself.

Behind nginx ``uwsgi_pass`` every request is a connection of its own: accept, read one request,
answer, close. Served through uvloop's server and transports, each connection also pays for an
epoll registration, a wake-up to learn that its request arrived, a transport object and a round of
callbacks, about as much as the request itself. This module takes that path instead:

- The listening socket is watched with ``add_reader``. When it is readable, the worker accepts up
  to BURST clients at once.
- The master binds TCP listeners with TCP_DEFER_ACCEPT, as uWSGI does (see usher.sockets): the
  kernel hands a connection over only once its first bytes are in. So the worker reads each new
  socket at once, and behind nginx the whole request is there. It is answered in the same callback,
  with no epoll registration for the connection at all.
- A request that is not complete yet (a large body, a unix socket, ``no-defer-accept``) is read
  the ordinary way: the socket is watched until the rest arrives.

Most requests behind nginx are answered by the app with one body at once. Such a request, run
inline (threads = 1), is carried by a `OneShot`: no connection object, transport or codec. It goes
to the listener's handler like any request (usher.adapters.base), with the OneShot as its
responder, whose `send_whole` frames the answer and writes it once. Anything more (a streamed or
file body, write(), an app error, a request that did not arrive whole, pool threads) goes to a
`usher.worker.connection.Connection` over a `SocketTransport`, the asyncio transport of these
sockets, which serves it like any other: the same codec, limits, timeouts, backpressure and pool
threads. A OneShot hands its exchange over to one mid-response when the answer turns out not to be
a single body.
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import socket
from time import monotonic_ns
from typing import TYPE_CHECKING, Any, Final

from usher.adapters.base import Exchange
from usher.logs import write_line
from usher.protocols.events import CodecState, Request
from usher.protocols.framing import Prepared
from usher.protocols.uwsgi import new_request, read_whole
from usher.worker.connection import ANSWERED, Answered, Connection
from usher.worker.harakiri import shut_sending
from usher.worker.responder import Responder
from usher.worker.transport import DONTWAIT, READ_SIZE, SocketTransport

if TYPE_CHECKING:
    from usher.worker.context import ListenerContext, WorkerContext


# The largest body a OneShot sends in its one write. A larger one goes through a connection's
# transport, which paces it to the client (backpressure, write timeout); the cost of that path is
# small next to the body's.
ONE_WRITE: Final = 64 * 1024

# Clients accepted per wake-up of the listening socket. Each is answered before the next is
# accepted, so a worker takes no more than it serves; siblings on the same socket take the rest.
BURST: Final = 16

# After EMFILE and the like the listening socket stays readable; watching it at once again would
# spin. The worker looks again after this many seconds, once connections have closed.
RETRY_AFTER_ERROR: Final = 0.1

_DONE: Final = CodecState.DONE
_STREAM: Final = int(socket.SOCK_STREAM)
_TRANSIENT: Final = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR}


def carry(
    worker: WorkerContext,
    context: ListenerContext,
    sock: _socket.socket,
    peer: Any,
    codec: Answered | None = None,
) -> Connection:
    """A Connection over a SocketTransport of an accepted socket: the request is read by the
    listener's codec, or (`codec` ANSWERED) was read already and the connection carries on."""
    conn = Connection(worker, context, codec)
    conn.connection_made(SocketTransport(worker.loop, sock, peer, conn))
    return conn


class OneShotAcceptor:
    """Accepts one uwsgi-protocol listener's clients on the worker's loop and starts serving them."""

    __slots__ = ("_accept", "_context", "_family", "_fd", "_stopped", "_watching", "_worker")

    def __init__(
        self, worker: WorkerContext, sock: socket.socket, context: ListenerContext
    ) -> None:
        self._worker = worker
        self._context = context
        self._fd = sock.fileno()
        self._family = int(sock.family)
        # socket._accept gives the descriptor without socket.accept()'s timeout bookkeeping,
        # which costs as much again as the socket object made from it below.
        self._accept = sock._accept  # type: ignore[attr-defined]
        self._watching = False
        self._stopped = False

    def start(self) -> None:
        if not self._watching and not self._stopped:
            self._watching = True
            self._worker.loop.add_reader(self._fd, self.accept_ready)

    def stop(self) -> None:
        """No more accepting: the worker is leaving."""
        self._stopped = True
        self._unwatch()

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self._worker.loop.remove_reader(self._fd)

    def accept_ready(self) -> None:
        """The listening socket is readable: accept and serve up to BURST clients."""
        accept, family, worker, context = self._accept, self._family, self._worker, self._context
        limits, decoder = context.limits, context.decoder
        for _ in range(BURST):
            try:
                fd, peer = accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _TRANSIENT:
                    continue  # that client is gone; the next may be fine
                self._pause(exc)
                return
            # The socket module's own type: its Python subclass only adds makefile() and
            # bookkeeping for it, and costs more to make and to close.
            sock = _socket.socket(family, _STREAM, 0, fd)
            try:
                data: bytes | None = sock.recv(READ_SIZE, DONTWAIT)
            except (BlockingIOError, InterruptedError):
                data = None  # not sent yet: read when it comes
            except OSError:
                sock.close()
                continue
            whole = read_whole(data, limits, decoder) if data else None
            if whole is not None:
                # The usual case behind nginx: the whole request is in, answer it now.
                variables, body = whole
                # A OneShot answers while the app's call lasts; threads and coroutines answer
                # later, and a connection carries them.
                if worker.pool is None and not context.handler.runs_coroutines:
                    OneShot(worker, context, sock, peer).run(
                        new_request(variables, len(body)), body
                    )
                else:
                    conn = carry(worker, context, sock, peer, ANSWERED)
                    conn.begin(new_request(variables, len(body)))
                    if body:
                        conn.exchange.receive_data(body)  # type: ignore[union-attr]
                    conn.run()
            else:
                conn = carry(worker, context, sock, peer)
                transport = conn.transport
                assert isinstance(transport, SocketTransport)
                if data is not None:
                    transport.received(data)
                if conn.codec.state is not _DONE and conn.reading:
                    transport.resume_reading()
            if not self._watching:
                return  # the worker began to stop while serving that request

    def _pause(self, exc: OSError) -> None:
        write_line(
            f"usher: cannot accept connections: {exc.strerror}; retrying in "
            f"{RETRY_AFTER_ERROR:g} s (raise the open-files limit, e.g. LimitNOFILE= in systemd)"
        )
        self._unwatch()
        self._worker.loop.call_later(RETRY_AFTER_ERROR, self.start)


class OneShot:
    """One request answered where it was accepted, with one write (see the module's docstring).

    It is the request's responder. A response sent whole (`send_whole`, the WSGI handler's
    one-write path) is framed and held for the end of the loop's turn as a connection's would be
    (WorkerContext.defer). Any other call makes a Connection that takes the exchange over from
    where it is (`connection`) and answers that call and the rest, so streams, files, write(),
    exc_info and 500s follow the one set of rules. While the app runs, the worker's `inline` seat
    holds it, where the scoreboard's reporter and harakiri look.
    """

    __slots__ = (
        "_peer",
        "body_bytes",
        "conn",
        "context",
        "exchange",
        "head_bytes",
        "header_count",
        "pending",
        "quiet",
        "request",
        "sock",
        "started",
        "started_ns",
        "status",
        "worker",
    )

    busy = True  # until answered (usher.worker.board.Running)
    paused = False  # a OneShot never waits: a response that could is handed to a connection
    threaded = False

    def __init__(
        self, worker: WorkerContext, context: ListenerContext, sock: _socket.socket, peer: Any
    ) -> None:
        self.worker = worker
        self.context = context
        self.sock = sock
        self._peer = peer
        self.request: Request | None = None
        self.exchange: Exchange | None = None
        self.conn: Connection | None = None
        self.status = ""  # as sent
        self.pending = b""
        self.quiet = False  # donotlog (usher.adapters.base.Responder)
        self.started_ns = 0
        self.started = 0.0
        self.head_bytes = self.body_bytes = self.header_count = 0

    # What readers of a request in progress or finished ask (usher.worker.board, usher.logs).

    @property
    def responder(self) -> OneShot:
        return self

    @property
    def peer(self) -> tuple[str, str]:
        peer = self._peer
        return (str(peer[0]), str(peer[1])) if isinstance(peer, tuple) else ("", "")

    @property
    def client(self) -> str:
        request = self.request
        return request.vars.get("REMOTE_ADDR", "") if request and request.vars else ""

    # -- the request ---------------------------------------------------------------------------

    def run(self, request: Request, body: bytes) -> None:
        """Hand the whole request to the listener's handler, which answers through this."""
        worker = self.worker
        if worker.logging:
            self.started = worker.clock()
        self.request = request
        self.exchange = exchange = self.context.handler.begin(request, self)
        if body:
            exchange.receive_data(body)
        self.started_ns = started_ns = monotonic_ns()
        worker.inline = self
        try:
            exchange.receive_end()
        finally:
            worker.inline = None
        worker.after_inline_request(started_ns)

    # -- the responder (usher.adapters.base.Responder) ----------------------------------------

    def prepare(self, status: str, headers: list[tuple[str, str]], body: bytes) -> Prepared:
        request = self.request
        assert request is not None
        plan = self.worker.plans.plan(
            status,
            headers,
            len(body),
            method=request.method,
            http_version=request.http_version,
            keep_alive=False,
            uwsgi=True,
        )
        return Prepared(status, headers, body, plan)

    def send_prepared(self, prepared: Prepared) -> None:
        # One request per connection: nothing to gain from the prepared bytes here.
        self.send_whole(prepared.status, prepared.headers, prepared.body)

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Frame a complete response and hold it for the end of the turn."""
        length = len(body)
        if length > ONE_WRITE:
            self.connection().send_whole(status, headers, body)
            return
        worker, request = self.worker, self.request
        assert request is not None
        plan = worker.plans.plan(
            status,
            headers,
            length,
            method=request.method,
            http_version=request.http_version,
            keep_alive=False,
            uwsgi=True,
        )
        head = plan.template.render(worker.date)
        # ResponsePlan.fit written out (a call fewer per request): no body where none is
        # allowed, never more than the head announces; a shorter one goes as it is, since a
        # uwsgi connection closes after it anyway.
        if not plan.body_allowed:
            body = b""
            length = 0
        elif plan.remaining is not None and length > plan.remaining:
            length = plan.remaining
            body = body[:length]
        self.status = status
        self.head_bytes = len(head)
        self.body_bytes = length
        self.header_count = plan.header_count
        if worker.logging and not self.quiet:
            worker.log.access(self, self)
        worker.requests += 1
        worker.board.finish(self.started_ns, len(head) + length, status)
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.release()
        self.pending = head + body
        if worker.batching:
            worker.defer(self, self.started_ns)
        else:
            self.flush()

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        self.connection().send_head(status, headers, length)

    def send_body(self, data: bytes) -> None:
        self.connection().send_body(data)

    def send_file(self, fd: int, offset: int, count: int) -> None:
        self.connection().send_file(fd, offset, count)

    def finish(self) -> None:
        self.connection().finish()

    def abort(self) -> None:
        self.connection().abort()

    def hold_reading(self, held: bool) -> None:
        """Nothing to hold: a one-shot request arrived whole."""

    def connection(self) -> Responder:
        """The responder of the Connection that carries the request on from here (made on first
        need); the exchange writes through it from now on."""
        conn = self.conn
        if conn is None:
            worker, exchange, request = self.worker, self.exchange, self.request
            assert exchange is not None and request is not None
            conn = carry(worker, self.context, self.sock, self._peer, ANSWERED)
            responder = conn.take_over(request, exchange, self.started_ns)
            responder.started = self.started
            responder.quiet = self.quiet
            self.conn = conn
            worker.inline = None  # the connection is in worker.connections now
        return conn.responder

    # -- the end -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send the response and close: the end of the turn (WorkerContext.flush), or at once."""
        data, self.pending = self.pending, b""
        sock = self.sock
        try:
            sent = sock.send(data, DONTWAIT)
        except OSError:
            sent = len(data)  # the client is gone: nothing left to deliver
        if sent < len(data):
            # The socket's buffer is full: a connection delivers the rest, then closes. The
            # response is complete and counted; only its delivery remains.
            conn = carry(self.worker, self.context, sock, self._peer, ANSWERED)
            conn.write(data[sent:])
            conn.close()
            return
        sock.close()
        if self.worker.stopping:
            self.worker.connection_closed()

    def abandon(self, reply: bytes) -> None:
        """Harakiri (usher.worker.context.Carrier): a held response goes out; a request still
        with the app gets `reply`, since nothing of its response can have gone out (it is sent in
        one write once the app returns)."""
        if self.pending:
            self.flush()
            return
        with contextlib.suppress(OSError):
            self.sock.send(reply, DONTWAIT)
            shut_sending(self.sock)  # type: ignore[arg-type]
