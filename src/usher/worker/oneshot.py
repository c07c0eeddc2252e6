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
inline (threads = 1), is served by a `OneShot`: no connection object, transport or codec, only the
app's call and one write. Anything more (a streamed or file body, write(), an app error, a request
that did not arrive whole, pool threads) goes to a `usher.worker.connection.Connection` over a
`SocketTransport`, the asyncio transport of these sockets, which serves it like any other: the same
codec, limits, timeouts, backpressure and pool threads. A OneShot hands over to one mid-response
when the app's answer turns out not to be a single body.
"""

from __future__ import annotations

import _socket
import errno
import socket
from collections.abc import Callable, Iterable
from time import monotonic_ns
from typing import TYPE_CHECKING, Any

from usher.adapters.wsgi import (
    NO_START,
    SECOND_START,
    FileWrapper,
    WsgiExchange,
    check_status,
    next_nonempty,
    uwsgi_environ,
)
from usher.logs import write_line
from usher.protocols.body import RequestBody
from usher.protocols.events import CodecState, Request
from usher.protocols.uwsgi import ANSWERED, http_version, new_request, read_whole
from usher.worker.connection import Connection
from usher.worker.transport import DONTWAIT, READ_SIZE, SocketTransport

if TYPE_CHECKING:
    from usher.worker.process import ListenerContext, WorkerState


# The largest body a OneShot sends in its one write. A larger one goes through a connection's
# transport, which paces it to the client (backpressure, write timeout); the cost of that path is
# small next to the body's.
ONE_WRITE = 64 * 1024

# Clients accepted per wake-up of the listening socket. Each is answered before the next is
# accepted, so a worker takes no more than it serves; siblings on the same socket take the rest.
BURST = 16

# After EMFILE and the like the listening socket stays readable; watching it at once again would
# spin. The worker looks again after this many seconds, once connections have closed.
RETRY_AFTER_ERROR = 0.1

_DONE = CodecState.DONE
_NO_BODY = RequestBody.EMPTY
_STREAM = int(socket.SOCK_STREAM)
_TRANSIENT = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR}


class OneShotAcceptor:
    """Accepts one uwsgi-protocol listener's clients on the worker's loop and starts serving them."""

    __slots__ = ("_accept", "_context", "_family", "_fd", "_stopped", "_watching", "_worker")

    def __init__(self, worker: WorkerState, sock: socket.socket, context: ListenerContext) -> None:
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
        loop, limits = worker.loop, context.limits
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
            whole = read_whole(data, limits) if data else None
            if whole is not None:
                # The usual case behind nginx: the whole request is in, answer it now.
                if worker.pool is None:
                    OneShot(worker, context, sock, peer, *whole).run()
                else:
                    conn = Connection(worker, context, ANSWERED)
                    conn.connection_made(SocketTransport(loop, sock, peer, conn))
                    conn.run(new_request(*whole))
            else:
                conn = Connection(worker, context)
                transport = SocketTransport(loop, sock, peer, conn)
                conn.connection_made(transport)
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

    It calls the app itself, with its own start_response. When the app returns one body (a list
    of one bytes, or an iterable that yields one chunk, as Django's and Flask's responses do),
    that is the response, framed and held for the end of the loop's turn as a connection's would
    be (WorkerState.defer). Anything else, or an app error, makes a
    WsgiExchange and a Connection that carry the request on from where the app left it
    (`connection`), so streams, files, write(), exc_info and 500s follow the one set of rules.
    While the app runs, the worker's `inline` seat holds it, where the scoreboard's reporter and
    harakiri look.
    """

    __slots__ = (
        "_peer",
        "app_headers",
        "app_status",
        "body",
        "body_bytes",
        "conn",
        "context",
        "environ",
        "exchange",
        "head_bytes",
        "header_count",
        "pending",
        "result",
        "sock",
        "started",
        "started_ns",
        "status",
        "variables",
        "worker",
    )

    busy = True  # until answered (usher.worker.board.Running)

    def __init__(
        self,
        worker: WorkerState,
        context: ListenerContext,
        sock: _socket.socket,
        peer: Any,
        variables: dict[str, str],
        body: RequestBody,
    ) -> None:
        self.worker = worker
        self.context = context
        self.sock = sock
        self._peer = peer
        self.variables = variables
        self.body = body
        self.environ = uwsgi_environ(context.base_environ, variables, body)
        self.app_status: str | None = None
        self.app_headers: list[tuple[str, str]] = []
        self.exchange: WsgiExchange | None = None
        self.conn: Connection | None = None
        self.result: Iterable[bytes] | None = None  # the app's body while it is being read
        self.status = ""  # as sent
        self.pending = b""
        self.started_ns = 0
        self.started = 0.0
        self.head_bytes = self.body_bytes = self.header_count = 0

    # What readers of a request in progress or finished ask (usher.worker.board, usher.logs).

    @property
    def responder(self) -> OneShot:
        return self

    @property
    def request(self) -> Request:
        return new_request(self.variables, self.body)

    @property
    def peer(self) -> tuple[str, str]:
        peer = self._peer
        return (str(peer[0]), str(peer[1])) if isinstance(peer, tuple) else ("", "")

    # -- the app -------------------------------------------------------------------------------

    def run(self) -> None:
        worker = self.worker
        if worker.log.enabled:
            self.started = worker.clock()
        self.started_ns = started_ns = monotonic_ns()
        worker.inline = self
        try:
            result = worker.app(self.environ, self.start_response)
            if self.exchange is None and type(result) is list and len(result) == 1:
                self.answer(result[0])
            elif self.exchange is None and type(result) is not FileWrapper:
                self.answer_iterable(result)
            else:
                self.connection()
                assert self.exchange is not None
                self.exchange.deliver(result)
        except Exception as exc:
            conn = self.connection()
            assert self.exchange is not None
            conn.app_failed(self.exchange, exc)
        finally:
            worker.inline = None
        worker.after_inline_request(started_ns)

    def answer_iterable(self, result: Iterable[bytes]) -> None:
        """A body that is an iterable (Django's and Flask's responses): answered here when it
        holds one chunk, closed first as PEP 3333 asks; handed over after its second chunk."""
        self.result = result
        iterator = iter(result)
        first = next_nonempty(iterator)
        second = None if first is None else next_nonempty(iterator)
        if second is None:
            self.result = None
            close = getattr(result, "close", None)
            if close is not None:
                close()
            self.answer(first or b"")
            return
        assert first is not None
        self.connection()
        assert self.exchange is not None
        self.exchange.resume(result, iterator, first, second)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 start_response. Nothing is sent before the app returns, so exc_info only
        allows a second call; once a connection carries the request, its exchange answers."""
        if self.exchange is not None:
            return self.exchange.start_response(status, headers, exc_info)
        if exc_info is None and self.app_status is not None:
            raise AssertionError(SECOND_START)
        check_status(status)
        self.app_status = status
        self.app_headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy write() callable: a connection takes over and sends it at once."""
        self.connection()
        assert self.exchange is not None
        self.exchange.write(data)

    def connection(self) -> Connection:
        """The Connection that carries the request on from here (made on first need), with an
        exchange that knows what the app said so far."""
        conn = self.conn
        if conn is None:
            worker = self.worker
            conn = Connection(worker, self.context, ANSWERED)
            conn.connection_made(SocketTransport(worker.loop, self.sock, self._peer, conn))
            exchange = WsgiExchange(worker.app, self.environ, conn.responder)
            exchange.carry_on(self.app_status, self.app_headers, self.result)
            self.exchange = exchange
            request = new_request(self.variables, self.body)
            conn.take_over(request, exchange, self.started_ns).started = self.started
            self.conn = conn
            worker.inline = None  # the connection is in worker.connections now
        return conn

    def answer(self, body: bytes) -> None:
        """Frame the app's one body and hold it for the end of the turn."""
        status = self.app_status
        if status is None:
            raise AssertionError(NO_START)
        if len(body) > ONE_WRITE:
            self.connection().responder.send_whole(status, self.app_headers, body)
            return
        worker, variables = self.worker, self.variables
        plan = worker.plans.plan(
            status,
            self.app_headers,
            len(body),
            method=variables.get("REQUEST_METHOD", "GET"),
            http_version=http_version(variables),
            keep_alive=False,
            uwsgi=True,
        )
        head = plan.template.render(worker.date)
        if not plan.body_allowed:
            body = b""
        elif plan.remaining is not None and len(body) > plan.remaining:
            body = body[: plan.remaining]  # never more than the app's Content-Length
        self.status = status
        self.head_bytes = len(head)
        self.body_bytes = len(body)
        self.header_count = plan.header_count
        if worker.log.enabled:
            worker.log.access(self, self)
        worker.requests += 1
        worker.board.finish(self, self)
        if self.body is not _NO_BODY:
            self.body.close()
        self.pending = head + body
        if worker.batching:
            worker.defer(self)
        else:
            self.flush()

    # -- the end -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send the response and close: the end of the turn (WorkerState.flush), or at once."""
        data, self.pending = self.pending, b""
        sock = self.sock
        try:
            sent = sock.send(data, DONTWAIT)
        except OSError:
            sent = len(data)  # the client is gone: nothing left to deliver
        if sent < len(data):
            # The socket's buffer is full: a connection delivers the rest, then closes. The
            # response is complete and counted; only its delivery remains.
            worker = self.worker
            conn = Connection(worker, self.context, ANSWERED)
            conn.connection_made(SocketTransport(worker.loop, sock, self._peer, conn))
            conn.write(data[sent:])
            conn.close()
            return
        sock.close()
        if self.worker.stopping:
            self.worker.connection_closed()
