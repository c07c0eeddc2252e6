"""The master's stats side: the endpoints (stats, stats-prometheus) and the listen queues.

The figures are collected when a client asks, not on a timer, so a server nobody watches pays
nothing for its stats. The listen queues are sampled once a second so that `listen_queue_errors`
can count the checks that found a queue full (the kernel then drops new connections).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from usher.adapters.base import HandlerSource
from usher.master.pool import WorkerPool
from usher.options import Settings
from usher.sockets import Listener, listen_queue
from usher.supervise.procfs import read_memory
from usher.supervise.reactor import Reactor

if TYPE_CHECKING:
    from usher.master.preflight import ReloadRecord
    from usher.master.statsserver import StatsEndpoint
    from usher.ops.figures import ServerFigures, SocketFigures


class StatsEndpoints:
    """The stats endpoints (stats, stats-prometheus) and the figures they serve."""

    def __init__(
        self,
        settings: Settings,
        pool: WorkerPool,
        listeners: list[Listener],
        cwd: str,
        reactor: Reactor,
        reloads: ReloadRecord | None = None,
    ) -> None:
        self.settings = settings
        self.reloads = reloads
        self.pool = pool
        self.listeners = listeners
        self.cwd = cwd
        self.endpoints: list[StatsEndpoint] = []
        self.queue_errors = 0
        if settings.stats or settings.stats_prometheus:
            self._add_endpoints(reactor)

    def _add_endpoints(self, reactor: Reactor) -> None:
        # Imported only when a stats option is set: the endpoints, the renderers and the figures
        # are master-only code, and whatever the master imports before forking stays resident
        # in every worker.
        from usher.master.statsserver import StatsEndpoint

        settings = self.settings
        if settings.stats:
            from usher.ops.stats import render_json

            self.endpoints.append(
                StatsEndpoint(
                    settings.stats,
                    reactor,
                    lambda: render_json(self.figures()),
                    http=settings.stats_http,
                )
            )
        if settings.stats_prometheus:
            from usher.ops import prometheus

            self.endpoints.append(
                StatsEndpoint(
                    settings.stats_prometheus,
                    reactor,
                    lambda: prometheus.render(self.figures()),
                    http=True,
                    content_type=prometheus.CONTENT_TYPE,
                )
            )

    def open(self) -> None:
        """Bind every endpoint (sockets.ListenerError names the address and the fix)."""
        for endpoint in self.endpoints:
            endpoint.open()

    def describe(self) -> str:
        """The endpoints' addresses as the startup line shows them."""
        return ", ".join(endpoint.display() for endpoint in self.endpoints)

    def tick(self, now: float) -> None:
        """Drop stale clients; count the listen queues found full (listen_queue_errors)."""
        for endpoint in self.endpoints:
            endpoint.expire(now)
        backlog = self.settings.listen
        for listener in self.listeners:
            queue, max_queue = _queue_of(listener, backlog)
            if queue >= max_queue:
                self.queue_errors += 1

    def sockets(self) -> list[SocketFigures]:
        """Every listener's accept queue, now."""
        from usher.ops.figures import SocketFigures

        backlog = self.settings.listen
        figures = []
        for listener in self.listeners:
            queue, max_queue = _queue_of(listener, backlog)
            figures.append(
                SocketFigures(
                    name=listener.address,
                    proto=listener.protocol,
                    queue=queue,
                    max_queue=max_queue,
                )
            )
        return figures

    def figures(self) -> ServerFigures:
        """Every figure of the server, gathered now (imported when first asked for)."""
        from usher.master.gather import collect

        pool = self.pool
        for proc in pool.procs.values():
            if proc.row is not None:
                # Fresh memory figures for the reader, not the last tick's.
                pool.scoreboard.set_memory(proc.row, *read_memory(proc.pid))
        figures = collect(
            pool.slots.values(),
            pool.procs.values(),
            pool.scoreboard,
            self.sockets(),
            self.queue_errors,
            self.cwd,
            (self.reloads.failed_at, self.reloads.error) if self.reloads else (0.0, ""),
        )
        own = pool.app.figures() if isinstance(pool.app, HandlerSource) else None
        if own:
            figures = dataclasses.replace(figures, sections=tuple(own.items()))
        return figures

    def close(self, *, unlink: bool) -> None:
        """Close every endpoint and its clients (unlink: remove unix socket files)."""
        for endpoint in self.endpoints:
            endpoint.close(unlink=unlink)

    def drop_in_child(self) -> None:
        """In a forked worker: close the inherited descriptors."""
        for endpoint in self.endpoints:
            endpoint.drop_in_child()


def _queue_of(listener: Listener, backlog: int) -> tuple[int, int]:
    """(connections waiting, room) in the listener's accept queue."""
    queue = listen_queue(listener.sock)
    return queue if queue else (0, backlog)
