"""The figures as log lines: what master FIFO `s` writes to the log, one line per worker.

A renderer like `usher.ops.stats` and `usher.ops.prometheus`: it only formats figures gathered
elsewhere, so the log agrees with the stats document.
"""

from __future__ import annotations

from collections.abc import Iterator

from usher.ops.figures import ServerFigures


def render(figures: ServerFigures) -> Iterator[str]:
    """A line for the server, then one for each worker."""
    total = sum(worker.requests for worker in figures.workers)
    yield (
        f"usher: stats: master pid {figures.pid}, {total} requests, "
        f"listen queue {figures.listen_queue}"
    )
    for worker in figures.workers:
        yield (
            f"usher: stats: worker {worker.id} pid {worker.pid} {worker.status} "
            f"requests {worker.requests} exceptions {worker.exceptions} "
            f"avg {worker.avg_rt_us}us rss {worker.rss // 1024}KiB "
            f"respawns {worker.respawn_count} harakiri {worker.harakiri_count}"
        )
