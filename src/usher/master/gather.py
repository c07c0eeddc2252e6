"""The master gathers the figures (usher.ops.figures) from its slots and the scoreboard."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Sequence

from usher import __version__
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.ops.figures import CoreFigures, ServerFigures, SocketFigures, WorkerFigures
from usher.scoreboard import RowView, Scoreboard


def collect(
    slots: Iterable[WorkerSlot],
    procs: Iterable[WorkerProcess],
    scoreboard: Scoreboard,
    sockets: Sequence[SocketFigures],
    listen_queue_errors: int,
    cwd: str,
    reload_failure: tuple[float, str] = (0.0, ""),
) -> ServerFigures:
    """Gather the figures now."""
    rows: dict[int, list[tuple[WorkerProcess, RowView]]] = {}
    for proc in procs:
        if proc.row is not None:
            rows.setdefault(proc.worker_id, []).append((proc, scoreboard.read(proc.row)))
    workers = tuple(worker_figures(slot, rows.get(slot.worker_id, [])) for slot in slots)
    return ServerFigures(
        version=__version__,
        pid=os.getpid(),
        uid=os.getuid(),
        gid=os.getgid(),
        cwd=cwd,
        listen_queue=max((item.queue for item in sockets), default=0),
        listen_queue_errors=listen_queue_errors,
        sockets=tuple(sockets),
        workers=workers,
        reload_failed_at=int(reload_failure[0]),
        reload_error=reload_failure[1],
    )


def worker_figures(
    slot: WorkerSlot, rows: Sequence[tuple[WorkerProcess, RowView]]
) -> WorkerFigures:
    """One slot's figures: the totals of its past processes plus every live one's row."""
    totals = dataclasses.replace(slot.totals)
    for _, row in rows:
        totals.add(row)
    current = next((row for proc, row in rows if proc is slot.current), None)
    return WorkerFigures(
        id=slot.worker_id,
        pid=slot.pid,
        status=_status(slot, current),
        accepting=current is not None and current.accepting,
        requests=totals.requests,
        delta_requests=current.requests if current is not None else 0,
        exceptions=totals.exceptions,
        harakiri_count=slot.harakiris,
        rss=current.rss if current is not None else 0,
        vsz=current.vsz if current is not None else 0,
        running_time_us=totals.running_ns // 1000,
        last_spawn=int(slot.current.spawned_wall) if slot.current is not None else 0,
        respawn_count=slot.spawns,
        tx=totals.tx,
        avg_rt_us=slot.avg_rt_us,
        timed=totals.timed,
        statuses=tuple(totals.statuses),
        buckets=tuple(totals.buckets),
        cores=_cores(current),
    )


def _status(slot: WorkerSlot, row: RowView | None) -> str:
    if slot.cheap:
        return "cheap"
    return "busy" if row is not None and row.busy else "idle"


def _cores(row: RowView | None) -> tuple[CoreFigures, ...]:
    if row is None:
        return ()
    now_ns, now = time.monotonic_ns(), time.time()
    return tuple(
        CoreFigures(
            id=index,
            requests=core.requests,
            in_request=bool(core.started_ns),
            request_start=int(now - (now_ns - core.started_ns) / 1e9) if core.started_ns else 0,
            method=core.method,
            uri=core.uri,
            client=core.client,
        )
        for index, core in enumerate(row.cores)
    )
