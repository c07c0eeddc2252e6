"""What a worker's connections share: the clock, the Date header, the log, the board, counters,
the open carriers and the loop's turn.

A carrier (a `usher.worker.connection.Connection`, or a request answered where it was accepted,
`usher.worker.oneshot.OneShot`) is handed this context, never the worker process: it cannot start
or stop serving, only serve.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import monotonic_ns
from typing import Final, Protocol

from usher.adapters.base import Handler
from usher.logs import ServerLog
from usher.options import Settings
from usher.protocols.events import CodecState, Limits, Request
from usher.protocols.framing import PlanCache
from usher.protocols.http1 import HttpCodec
from usher.protocols.response import format_date
from usher.protocols.uwsgi import UwsgiCodec, VarsDecoder
from usher.worker.backlog import Backlog
from usher.worker.board import Running, WorkerBoard, make_board

# Responses finished in one turn of the loop are written together at its end (Connection.defer)
# while requests take less than BATCH_BELOW_NS on average; none waits longer than FLUSH_AFTER_NS
# plus one request for the others. A hello-world request takes ~8 µs, a Django page ~2.5 ms. The
# average counts what a request costs the loop, so with responses not held it includes their
# write and the access log line (tens of µs on a busy machine): the bound leaves room for that,
# or quick requests measured while not held would keep holding off.
BATCH_BELOW_NS: Final = 200_000
FLUSH_AFTER_NS: Final = 200_000

# A turn that has held the loop this long accepts waiting clients itself (usher.worker.backlog): libuv
# would take one per turn. 5 ms is two Django pages.
ACCEPT_AFTER_NS: Final = 5_000_000


# A stopping worker keeps idle connections this long: a client that connected just before the
# stop (its connection accepted, its request not yet read) must get an answer, not a reset, or a
# chain reload under load would fail requests.
STOP_GRACE: Final = 1.0

_IDLE: Final = CodecState.IDLE


class Carrier(Protocol):
    """A request's carrier as the worker sees it: what holds a response for the turn's end, what
    harakiri asks to abandon its request."""

    @property
    def started_ns(self) -> int: ...

    def flush(self) -> None:
        """Write the responses held for the turn's end."""

    def abandon(self, reply: bytes) -> None:
        """The worker is leaving at once (harakiri): write what is held straight to the socket,
        then `reply` for a request whose response has not started."""


class Waiting(Protocol):
    """A connection whose complete request waits for its turn in arrival order (wait_turn)."""

    def take_turn(self) -> None: ...


class InlineCarrier(Carrier, Running, Protocol):
    """The request the loop is running where it was accepted (usher.worker.oneshot)."""


class Connected(Carrier, Protocol):
    """A carrier with a connection of its own, watched for timeouts."""

    @property
    def idle(self) -> bool: ...

    def check_timeout(self, now: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ListenerContext:
    """What every request on one listener shares: its protocol, limits and handler."""

    protocol: str
    limits: Limits
    handler: Handler
    decoder: VarsDecoder

    def new_codec(self) -> HttpCodec | UwsgiCodec:
        if self.protocol == "http":
            return HttpCodec(self.limits)
        return UwsgiCodec(self.limits, self.decoder)


class WorkerContext:
    """The worker's shared state, as its carriers see it."""

    def __init__(self, settings: Settings, worker_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.worker_id: int = worker_id
        self.connections: set[Connected] = set()
        self.pool = ThreadPoolExecutor(settings.threads) if settings.threads > 1 else None
        self.read_timeout = float(settings.socket_timeout)
        self.idle_timeout = float(settings.http_timeout)
        self.write_timeout = float(settings.http_timeout)
        self.server = b"usher"
        self.plans = PlanCache(self.server)
        self.now = loop.time()
        self.date = format_date(time.time())
        self.clock = time.monotonic
        self.stopping = False
        self.stop_began = 0.0
        self.requests: int = 0
        self.exceptions = 0
        self.backlog = Backlog(loop)
        self.deferred: list[Carrier] = []
        # The one-shot request the loop is running (usher.worker.oneshot), for the scoreboard's
        # reporter and harakiri; connections in progress are in `connections`.
        self.inline: InlineCarrier | None = None
        self.deferred_since = 0
        self.turn_began = 0  # monotonic_ns of the current turn's first request; 0 between turns
        self.accept_checked = 0
        self.recent_ns = 0  # average app time of recent inline requests
        # Recent requests were quick: hold their responses for the end of the turn
        # (Connection.defer). Else complete requests wait for their turn (wait_turn).
        self.batching = True
        self.arrivals: deque[Waiting] = deque()  # complete slow requests, in arrival order
        self._next_turn_soon = self._next_turn  # bound once: scheduled every slow request
        self.board: WorkerBoard = make_board(metered=False)
        self.log = ServerLog.from_settings(settings, pid=os.getpid(), worker_id=worker_id)
        # The log's `enabled`, read twice a request: a plain attribute here, where the log's is
        # looked up by name from the compiled request path.
        self.logging: bool = self.log.enabled
        self._end_turn_soon = self._end_turn  # bound once: scheduled every turn

    # -- the loop's turn -------------------------------------------------------------------
    # Inline requests run inside libuv's callbacks, one turn of the loop serving every ready
    # connection. The turn's start is noted at its first request, and a callback queued then runs
    # when the turn's callbacks are done.

    def defer(self, conn: Carrier, started_ns: int) -> None:
        """Hold `conn`'s complete response, to a request that reached the app at `started_ns`,
        until the turn ends (Connection.defer)."""
        if not self.deferred:
            self.deferred_since = started_ns
            if not self.turn_began:
                self._begin_turn(started_ns)
        self.deferred.append(conn)

    def flush(self) -> None:
        deferred = self.deferred
        if deferred:
            self.deferred = []
            for conn in deferred:
                conn.flush()

    def _begin_turn(self, now: int) -> None:
        self.turn_began = self.accept_checked = now
        self.loop.call_soon(self._end_turn_soon)

    def _end_turn(self) -> None:
        self.turn_began = 0
        self.flush()

    # -- slow requests in arrival order -----------------------------------------------------
    # One turn of the loop serves every connection that epoll found ready, in epoll's order, and
    # with level-triggered epoll (libuv's) that order is the previous turn's. A kept-alive
    # client whose next request came a few µs after the loop polled is last in the next turn
    # again: behind Django (2.5 ms a page), one of 50 wrk connections waited two turns for every
    # request, 270 ms where the others waited 135, and set the p99. Served one per turn of the
    # loop, with a poll between two, requests are answered in the order they arrived, as a
    # server closing each connection answers them from the kernel's accept queue. The poll
    # costs a µs or two, noise beside a request this slow; quick ones do not wait (batching).

    def wait_turn(self, conn: Waiting) -> None:
        """Answer `conn`'s complete request after those that arrived before it, each in a turn
        of the loop of its own."""
        arrivals = self.arrivals
        arrivals.append(conn)
        if len(arrivals) == 1:
            self.loop.call_soon(self._next_turn_soon)

    def _next_turn(self) -> None:
        arrivals = self.arrivals
        conn = arrivals.popleft()
        if arrivals:
            # Queued first: it runs in the loop's next turn, after the poll that queues
            # whatever arrived during this request.
            self.loop.call_soon(self._next_turn_soon)
            # Requests are queued: new clients must queue too, in the order they came. libuv
            # accepts one per turn of the loop, a turn is one request now, and a burst of fifty
            # new clients behind Django would take fifty pages to get in (usher.worker.backlog).
            self.backlog.accept_waiting()
        conn.take_turn()

    def after_inline_request(self, started_ns: int) -> None:
        """Between two inline requests of one turn: decide whether quick responses are held for
        the turn's end, let held ones go once they have waited long enough, and accept waiting
        clients once the turn has held the loop long enough (usher.worker.backlog)."""
        now = monotonic_ns()
        # Holding a response is a bet that the requests after it in the turn are quick too, so
        # it is only made while recent requests were (an average over the last few).
        self.recent_ns = recent = (self.recent_ns * 7 + now - started_ns) >> 3
        self.batching = recent < BATCH_BELOW_NS
        if not self.turn_began:
            self._begin_turn(started_ns)
            return
        if self.deferred and now - self.deferred_since > FLUSH_AFTER_NS:
            self.flush()
        if now - self.accept_checked > ACCEPT_AFTER_NS:
            self.accept_checked = now
            self.backlog.accept_waiting()

    def tick(self) -> None:
        """Once a second: refresh the clock and the Date header, enforce timeouts."""
        self.now = now = self.loop.time()
        self.date = format_date(time.time())
        for conn in list(self.connections):
            conn.check_timeout(now)
        if self.stopping and time.monotonic() - self.stop_began >= STOP_GRACE:
            self.close_idle()
        self.loop.call_later(1.0, self.tick)

    def stop(self) -> None:
        """From now on each response closes its connection; idle ones close after STOP_GRACE,
        and the loop stops once every carrier is done."""
        self.stopping = True
        self.stop_began = time.monotonic()
        self.backlog.stop()
        # Not at once: a connection accepted in this turn of the loop is announced (connection_made)
        # in the next, and leaving before would reset it with its request unread.
        self.loop.call_soon(self.connection_closed)

    def close_idle(self) -> None:
        for conn in list(self.connections):
            if conn.idle:
                conn.close()

    def connection_closed(self) -> None:
        if self.stopping and not self.connections and not self.deferred:
            self.loop.stop()

    def report_exception(self, request: Request, exc: BaseException) -> None:
        """An app raised while answering `request`: log it and count it."""
        self.log.app_exception(request, exc)
        self.exceptions += 1
