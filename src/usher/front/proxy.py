"""The exchange that passes one request to an upstream pool and its response back.

The request is buffered whole first (in memory, spooled to a file past client_body_buffer_size),
so a slow client never holds an upstream connection. Then attempts follow, each on one server the
pool's policy picks:

- an attempt fails on a connect error or timeout, a closed or broken connection, no response
  head within the read timeout, or an answer whose status is in `proxy_next_upstream` (502, 503,
  504 by default); a 403 or 404 is an answer like any other and never counts against a server;
- a failed attempt is tried again on another server only if nothing of its response reached the
  client, and either no byte of the request was sent (the connect failed) or the method is
  idempotent; and only within the tries, the time bound and the pool's retry budget;
- when no attempt can be made or retried: 504 after a timeout, else 502 (docs/front.md).

Once the response head is passed on, the body streams with backpressure both ways: a client that
reads slowly pauses reading from the upstream; an upstream failure then can only cut the
client's connection, as nginx does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from usher.adapters.base import Responder, Switching, Tunnel
from usher.adapters.body import RequestBody
from usher.front.headers import response_headers
from usher.front.model import Pass, Protocol
from usher.front.peers import Peer, Pick
from usher.front.pool import PoolState
from usher.front.upstream import IdleConnections, UpstreamConnection, connect
from usher.protocols.events import END, Data, Request, Upgraded
from usher.protocols.http1_client import ClientEvent, Response, ResponseError

# RFC 9110 section 9.2.2: a repeated idempotent request has the effect of one.
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# Spooled bodies go to the upstream in pieces of this size, each after the last drained.
BODY_PIECE: Final = 64 * 1024


class Failure:
    """Why an attempt failed, and whether any byte of the request had gone out."""

    __slots__ = ("reason", "sent", "timeout")

    def __init__(self, reason: str, *, sent: bool, timeout: bool = False) -> None:
        self.reason = reason
        self.sent = sent
        self.timeout = timeout


class ProxyContext:
    """What every proxy exchange of a worker shares: the loop, the log, and the attempts whose
    time limits the worker's tick checks.

    An attempt in flight is watched here rather than by a timer of its own: a timer per request
    (made, then cancelled by the answer) cost more than the rest of the attempt's bookkeeping,
    and the limits are seconds long, so checking them all a few times a second is as exact as
    a client can tell.
    """

    __slots__ = ("log", "loop", "watched")

    def __init__(self, loop: asyncio.AbstractEventLoop, log: object = None) -> None:
        self.loop = loop
        self.log = log
        self.watched: dict[ProxyExchange, None] = {}  # insertion-ordered; a set that keeps order

    def check(self, now: float) -> None:
        """The worker's tick: end the attempts past their connect or read time limit."""
        for exchange in list(self.watched):
            exchange.check_limits(now)


def check_period(limits: list[float]) -> float:
    """How often the tick checks time limits: a quarter of the shortest (a limit fires at most
    a quarter late), within 50 ms and a second."""
    return min(max(min(limits, default=4.0) / 4, 0.05), 1.0)


class ProxyExchange:
    """One request passed to an upstream pool.

    A state machine driven by callbacks (the client's events, the upstream connection's): an
    attempt on an idle kept-alive connection runs without a task or a future, which is most of
    the front's cost per request; only connecting and sending a spooled body run as tasks.
    """

    __slots__ = (
        "attempting",
        "body",
        "client",
        "conn",
        "ctx",
        "drained",
        "encode_head",
        "head",
        "head_sent",
        "idle",
        "keep",
        "last",
        "last_read",
        "out",
        "peer",
        "pick",
        "pool",
        "released",
        "request",
        "route",
        "sent_at",
        "started",
        "task",
        "tried",
        "tunnel",
    )

    def __init__(
        self,
        ctx: ProxyContext,
        route: Pass,
        pool: PoolState,
        idle: list[IdleConnections],
        request: Request,
        responder: Responder,
        encode_head: Callable[[int], bytes],
        pick: Pick,
        spool_threshold: int,
    ) -> None:
        self.ctx = ctx
        self.route = route
        self.pool = pool
        self.idle = idle
        self.request = request
        self.out = responder
        # The request head for the upstream (or the uwsgi packet's header and vars), given the
        # body's length once it is buffered.
        self.encode_head = encode_head
        self.head = b""
        self.pick = pick
        self.body = RequestBody(spool_threshold) if request.has_body else RequestBody.EMPTY
        self.conn: UpstreamConnection | None = None
        self.peer: Peer | None = None
        self.drained: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.tried: list[int] = []
        self.last: Failure | None = None
        self.attempting = False
        self.released = False
        self.head_sent = False
        self.last_read = 0.0
        self.sent_at = 0.0
        self.started = 0.0
        self.tunnel = False
        self.client: Tunnel | None = None  # the client's stream after a 101
        self.keep = False

    # -- the client's side (usher.adapters.base.Exchange) --------------------------------------

    def receive_data(self, data: bytes) -> None:
        self.body.append(data)

    def receive_end(self) -> None:
        body = self.body
        body.finish()
        self.head = self.encode_head(body.length)
        self.started = now = self.ctx.loop.time()
        self.pool.count_request(now)
        self.next_attempt(now)

    def resume(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None and not conn.closed:
            conn.transport.resume_reading()

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.body.close()
        task = self.task
        if task is not None and not task.done():
            task.cancel()
        if self.conn is not None or self.attempting:
            # A client gone mid-response leaves the upstream's unknown: closed, not kept.
            self._end_attempt(reuse=False)

    # -- attempts ------------------------------------------------------------------------------

    def next_attempt(self, now: float) -> None:
        """Start an attempt on the server the policy picks, or answer the error."""
        pool = self.pool
        peer = pool.choose(now, self.pick, self.tried)
        if peer is None:
            self._error(self.last)
            return
        self.tried.append(peer.index)
        self.peer = peer
        self.attempting = True
        pool.started(peer)
        conn = self.idle[peer.index].take(now)
        if conn is not None:
            self._send_on(conn, now)
        else:
            self.sent_at = now  # the connect's start: check_limits bounds it by connect_timeout
            self.ctx.watched[self] = None
            self.task = self.ctx.loop.create_task(self._connect(peer))

    async def _connect(self, peer: Peer) -> None:
        try:
            conn = await connect(self.ctx.loop, peer.server.address)
        except OSError as exc:
            self._fail(Failure(f"connect failed: {exc.strerror or exc}", sent=False))
            return
        if self.released or not self.attempting:
            conn.close()
            return
        self.task = None
        self._send_on(conn, self.ctx.loop.time())

    def _send_on(self, conn: UpstreamConnection, now: float) -> None:
        self.conn = conn
        conn.sink = self
        conn.used += 1
        conn.codec.expect(self.request.method)
        self.sent_at = self.last_read = now
        self.ctx.watched[self] = None
        body = self.body
        if not body.length:
            conn.write(self.head)
            return
        body.rewind()
        if not body.spooled:
            conn.write(self.head + body.read())  # head and body in one write, one segment
            return
        conn.write(self.head)
        self.task = self.ctx.loop.create_task(self._send_spooled(conn))

    async def _send_spooled(self, conn: UpstreamConnection) -> None:
        body = self.body
        while not conn.closed and conn is self.conn:
            piece = body.read(BODY_PIECE)
            if not piece:
                return
            conn.write(piece)
            if conn.paused:
                self.drained = self.ctx.loop.create_future()
                try:
                    await asyncio.wait_for(self.drained, self.route.send_timeout)
                except TimeoutError:
                    reason = "upstream did not read the body in time"
                    self._fail(Failure(reason, sent=True, timeout=True))
                    return

    def _end_attempt(self, *, reuse: bool) -> None:
        """The attempt is over: its connection kept for another request or closed."""
        self.ctx.watched.pop(self, None)
        conn, self.conn = self.conn, None
        if conn is not None:
            if reuse and self.keep:
                peer = self.peer
                assert peer is not None
                self.idle[peer.index].give_back(conn, self.last_read)
            else:
                conn.close()
        if self.attempting:
            self.attempting = False
            peer = self.peer
            assert peer is not None
            self.pool.ended(peer)

    def _fail(self, failure: Failure) -> None:
        """The attempt failed: try another server, or answer the error."""
        if not self.attempting:
            return
        self._end_attempt(reuse=False)
        if self.released:
            return
        now = self.ctx.loop.time()
        peer = self.peer
        assert peer is not None
        self.pool.failed(peer, now, failure.reason)
        self.last = failure
        if self._may_retry(failure, now):
            self.next_attempt(now)
        else:
            self._error(failure)

    def _may_retry(self, failure: Failure, now: float) -> bool:
        retry = self.route.retry
        if self.head_sent or (failure.sent and self.request.method not in IDEMPOTENT):
            return False
        if retry.tries and len(self.tried) >= retry.tries:
            return False
        if retry.timeout and now - self.started >= retry.timeout:
            return False
        return self.pool.may_retry(now)

    # -- the upstream's side (usher.front.upstream.Sink) ---------------------------------------

    def on_event(self, event: ClientEvent) -> None:
        self.last_read = self.ctx.loop.time()
        if type(event) is Data:
            self._pass_body(event.data)
        elif event is END:
            self._complete()
        elif type(event) is Response:
            self._pass_head(event)
        elif type(event) is Upgraded:
            self._pass_body(event.data)
        elif isinstance(event, ResponseError):
            self._broken(event.reason)

    def on_lost(self, reason: str) -> None:
        self.conn = None
        if self.tunnel and self.head_sent:
            self._close_tunnel()
            return
        self._broken(reason)

    def on_drained(self) -> None:
        drained = self.drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def on_whole(self, response: Response, body: bytes) -> None:
        """A whole response came in one read: passed on in one write, the connection freed
        first (the common case of a small answer)."""
        if self.request.method == "HEAD" or response.status < 200:
            self._pass_head(response)
            self._pass_body(body)
            self._complete()
            return
        self._pass_head(response, body)

    def _pass_head(self, response: Response, whole: bytes | None = None) -> None:
        peer = self.peer
        assert peer is not None
        self.last_read = now = self.ctx.loop.time()
        status = response.status
        if status in self.route.retry.statuses and self._retryable_status(now):
            self._fail(Failure(f"answered {status}", sent=True))
            return
        self.pool.answered(peer, now - self.sent_at, now)
        headers = response_headers(response.headers, switching=status == 101)
        extra = self.pool.policy.response_headers(peer, self.pick)
        if extra:
            headers += extra
        reason = response.reason.decode("latin-1") or "Unknown"
        self.head_sent = True
        self.keep = response.keep_alive and self.route.protocol is Protocol.HTTP
        if status == 101:
            if not self.request.upgrade:
                self._end_attempt(reuse=False)
                self.head_sent = False
                self._error(Failure("upstream switched protocols unasked", sent=True))
                return
            out = self.out
            if not isinstance(out, Switching):  # a uwsgi listener carries no tunnel
                self._end_attempt(reuse=False)
                self.head_sent = False
                self._error(Failure("upstream switched protocols on a uwsgi listener", sent=True))
                return
            self.tunnel = True
            client = out.switch(switching_head(reason, headers), self)
            if client is None:  # the client left before the switch
                self._end_attempt(reuse=False)
                return
            self.client = client
            return
        length = None if response.chunked else response.content_length
        try:
            if whole is None:
                self.out.send_head(f"{status} {reason}", headers, length)
                return
            self._end_attempt(reuse=True)
            self.out.send_whole(f"{status} {reason}", headers, whole)
        except ConnectionAbortedError:
            self._end_attempt(reuse=False)
        except ValueError:
            self._end_attempt(reuse=False)
            self.head_sent = False
            self._error(Failure("upstream sent an invalid head", sent=True))

    def _retryable_status(self, now: float) -> bool:
        if self.request.method not in IDEMPOTENT:
            return False
        retry = self.route.retry
        if retry.tries and len(self.tried) >= retry.tries:
            return False
        return len(self.pool.candidates(now, self.tried)) > 0

    def _pass_body(self, data: bytes) -> None:
        client = self.client
        if client is not None:
            client.write(data)
            if client.paused:  # read the upstream again on tunnel_resumed
                self._hold_upstream(True)
            return
        out = self.out
        try:
            out.send_body(data)
        except ConnectionAbortedError:  # the client left: end its request with the upstream's
            self._end_attempt(reuse=False)
            out.abort()
            return
        if out.paused:
            conn = self.conn
            if conn is not None and conn.transport is not None:
                conn.transport.pause_reading()

    def _complete(self) -> None:
        if self.tunnel:
            return  # a 101's head ends its message; the tunnel's bytes follow
        self._end_attempt(reuse=True)
        try:
            self.out.finish()
        except ConnectionAbortedError:
            self.out.abort()

    def _broken(self, reason: str) -> None:
        if not self.head_sent:
            self._fail(Failure(reason, sent=True))
            return
        self._end_attempt(reuse=False)
        self.out.abort()

    def _close_tunnel(self) -> None:
        self._end_attempt(reuse=False)
        client = self.client
        if client is not None:
            client.close()  # what the upstream sent last is written, then the client is closed

    def _hold_upstream(self, held: bool) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None and not conn.closed:
            if held:
                conn.transport.pause_reading()
            else:
                conn.transport.resume_reading()

    # -- a tunnel's client side (usher.adapters.base.TunnelEnd) -------------------------------

    def tunnel_data(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None:
            conn.write(data)

    def tunnel_resumed(self) -> None:
        self._hold_upstream(False)

    def tunnel_lost(self) -> None:
        self.client = None
        if self.conn is not None:
            self._end_attempt(reuse=False)

    def tunnel_tick(self, now: float, stopping: bool) -> None:
        # A proxied stream has no keepalive of its own; a stopping worker ends it, as nginx's
        # worker_shutdown_timeout does, so the stop does not wait for the client to leave.
        if stopping:
            self._close_tunnel()

    # -- timeouts and errors -------------------------------------------------------------------

    def check_limits(self, now: float) -> None:
        """The tick: fail a connect past connect_timeout, or an upstream silent past
        read_timeout (not while the client is the slow one)."""
        if self.conn is None:
            task = self.task
            if self.attempting and now - self.sent_at >= self.route.connect_timeout:
                self.task = None
                if task is not None:
                    task.cancel()
                self._fail(Failure("connect timed out", sent=False, timeout=True))
            return
        if self.tunnel and self.head_sent:
            self.ctx.watched.pop(self, None)
            return  # a tunnel lives as long as both ends want it
        if now - self.last_read < self.route.read_timeout or self.out.paused:
            return
        if not self.head_sent:
            self._fail(Failure("upstream timed out", sent=True, timeout=True))
            return
        self._end_attempt(reuse=False)
        self.out.abort()

    def _error(self, failure: Failure | None) -> None:
        if self.head_sent or self.released:
            return
        if failure is not None and failure.timeout:
            status, text = "504 Gateway Timeout", "upstream timed out"
        else:
            reason = failure.reason if failure is not None else "no healthy upstream server"
            status, text = "502 Bad Gateway", reason
        body = f"{status[4:]}: {text}\n".encode()
        with contextlib.suppress(ConnectionAbortedError):
            self.out.send_whole(status, [("Content-Type", "text/plain; charset=utf-8")], body)


def switching_head(reason: str, headers: list[tuple[str, str]]) -> bytes:
    """The 101 head passed to the client as the upstream sent it (less its hop-by-hop fields
    other than Upgrade and Connection): the new protocol's handshake is in those fields."""
    lines = [f"HTTP/1.1 101 {reason}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")
