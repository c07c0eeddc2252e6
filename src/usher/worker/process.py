"""A worker process: one uvloop event loop serving every inherited listener.

Before the fork the master has bound the sockets and (unless lazy-apps) imported the app. After it,
the worker resets the master's signal handling, loads the app if it must, starts its loop and tells
the master it is ready through the readiness pipe. It exits on SIGTERM/SIGHUP once its in-flight
requests are answered, and at once on SIGQUIT. SIGUSR1 reopens the log file; SIGUSR2 is harakiri
(see `usher.worker.harakiri`).

Each request is counted on the worker's board, which a reporter thread copies into the worker's
scoreboard row once a second (`usher.worker.board`). After `max-requests` requests the worker stops
accepting, finishes what it holds and exits with EXIT_MAX_REQUESTS, and the master starts its
successor.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import sys
import time
from asyncio.events import _set_running_loop
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from time import monotonic_ns
from typing import Any, NoReturn

import uvloop

from usher import logfile
from usher.adapters.load import AppLoadError, WsgiApp, load_app
from usher.adapters.wsgi import base_environ
from usher.exits import EXIT_APP_LOAD_FAILED, EXIT_HARAKIRI, EXIT_MAX_REQUESTS, EXIT_OK
from usher.logs import ServerLog, write_line
from usher.options import Settings
from usher.protocols.events import Limits
from usher.protocols.framing import PlanCache
from usher.protocols.http1 import HttpCodec
from usher.protocols.response import format_date
from usher.protocols.uwsgi import UwsgiCodec
from usher.scoreboard import Layout, Scoreboard
from usher.sockets import Listener
from usher.worker import harakiri
from usher.worker.backlog import Backlog
from usher.worker.board import Board, Recycling, Reporter, cores_for, make_board
from usher.worker.connection import Connection
from usher.worker.oneshot import OneShot, OneShotAcceptor

READY_RECORD = struct.Struct("=iI")  # worker id, pid

# A stopping worker keeps idle connections this long: a client that connected just before the
# stop (its connection accepted, its request not yet read) must get an answer, not a reset, or a
# chain reload under load would fail requests.
STOP_GRACE = 1.0

# Responses finished in one turn of the loop are written together at its end (Connection.defer)
# while requests take less than BATCH_BELOW_NS on average; none waits longer than FLUSH_AFTER_NS
# plus one request for the others. A hello-world request takes ~8 µs, a Django page ~2.5 ms. The
# average counts what a request costs the loop, so with responses not held it includes their
# write and the access log line (tens of µs on a busy machine): the bound leaves room for that,
# or quick requests measured while not held would keep holding off.
BATCH_BELOW_NS = 200_000
FLUSH_AFTER_NS = 200_000

# A turn that has held the loop this long accepts waiting clients itself (usher.worker.backlog): libuv
# would take one per turn. 5 ms is two Django pages.
ACCEPT_AFTER_NS = 5_000_000


@dataclass(frozen=True, slots=True)
class Seat:
    """Where the master puts a forked worker: its id, the readiness pipe and its scoreboard row
    (None when every row is taken: the worker then keeps its figures to itself)."""

    worker_id: int
    ready_fd: int
    scoreboard: Scoreboard
    row: int | None


@dataclass(frozen=True, slots=True)
class ListenerContext:
    """What every connection on one listener shares: its codec kind, limits and base environ."""

    protocol: str
    limits: Limits
    base_environ: dict[str, Any]

    def new_codec(self) -> HttpCodec | UwsgiCodec:
        if self.protocol == "http":
            return HttpCodec(self.limits)
        return UwsgiCodec(self.limits)


class WorkerState:
    """The worker's shared state: app, clock, Date header, counters and open connections."""

    def __init__(
        self, settings: Settings, app: WsgiApp, worker_id: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.app = app
        self.loop = loop
        self.worker_id: int = worker_id
        self.connections: set[Connection] = set()
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
        self.exit_status = EXIT_OK
        self.born = time.monotonic()
        self.min_lifetime = float(settings.min_worker_lifetime)
        self.servers: list[asyncio.AbstractServer] = []
        self.acceptors: list[OneShotAcceptor] = []
        self.backlog = Backlog(loop)
        self.deferred: list[Connection | OneShot] = []
        # The one-shot request the loop is running (usher.worker.oneshot), for the scoreboard's
        # reporter and harakiri; connections in progress are in `connections`.
        self.inline: OneShot | None = None
        self.deferred_since = 0
        self.turn_began = 0  # monotonic_ns of the current turn's first request; 0 between turns
        self.accept_checked = 0
        self.recent_ns = 0  # average app time of recent inline requests
        self.batching = True  # hold quick responses for the end of the turn (Connection.defer)
        self.board: Board = make_board(metered=False)
        self.log = ServerLog(
            enabled=not settings.disable_logging,
            log_format=settings.log_format,
            pid=os.getpid(),
            worker_id=worker_id,
        )

    # -- the loop's turn -------------------------------------------------------------------
    # Inline requests run inside libuv's callbacks, one turn of the loop serving every ready
    # connection. The turn's start is noted at its first request, and a callback queued then runs
    # when the turn's callbacks are done.

    def defer(self, conn: Connection | OneShot) -> None:
        """Hold `conn`'s complete response until the turn ends (Connection.defer)."""
        if not self.deferred:
            self.deferred_since = conn.started_ns
            if not self.turn_began:
                self._begin_turn(conn.started_ns)
        self.deferred.append(conn)

    def flush(self) -> None:
        deferred = self.deferred
        if deferred:
            self.deferred = []
            for conn in deferred:
                conn.flush()

    def _begin_turn(self, now: int) -> None:
        self.turn_began = self.accept_checked = now
        self.loop.call_soon(self._end_turn)

    def _end_turn(self) -> None:
        self.turn_began = 0
        self.flush()

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

    def begin_stop(self) -> None:
        """Stop accepting; leave when in-flight requests are answered. Each response from now on
        closes its connection; idle connections are closed after STOP_GRACE."""
        if self.stopping:
            return
        self.stopping = True
        self.stop_began = time.monotonic()
        self.backlog.stop()
        for server in self.servers:
            server.close()
        for acceptor in self.acceptors:
            acceptor.stop()
        # Not at once: a connection accepted in this turn of the loop is announced (connection_made)
        # in the next, and leaving before would reset it with its request unread.
        self.loop.call_soon(self.connection_closed)

    def close_idle(self) -> None:
        for conn in list(self.connections):
            if not conn.busy and not conn.queue and conn.codec.state.name == "IDLE":
                conn.close()

    def connection_closed(self) -> None:
        if self.stopping and not self.connections and not self.deferred:
            self.loop.stop()

    def max_requests_reached(self) -> None:
        """Leave for a successor, once old enough (min-worker-lifetime)."""
        wait = self.born + self.min_lifetime - time.monotonic()
        if wait > 0:
            self.loop.call_later(wait, self.max_requests_reached)
            return
        self.exit_status = EXIT_MAX_REQUESTS
        self.begin_stop()


def request_limit(settings: Settings, worker_id: int) -> int:
    """This worker's max-requests, spread by max-requests-delta so workers recycle apart."""
    if not settings.max_requests:
        return 0
    return settings.max_requests + worker_id * settings.max_requests_delta


def listener_contexts(settings: Settings, listeners: list[Listener]) -> list[ListenerContext]:
    limits = Limits(
        max_head=settings.buffer_size,
        max_body=settings.limit_post,
        spool_threshold=settings.post_buffering,
    )
    contexts = []
    for listener in listeners:
        name, port = listener.server_name_port()
        environ = base_environ(
            server_name=name,
            server_port=port,
            multithread=settings.threads > 1,
            multiprocess=settings.processes > 1,
        )
        contexts.append(ListenerContext(listener.protocol, limits, environ))
    return contexts


# libuv accepts one connection per listening handle and loop iteration. With clients that open a
# connection per request (a proxy without keep-alive), a worker watching its HTTP socket once would
# take one request per iteration and pay a whole iteration (epoll, the turn's bookkeeping) for
# each: measured with one worker behind nginx, before uwsgi listeners had their own acceptor
# (usher.worker.oneshot), nginx served 4% fewer requests and spent 3 µs more per request than with 8
# handles. Each handle also wakes for every new connection and most find nothing (EAGAIN,
# ~0.5 µs), and every worker on the socket wakes, so the handles are shared out: one worker gets 8,
# four workers 2 each, and from 8 workers on each has 1.
ACCEPT_HANDLES = 8


def accept_handles(listener: Listener, processes: int) -> list[socket.socket]:
    """The listener's socket and duplicates of it, one uvloop server each."""
    count = max(1, ACCEPT_HANDLES // max(1, processes))
    return [listener.sock, *(listener.sock.dup() for _ in range(count - 1))]


def run_worker(
    settings: Settings, app: WsgiApp | None, listeners: list[Listener], seat: Seat
) -> NoReturn:
    """The body of a forked worker; never returns."""
    worker_id = seat.worker_id
    _reset_signals()
    try:
        import setproctitle

        setproctitle.setproctitle(f"usher worker {worker_id}")
    except ImportError:  # pragma: no cover - a core dependency; titles are cosmetic
        pass
    _limit_address_space(settings.limit_as)
    if app is None:
        try:
            app = load_app(settings)
        except AppLoadError as exc:
            write_line(f"{exc.details}usher worker {worker_id}: {exc}")
            os._exit(EXIT_APP_LOAD_FAILED)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    state = WorkerState(settings, app, worker_id, loop)
    reporter = _attach_board(state, settings, seat)
    for listener, context in zip(listeners, listener_contexts(settings, listeners), strict=True):
        if listener.protocol == "uwsgi":
            # One request per connection: usher.worker.oneshot accepts and answers it in one callback.
            state.acceptors.append(OneShotAcceptor(state, listener.sock, context))
            continue
        factory = partial(Connection, state, context)
        state.backlog.add(listener.sock, factory)
        for sock in accept_handles(listener, settings.processes):
            server = loop.run_until_complete(
                loop.create_server(factory, sock=sock, backlog=settings.listen, start_serving=False)
            )
            state.servers.append(server)
    # Signal handlers are installed, and connections accepted, only once the loop runs: uvloop
    # hears signals only while it runs, so one that arrived between add_signal_handler() and
    # run_forever() would be lost, and a stop request with it.
    loop.create_task(_start_serving(state, settings, reporter, seat))
    try:
        loop.run_forever()
    finally:
        reporter.stop()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(state.exit_status)


async def _start_serving(
    state: WorkerState, settings: Settings, reporter: Reporter, seat: Seat
) -> None:
    try:
        _install_signals(state, settings)
        for server in state.servers:
            await server.start_serving()
        for acceptor in state.acceptors:
            acceptor.start()
        state.loop.call_later(1.0, state.tick)
        reporter.start()
        os.write(seat.ready_fd, READY_RECORD.pack(seat.worker_id, os.getpid()))
        os.close(seat.ready_fd)
        # A WSGI app is synchronous code and runs inline: it must not see a running loop, or
        # frameworks refuse blocking work (Django raises SynchronousOnlyOperation on the ORM).
        # Hidden once here, not around each request: the setter calls getpid() on Python 3.11.
        # Nothing of the worker's own asks for the running loop after this point.
        _set_running_loop(None)
    except BaseException as exc:  # a worker that cannot serve must not linger half-started
        write_line(f"usher worker {seat.worker_id}: cannot start serving: {exc!r}")
        os._exit(1)


def _attach_board(state: WorkerState, settings: Settings, seat: Seat) -> Reporter:
    scoreboard, index = seat.scoreboard, seat.row
    if index is None:
        layout = Layout(1, cores_for(settings.threads))
        memory: Any = bytearray(layout.size)
        index = 0
    else:
        layout, memory = scoreboard.layout, scoreboard.memory
    board = make_board(metered=settings.stats_prometheus is not None)
    limit = request_limit(settings, seat.worker_id)
    state.board = Recycling(board, limit, state.max_requests_reached) if limit else board
    return Reporter(board, state, memory, layout, index)


def _install_signals(state: WorkerState, settings: Settings) -> None:
    loop = state.loop
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, state.begin_stop)
    loop.add_signal_handler(signal.SIGQUIT, lambda: os._exit(EXIT_OK))
    path = logfile.log_path(settings)
    if path is not None:
        loop.add_signal_handler(signal.SIGUSR1, logfile.reopen, path)
    else:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # its default action would end the worker
    harakiri.install(state, EXIT_HARAKIRI)


def _limit_address_space(megabytes: int) -> None:
    if megabytes:
        import resource  # only with limit-as: not worth its memory in every worker

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _reset_signals() -> None:
    # The master's handlers only enqueue into its own pipe; in a worker they would lose signals.
    # The master forks with stop and reload signals blocked; one that arrived meanwhile is
    # delivered at the unblock below, with the default action (the worker was not serving yet).
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    # Ctrl-C reaches the whole process group; the master alone decides how workers stop. A log
    # reopen (SIGUSR1) may reach a worker still importing the app: it must not end it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.pthread_sigmask(
        signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    )
