"""The master's stats side: the endpoints (stats, stats-prometheus) and the listen queues.

The figures are collected when a client asks, not on a timer, so a server nobody watches pays
nothing for its stats. The listen queues are sampled once a second so that `listen_queue_errors`
can count the checks that found a queue full (the kernel then drops new connections).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from usher import prometheus
from usher.figures import ServerFigures, SocketFigures, collect
from usher.limits import read_memory
from usher.reactor import Reactor
from usher.sockets import Listener, listen_queue
from usher.stats import render_json
from usher.statsserver import StatsEndpoint

if TYPE_CHECKING:
    from usher.master import Master


class Monitor:
    """Stats endpoints and the figures they serve."""

    def __init__(self, master: Master, reactor: Reactor) -> None:
        self.master = master
        self.endpoints: list[StatsEndpoint] = []
        self.queue_errors = 0
        settings = master.settings
        if settings.stats:
            self.endpoints.append(
                StatsEndpoint(
                    settings.stats,
                    reactor,
                    lambda: render_json(self.figures()),
                    http=settings.stats_http,
                )
            )
        if settings.stats_prometheus:
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
        for item in self.sockets():
            if item.queue >= item.max_queue:
                self.queue_errors += 1

    def sockets(self) -> list[SocketFigures]:
        backlog = self.master.settings.listen
        return [_socket_figures(listener, backlog) for listener in self.master.listeners]

    def figures(self) -> ServerFigures:
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


def _socket_figures(listener: Listener, backlog: int) -> SocketFigures:
    queue = listen_queue(listener.sock)
    return SocketFigures(
        name=listener.address,
        proto=listener.protocol,
        queue=queue[0] if queue else 0,
        max_queue=queue[1] if queue else backlog,
    )
