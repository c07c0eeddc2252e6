"""Small process helpers for the master: signalling, exit descriptions, the stats log table."""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from usher.exits import EXIT_HARAKIRI, EXIT_MAX_REQUESTS
from usher.logs import write_line
from usher.master.slots import WorkerProcess, WorkerSlot

if TYPE_CHECKING:
    from usher.ops.figures import ServerFigures

# A worker that dies sooner than this after its start counts as a boot failure.
BOOT_WINDOW = 5.0
# Respawn delays for successive boot failures: doubling, capped so that recovery is still prompt.
MAX_RESPAWN_DELAY = 30.0


def kill(pid: int, signum: int) -> None:
    """Send a signal to a worker that may already be gone."""
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def describe_status(status: int) -> str:
    """A wait status as a log reads it: "was killed by SIGKILL", "exited with status 1"."""
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    if os.WEXITSTATUS(status) == EXIT_HARAKIRI:
        return "ended itself after harakiri"
    return f"exited with status {os.WEXITSTATUS(status)}"


def plan_respawn(slot: WorkerSlot, proc: WorkerProcess, status: int, request_limit: int) -> float:
    """Seconds before the slot's next worker starts, after `proc` exited with `status`; logs the
    one line that says why (unless the master ended it and said so already)."""
    if proc.ended_for is not None:
        return 0.0
    where = f"usher: worker {slot.worker_id} (pid {proc.pid})"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_MAX_REQUESTS:
        write_line(f"{where} recycled after {request_limit} requests (max-requests); respawning")
        return 0.0
    lived = time.monotonic() - proc.spawned_at
    slot.boot_failures = slot.boot_failures + 1 if lived < BOOT_WINDOW else 0
    delay = 0.0
    if slot.boot_failures:
        delay = min(MAX_RESPAWN_DELAY, 0.5 * 2 ** (slot.boot_failures - 1))
    write_line(
        f"{where} {describe_status(status)} after {lived:.1f}s; "
        f"respawning{f' in {delay:.1f}s' if delay else ''}"
    )
    return delay


def stats_lines(figures: ServerFigures) -> Iterator[str]:
    """The figures as a few log lines (master FIFO `s`)."""
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
