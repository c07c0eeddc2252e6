"""A worker process: one uvloop event loop serving every inherited listener.

Before the fork the master has bound the sockets and (unless lazy-apps) imported the app. After it,
the worker resets the master's signal handling, loads the app if it must, starts its loop and tells
the master it is ready through the readiness pipe. It exits on SIGTERM/SIGHUP once its in-flight
requests are answered, and at once on SIGQUIT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import uvloop

from usher.appload import AppLoadError, WsgiApp, load_app
from usher.connection import Connection
from usher.logs import ServerLog, write_line
from usher.options import Settings
from usher.protocols.events import Limits
from usher.protocols.http1 import HttpCodec
from usher.protocols.response import format_date
from usher.protocols.uwsgi import UwsgiCodec
from usher.sockets import Listener
from usher.wsgi import base_environ

# Exit statuses that tell the master why a worker ended, so that a broken app stops the server
# instead of being respawned in a loop.
EXIT_OK = 0
EXIT_APP_LOAD_FAILED = 4

READY_RECORD = struct.Struct("=iI")  # worker id, pid


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
        self.now = loop.time()
        self.date = format_date(time.time())
        self.clock = time.monotonic
        self.stopping = False
        self.requests: int = 0
        self.exceptions = 0
        self.servers: list[asyncio.AbstractServer] = []
        self.log = ServerLog(
            enabled=not settings.disable_logging,
            log_format=settings.log_format,
            pid=os.getpid(),
            worker_id=worker_id,
        )

    def tick(self) -> None:
        """Once a second: refresh the clock and the Date header, enforce timeouts."""
        self.now = now = self.loop.time()
        self.date = format_date(time.time())
        for conn in list(self.connections):
            conn.check_timeout(now)
        self.loop.call_later(1.0, self.tick)

    def begin_stop(self) -> None:
        """Stop accepting; close idle connections; leave when in-flight requests are answered."""
        if self.stopping:
            return
        self.stopping = True
        for server in self.servers:
            server.close()
        for conn in list(self.connections):
            if not conn.busy and not conn.queue and conn.codec.state.name == "IDLE":
                conn.close()
        self.connection_closed()

    def connection_closed(self) -> None:
        if self.stopping and not self.connections:
            self.loop.stop()


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


def run_worker(
    settings: Settings,
    app: WsgiApp | None,
    listeners: list[Listener],
    worker_id: int,
    ready_fd: int,
) -> NoReturn:
    """The body of a forked worker; never returns."""
    _reset_signals()
    try:
        import setproctitle

        setproctitle.setproctitle(f"usher worker {worker_id}")
    except ImportError:  # pragma: no cover - a core dependency; titles are cosmetic
        pass
    if app is None:
        try:
            app = load_app(settings)
        except AppLoadError as exc:
            write_line(f"{exc.details}usher worker {worker_id}: {exc}")
            os._exit(EXIT_APP_LOAD_FAILED)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    state = WorkerState(settings, app, worker_id, loop)
    for listener, context in zip(listeners, listener_contexts(settings, listeners), strict=True):
        server = loop.run_until_complete(
            loop.create_server(
                lambda ctx=context: Connection(state, ctx),  # type: ignore[misc]
                sock=listener.sock,
                backlog=settings.listen,
            )
        )
        state.servers.append(server)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, state.begin_stop)
    loop.add_signal_handler(signal.SIGQUIT, lambda: os._exit(EXIT_OK))
    loop.call_later(1.0, state.tick)
    os.write(ready_fd, READY_RECORD.pack(worker_id, os.getpid()))
    os.close(ready_fd)
    try:
        loop.run_forever()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(EXIT_OK)


def _reset_signals() -> None:
    # The master's handlers only enqueue into its own pipe; in a worker they would lose signals.
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    # Ctrl-C reaches the whole process group; the master alone decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The master forks with stop and reload signals blocked; one that arrived meanwhile is
    # delivered here, with the default action (this worker was not serving yet).
    signal.pthread_sigmask(
        signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    )
