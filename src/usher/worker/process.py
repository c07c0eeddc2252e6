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
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

import uvloop

from usher import logfile, procname
from usher.adapters.base import App
from usher.adapters.lifespan import LifespanFailed, Lifespans
from usher.adapters.load import (
    AppLoadError,
    change_dir_after_load,
    load_app,
    load_mounts,
)
from usher.exits import EXIT_APP_LOAD_FAILED, EXIT_HARAKIRI, EXIT_MAX_REQUESTS, EXIT_OK
from usher.logs import reopen_loggers, write_line
from usher.options import Settings
from usher.scoreboard import Layout, Scoreboard, ServerTotal
from usher.sockets import Listener
from usher.worker import harakiri
from usher.worker.board import Recycling, Reporter, cores_for, make_board
from usher.worker.connection import Connection
from usher.worker.context import ListenerContext, WorkerContext
from usher.worker.handlers import listener_contexts
from usher.worker.oneshot import OneShotAcceptor
from usher.worker.proxied import ProxiedConnection

READY_RECORD = struct.Struct("=iI")  # worker id, pid


@dataclass(frozen=True, slots=True)
class Seat:
    """Where the master puts a forked worker: its id, the readiness pipe and its scoreboard row
    (None when every row is taken: the worker then keeps its figures to itself)."""

    worker_id: int
    ready_fd: int
    scoreboard: Scoreboard
    row: int | None
    first: bool = False  # the slot's first worker under this master (hook-accepting1-once)


class Worker:
    """The process around a worker's context: its accepting servers, and why it leaves."""

    def __init__(self, settings: Settings, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.exit_status = EXIT_OK
        self.born = time.monotonic()
        self.min_lifetime = float(settings.min_worker_lifetime)
        self.servers: list[asyncio.AbstractServer] = []
        self.acceptors: list[OneShotAcceptor] = []
        self.contexts: list[ListenerContext] = []

    def begin_stop(self) -> None:
        """Stop accepting; leave when in-flight requests are answered (WorkerContext.stop)."""
        if self.ctx.stopping:
            return
        for server in self.servers:
            server.close()
        for acceptor in self.acceptors:
            acceptor.stop()
        self.ctx.stop()

    def max_requests_reached(self) -> None:
        """Leave for a successor, once old enough (min-worker-lifetime)."""
        wait = self.born + self.min_lifetime - time.monotonic()
        if wait > 0:
            self.ctx.loop.call_later(wait, self.max_requests_reached)
            return
        self.exit_status = EXIT_MAX_REQUESTS
        self.begin_stop()


def request_limit(settings: Settings, worker_id: int) -> int:
    """This worker's max-requests, spread by max-requests-delta so workers recycle apart."""
    if not settings.max_requests:
        return 0
    return settings.max_requests + worker_id * settings.max_requests_delta


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
    settings: Settings, app: App | None, listeners: list[Listener], seat: Seat
) -> NoReturn:
    """The body of a forked worker; never returns."""
    worker_id = seat.worker_id
    master_pid = os.getppid()
    _reset_signals()
    procname.set_title(settings, f"usher worker {worker_id}")
    _limit_address_space(settings.limit_as)
    if app is None:
        _run_hooks(worker_id, "hook-pre-app", settings.hook_pre_app)
        try:
            app = load_app(settings)
        except AppLoadError as exc:
            write_line(f"{exc.details}usher worker {worker_id}: {exc}")
            os._exit(EXIT_APP_LOAD_FAILED)
        _run_hooks(worker_id, "hook-post-app", settings.hook_post_app)
        try:
            change_dir_after_load(settings)
        except AppLoadError as exc:
            write_line(f"usher worker {worker_id}: {exc}")
            os._exit(EXIT_APP_LOAD_FAILED)
    try:
        # Mounted apps load in each worker, after fork: the master hands workers one app.
        mounts = load_mounts(settings)
    except AppLoadError as exc:
        write_line(f"{exc.details}usher worker {worker_id}: {exc}")
        os._exit(EXIT_APP_LOAD_FAILED)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    ctx = WorkerContext(settings, worker_id, loop)
    ctx.log.total = ServerTotal(seat.scoreboard.memory, seat.scoreboard.layout.total_offset)
    worker = Worker(settings, ctx)
    reporter = _attach_board(worker, settings, seat)
    lifespans = Lifespans(settings.asgi_lifespan, partial(_say, worker_id))
    worker.contexts = contexts = listener_contexts(settings, listeners, app, ctx, mounts, lifespans)
    for listener, context in zip(listeners, contexts, strict=True):
        if listener.protocol == "uwsgi":
            # One request per connection: usher.worker.oneshot accepts and answers it in one
            # callback.
            worker.acceptors.append(OneShotAcceptor(ctx, listener.sock, context))
            continue
        # Only listeners that expect a PROXY header get connections that read one.
        kind = ProxiedConnection if settings.http_enable_proxy_protocol else Connection
        factory = partial(kind, ctx, context)
        ctx.backlog.add(listener.sock, factory)
        for sock in accept_handles(listener, settings.processes):
            server = loop.run_until_complete(
                loop.create_server(factory, sock=sock, backlog=settings.listen, start_serving=False)
            )
            worker.servers.append(server)
    # Signal handlers are installed, and connections accepted, only once the loop runs: uvloop
    # hears signals only while it runs, so one that arrived between add_signal_handler() and
    # run_forever() would be lost, and a stop request with it.
    loop.create_task(_start_serving(worker, settings, reporter, seat, lifespans))
    loop.call_later(ORPHAN_CHECK, _watch_master, worker, master_pid, settings.worker_reload_mercy)
    try:
        loop.run_forever()
        if lifespans.started:
            # Within the master's mercy, which kills a worker that takes longer to leave. A
            # worker stopped during its startup leaves at once: it never served.
            loop.run_until_complete(lifespans.shutdown(settings.worker_reload_mercy / 2))
    finally:
        reporter.stop()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(worker.exit_status)


async def _start_serving(
    worker: Worker, settings: Settings, reporter: Reporter, seat: Seat, lifespans: Lifespans
) -> None:
    ctx = worker.ctx
    try:
        _install_signals(worker, settings)
        # ASGI lifespan startup first: no request reaches an app whose startup is not done, and
        # the master hears "ready" only after it.
        try:
            await lifespans.startup()
        except LifespanFailed as exc:
            write_line(f"usher worker {seat.worker_id}: {exc}")
            os._exit(EXIT_APP_LOAD_FAILED)
        for server in worker.servers:
            await server.start_serving()
        for acceptor in worker.acceptors:
            acceptor.start()
        ctx.loop.call_later(1.0, ctx.tick)
        handlers = [context.handler for context in worker.contexts]
        loop_shared = any(handler.runs_coroutines for handler in handlers)
        for handler in handlers:
            handler.serving(loop_shared)
        reporter.start()
        if settings.py_autoreload and seat.worker_id == 1:
            _watch_modules(settings.py_autoreload)
        os.write(seat.ready_fd, READY_RECORD.pack(seat.worker_id, os.getpid()))
        os.close(seat.ready_fd)
        if seat.worker_id == 1 and seat.first and settings.hook_accepting1_once:
            _run_hooks(1, "hook-accepting1-once", settings.hook_accepting1_once, fatal=False)
    except BaseException as exc:  # a worker that cannot serve must not linger half-started
        write_line(f"usher worker {seat.worker_id}: cannot start serving: {exc!r}")
        os._exit(1)


# no-orphans (always on): once a second the worker checks that its master is still its parent. A
# master killed by SIGKILL cannot tell its workers anything; orphans re-parented to init would go
# on serving on the old sockets, and a restart would find the port taken. PR_SET_PDEATHSIG would
# kill them mid-request; this lets them finish what they hold, as a graceful stop does.
ORPHAN_CHECK = 1.0


def _watch_master(worker: Worker, master_pid: int, mercy: int) -> None:
    if os.getppid() == master_pid:
        worker.ctx.loop.call_later(ORPHAN_CHECK, _watch_master, worker, master_pid, mercy)
        return
    write_line(
        f"usher worker {worker.ctx.worker_id}: the master (pid {master_pid}) is gone; "
        "finishing in-flight requests, then leaving"
    )
    worker.begin_stop()
    # Nobody is left to enforce worker-reload-mercy: the worker bounds its own stop.
    worker.ctx.loop.call_later(mercy, os._exit, EXIT_OK)


def _say(worker_id: int, text: str) -> None:
    write_line(f"usher worker {worker_id}: {text}")


def _run_hooks(worker_id: int, option: str, texts: tuple[str, ...], *, fatal: bool = True) -> None:
    """Run a moment's hooks in this worker; a failure ends a worker that has not loaded its app
    (as the master's start would end), and is only logged once the worker serves."""
    if not texts:
        return
    from usher.supervise.hooks import HookFailed, run_hooks  # only configs with hooks need it

    try:
        run_hooks(option, texts)
    except HookFailed as exc:
        write_line(f"usher worker {worker_id}: {exc}")
        if fatal:
            os._exit(EXIT_APP_LOAD_FAILED)


def _watch_modules(period: int) -> None:
    """py-autoreload: when a module's file changes, ask the master for a graceful reload (the
    SIGHUP path, so it is the reload an operator would get)."""
    try:
        from usher.supervise.autoreload import watch_loaded_modules
    except ImportError:  # pragma: no cover - the dev extra is missing
        write_line("usher worker 1: py-autoreload needs watchfiles: pip install watchfiles")
        return

    def reload(paths: list[str]) -> None:
        write_line(f"usher worker 1: py-autoreload: {', '.join(paths)} changed; reloading")
        os.kill(os.getppid(), signal.SIGHUP)

    watch_loaded_modules(period, reload)


def _attach_board(worker: Worker, settings: Settings, seat: Seat) -> Reporter:
    scoreboard, index = seat.scoreboard, seat.row
    if index is None:
        layout = Layout(1, cores_for(settings.threads))
        memory: Any = bytearray(layout.size)
        index = 0
    else:
        layout, memory = scoreboard.layout, scoreboard.memory
    board = make_board(metered=settings.stats_prometheus is not None)
    limit = request_limit(settings, seat.worker_id)
    ctx = worker.ctx
    ctx.board = Recycling(board, limit, worker.max_requests_reached) if limit else board
    return Reporter(board, ctx, memory, layout, index)


def _install_signals(worker: Worker, settings: Settings) -> None:
    loop = worker.ctx.loop
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, worker.begin_stop)
    loop.add_signal_handler(signal.SIGQUIT, lambda: os._exit(EXIT_OK))
    # SIGUSR1: the master reopened the logs (logrotate, log-maxsize); without SIGUSR1 handled
    # at all, its default action would end the worker.
    loop.add_signal_handler(signal.SIGUSR1, _reopen_logs, logfile.log_path(settings))
    harakiri.install(worker.ctx, EXIT_HARAKIRI)


def _reopen_logs(path: str | None) -> None:
    if path is not None:
        logfile.reopen(path)
    reopen_loggers()


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
