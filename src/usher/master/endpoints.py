"""The master's stats side: the endpoints (stats, stats-prometheus) and the listen queues.

The figures are collected when a client asks, not on a timer, so a server nobody watches pays
nothing for its stats. The listen queues are sampled once a second so that `listen_queue_errors`
can count the checks that found a queue full (the kernel then drops new connections).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from usher.master.verdicts import read_memory
from usher.sockets import Listener, listen_queue
from usher.supervise.reactor import Reactor

if TYPE_CHECKING:
    from usher.master.loop import Master
    from usher.master.statsserver import StatsEndpoint
    from usher.ops.figures import ServerFigures, SocketFigures


class Monitor:
    """Stats endpoints and the figures they serve."""

    def __init__(self, master: Master, reactor: Reactor) -> None:
        self.master = master
        self.endpoints: list[StatsEndpoint] = []
        self.queue_errors = 0
        settings = master.settings
        if settings.stats or settings.stats_prometheus:
            self._add_endpoints(reactor)

    def _add_endpoints(self, reactor: Reactor) -> None:
        # Imported only when a stats option is set: the endpoints, the renderers and the figures
        # are master-only code, and whatever the master imports before forking stays resident
        # in every worker.
        from usher.master.statsserver import StatsEndpoint

        settings = self.master.settings
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
        return ", ".join(endpoint.display() for endpoint in self.endpoints)

    def tick(self, now: float) -> None:
        for endpoint in self.endpoints:
            endpoint.expire(now)
        backlog = self.master.settings.listen
        for listener in self.master.listeners:
            queue, max_queue = _queue_of(listener, backlog)
            if queue >= max_queue:
                self.queue_errors += 1

    def sockets(self) -> list[SocketFigures]:
        from usher.ops.figures import SocketFigures

        backlog = self.master.settings.listen
        figures = []
        for listener in self.master.listeners:
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

        master = self.master
        for proc in master.procs.values():
            if proc.row is not None:
                # Fresh memory figures for the reader, not the last tick's.
                master.scoreboard.set_memory(proc.row, *read_memory(proc.pid))
        return collect(
            master.slots.values(),
            master.procs.values(),
            master.scoreboard,
            self.sockets(),
            self.queue_errors,
            master.cwd,
        )

    def close(self, *, unlink: bool) -> None:
        for endpoint in self.endpoints:
            endpoint.close(unlink=unlink)

    def drop_in_child(self) -> None:
        for endpoint in self.endpoints:
            endpoint.drop_in_child()


def _queue_of(listener: Listener, backlog: int) -> tuple[int, int]:
    """(connections waiting, room) in the listener's accept queue."""
    queue = listen_queue(listener.sock)
    return queue if queue else (0, backlog)
