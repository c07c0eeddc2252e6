"""A worker's side of the scoreboard: one mark and one call per request, the rest once a second.

The request path pays for a clock read when the app is called (`Connection.started_ns`) and one
call when the response is complete (`WorkerBoard.finish`: a second clock read and a few integer
additions on plain attributes; it is given plain values, so the compiled form reads nothing by
name): about 0.2 µs against a budget of 3% of a hello-world request (~15 µs). It touches no
shared memory: a store into a shared page costs more on a real request path than in a micro
benchmark, because the kernel's networking work in between evicts the page from the cache.

A reporter thread copies everything into the shared row once a second: the counters, and the
start, method, URI and client of the requests in progress (the busy connections, oldest first,
one per core). A thread, not the event loop, so that a request stuck in the app (the loop blocked,
which is when the master needs to name it) is still described; it holds the GIL for a few
microseconds a second. Each flush also records when it ran: a flush that stops coming means an app
holding the interpreter inside C code, which the master treats as a harakiri case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from time import monotonic_ns
from typing import TYPE_CHECKING, Any, Final, Protocol

from usher.scoreboard import (
    BUCKETS,
    CLIENT_SIZE,
    COUNTERS,
    DETAILS,
    METHOD_SIZE,
    START,
    STATUS_CLASSES,
    URI_SIZE,
    Layout,
)

if TYPE_CHECKING:
    import mmap

    from usher.protocols.events import Request

# How often the shared row is refreshed: stats readers poll once a second (uwsgitop's default).
FLUSH_INTERVAL: Final = 1.0


class Sent(Protocol):
    """What the board and the access log read of a response (usher.worker.responder.Responder)."""

    @property
    def request(self) -> Request | None: ...
    @property
    def status(self) -> str: ...
    @property
    def head_bytes(self) -> int: ...
    @property
    def body_bytes(self) -> int: ...


class Running(Protocol):
    """A request's carrier as the board and the reporter read it: a Connection, or a request
    answered where it was accepted (usher.worker.oneshot.OneShot)."""

    @property
    def busy(self) -> bool: ...
    @property
    def started_ns(self) -> int: ...
    @property
    def client(self) -> str: ...
    @property
    def responder(self) -> Sent: ...


class WorkerCounters(Protocol):
    """What the reporter reads from the worker: its counters and its requests in progress."""

    requests: int
    exceptions: int
    stopping: bool

    @property
    def connections(self) -> set[Any]: ...
    @property
    def inline(self) -> Running | None: ...


class WorkerBoard:
    """The worker's per-request counters: time in requests and bytes sent."""

    __slots__ = ("buckets", "running", "statuses", "tx")

    def __init__(self) -> None:
        self.running = 0
        self.tx = 0
        # Metered only: responses whose status is not 2xx, by the status line's first character;
        # 2xx is the rest, so the common case costs one comparison.
        self.statuses = dict.fromkeys(("", *"0123456789"), 0)
        self.buckets = [0] * BUCKETS

    def finish(self, started_ns: int, sent: int, status: str) -> None:
        """A response of `sent` bytes and `status`, whose app was called at `started_ns`, is
        complete (Connection.response_finished)."""
        self.running += monotonic_ns() - started_ns
        self.tx += sent

    def status_classes(self, requests: int) -> list[int]:
        """Responses per class, 1xx to 5xx (counted only by the metered board)."""
        return [0] * STATUS_CLASSES


class MeteredBoard(WorkerBoard):
    """Also counts status classes and a latency histogram (for stats-prometheus)."""

    __slots__ = ()

    def finish(self, started_ns: int, sent: int, status: str) -> None:
        elapsed = monotonic_ns() - started_ns
        self.running += elapsed
        self.buckets[elapsed.bit_length()] += 1
        if status[:1] != "2":
            self.count_status(status)
        self.tx += sent

    def count_status(self, status: str) -> None:
        key = status[:1]
        if key in self.statuses:
            self.statuses[key] += 1

    def status_classes(self, requests: int) -> list[int]:
        """Responses per class, 1xx to 5xx, out of `requests` answered: 2xx is the rest."""
        classes = [self.statuses[str(klass)] for klass in range(1, STATUS_CLASSES + 1)]
        classes[1] = requests - sum(self.statuses.values())
        return classes


class Recycling(WorkerBoard):
    """A board that also counts down to max-requests; only workers with a limit pay for it.
    It counts into `board`, the one the reporter reads; a subclass, so that the request path
    calls every board the same direct way in the compiled form."""

    __slots__ = ("board", "left", "on_limit")

    def __init__(self, board: WorkerBoard, limit: int, on_limit: Callable[[], None]) -> None:
        super().__init__()
        self.board = board
        self.left = limit
        self.on_limit = on_limit

    def finish(self, started_ns: int, sent: int, status: str) -> None:
        self.board.finish(started_ns, sent, status)
        self.left -= 1
        if not self.left:
            self.on_limit()


def make_board(*, metered: bool) -> WorkerBoard:
    """The board for a worker, metered for stats-prometheus."""
    return MeteredBoard() if metered else WorkerBoard()


def cores_for(threads: int) -> int:
    """Scoreboard cores (request slots) per worker: one for the loop when the app runs inline,
    else twice the pool (room for requests queued for a thread as well as running on one)."""
    return 1 if threads == 1 else 2 * threads


def in_flight(
    connections: Iterable[Running], limit: int, inline: Running | None = None
) -> list[tuple[int, Running]]:
    """The oldest `limit` requests in progress as (start, carrier); `inline` is the one-shot
    request the loop is running, if any (WorkerContext.inline)."""
    busy = [(conn.started_ns, conn) for conn in list(connections) if conn.busy]
    if inline is not None:
        busy.append((inline.started_ns, inline))
    busy.sort(key=lambda item: item[0])
    return busy[:limit]


class Reporter:
    """Copies the worker's counters and the requests in progress into its shared row.

    It is the only writer of the row's worker part, and each flush records when it ran
    (`flushed_ns`).
    """

    def __init__(
        self,
        board: WorkerBoard,
        worker: WorkerCounters,
        memory: mmap.mmap | bytearray,
        layout: Layout,
        index: int,
    ) -> None:
        self.board = board
        self.worker = worker
        self.memory = memory
        self.layout = layout
        self.index = index
        self.described = [0] * layout.cores
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="usher-scoreboard", daemon=True)

    def start(self) -> None:
        """Publish the row once now (a worker reports itself accepting before it is ready)."""
        self.flush()
        self.thread.start()

    def stop(self) -> None:
        """Flush a last time (a leaving worker's final counts) and end the thread."""
        self.stopped.set()
        self.flush()

    def _run(self) -> None:
        while not self.stopped.wait(FLUSH_INTERVAL):
            self.flush()

    def flush(self) -> None:
        board, worker, layout = self.board, self.worker, self.layout
        requests = worker.requests
        current = in_flight(worker.connections, layout.cores, worker.inline)
        for core in range(layout.cores):
            started, conn = current[core] if core < len(current) else (0, None)
            self._publish_core(core, started, conn, requests if core == 0 else 0)
        COUNTERS.pack_into(
            self.memory,
            layout.row(self.index) + layout.counters_offset,
            requests,
            worker.exceptions,
            board.tx,
            board.running,
            requests,
            0 if worker.stopping else 1,
            monotonic_ns(),
            *board.status_classes(requests),
            *board.buckets,
        )

    def _publish_core(self, core: int, started: int, conn: Running | None, served: int) -> None:
        layout, index, memory = self.layout, self.index, self.memory
        details = None
        if conn is not None:
            if started != self.described[core]:
                details = describe_request(conn)
            if not conn.busy or conn.started_ns != started:
                return  # it finished while we looked; the next flush tells
        START.pack_into(memory, layout.core_requests(index, core), served)
        START.pack_into(memory, layout.start(index, core), started)
        if details is not None:
            # Seqlock: tag 0 while the fields change, then the start they belong to.
            offset = layout.details(index, core)
            DETAILS.pack_into(memory, offset, 0, *details)
            START.pack_into(memory, offset, started)
            self.described[core] = started


def describe_request(conn: Running) -> tuple[bytes, bytes, bytes]:
    """Method, URI and client of the connection's request in progress, truncated to their fields."""
    request = conn.responder.request
    if request is None:
        return b"", b"", b""
    uri = request.path + (b"?" + request.query if request.query else b"")
    # What the carrier already knows, not a lookup on the transport (owned by the loop's thread).
    # Behind nginx (uwsgi protocol) it is the address nginx passed on, not nginx's own.
    client = conn.client
    return (
        request.method.encode("latin-1", "replace")[:METHOD_SIZE],
        uri[:URI_SIZE],
        client.encode("latin-1", "replace")[:CLIENT_SIZE],
    )
