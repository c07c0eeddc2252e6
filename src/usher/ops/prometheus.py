"""The stats figures in the Prometheus text exposition format (version 0.0.4).

Counters are per worker id and survive respawns (a slot keeps the totals of the processes that
left it), so a recycle is not a counter reset; only a master re-exec (SIGHUP without lazy-apps)
starts them again, which Prometheus' rate() handles as any restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from usher.ops.figures import ServerFigures, WorkerFigures
from usher.scoreboard import LATENCY_BOUNDS, SHOWN_BUCKETS, STATUS_CLASSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_PER_WORKER: tuple[tuple[str, str, str, Callable[[WorkerFigures], float]], ...] = (
    ("usher_requests_total", "counter", "Requests answered.", lambda w: w.requests),
    ("usher_exceptions_total", "counter", "Exceptions raised by the app.", lambda w: w.exceptions),
    ("usher_sent_bytes_total", "counter", "Response bytes sent.", lambda w: w.tx),
    (
        "usher_worker_respawns_total",
        "counter",
        "Times a new process took the worker id after the first.",
        lambda w: max(w.respawn_count - 1, 0),
    ),
    (
        "usher_harakiri_total",
        "counter",
        "Workers killed for a request past harakiri.",
        lambda w: w.harakiri_count,
    ),
    ("usher_worker_rss_bytes", "gauge", "Resident memory of the worker.", lambda w: w.rss),
    ("usher_worker_vsz_bytes", "gauge", "Address space of the worker.", lambda w: w.vsz),
    (
        "usher_worker_busy",
        "gauge",
        "1 while the worker is in a request.",
        lambda w: int(w.status == "busy"),
    ),
)


def render(figures: ServerFigures) -> bytes:
    """The metrics page."""
    return ("\n".join(_lines(figures)) + "\n").encode()


def _lines(figures: ServerFigures) -> Iterator[str]:
    for name, kind, text, value in _PER_WORKER:
        yield from _header(name, kind, text)
        for worker in figures.workers:
            yield f'{name}{{worker="{worker.id}"}} {value(worker)}'
    yield from _workers_by_state(figures)
    yield from _responses(figures)
    yield from _latency(figures)
    yield from _listen_queue(figures)


def _header(name: str, kind: str, text: str) -> Iterator[str]:
    yield f"# HELP {name} {text}"
    yield f"# TYPE {name} {kind}"


def _workers_by_state(figures: ServerFigures) -> Iterator[str]:
    yield from _header("usher_workers", "gauge", "Workers by state.")
    for state in ("busy", "idle", "cheap"):
        count = sum(1 for worker in figures.workers if worker.status == state)
        yield f'usher_workers{{state="{state}"}} {count}'


def _responses(figures: ServerFigures) -> Iterator[str]:
    yield from _header("usher_responses_total", "counter", "Responses by status class.")
    for klass in range(STATUS_CLASSES):
        count = sum(worker.statuses[klass] for worker in figures.workers)
        yield f'usher_responses_total{{code="{klass + 1}xx"}} {count}'


def _latency(figures: ServerFigures) -> Iterator[str]:
    name = "usher_request_duration_seconds"
    yield from _header(name, "histogram", "Time from a request reaching the app to its last byte.")
    cumulative = sum(sum(worker.buckets[: SHOWN_BUCKETS.start]) for worker in figures.workers)
    for index, bound in zip(SHOWN_BUCKETS, LATENCY_BOUNDS, strict=True):
        cumulative += sum(worker.buckets[index] for worker in figures.workers)
        yield f'{name}_bucket{{le="{bound!r}"}} {cumulative}'
    cumulative = sum(sum(worker.buckets) for worker in figures.workers)
    yield f'{name}_bucket{{le="+Inf"}} {cumulative}'
    seconds = sum(worker.running_time_us for worker in figures.workers) / 1e6
    yield f"{name}_sum {seconds}"
    yield f"{name}_count {cumulative}"


def _listen_queue(figures: ServerFigures) -> Iterator[str]:
    yield from _header("usher_listen_queue", "gauge", "Connections waiting to be accepted.")
    for item in figures.sockets:
        yield f'usher_listen_queue{{socket="{_escape(item.name)}"}} {item.queue}'
    yield from _header("usher_listen_queue_max", "gauge", "Accept backlog of the listener.")
    for item in figures.sockets:
        yield f'usher_listen_queue_max{{socket="{_escape(item.name)}"}} {item.max_queue}'
    yield from _header(
        "usher_listen_queue_full_total", "counter", "Checks that found a listen queue full."
    )
    yield f"usher_listen_queue_full_total {figures.listen_queue_errors}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
