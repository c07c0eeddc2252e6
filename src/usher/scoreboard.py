"""The scoreboard: one row per worker process in memory shared by the master and every worker.

The master maps it (anonymous, MAP_SHARED) before forking, so every worker inherits the same pages.
A worker writes only its own row; the master reads every row (stats, harakiri) and writes the few
fields a worker cannot know about itself (pid, rss, vsz). Nothing on the request path crosses a pipe,
a lock or a file.

A row holds:

- a head written by the master: pid, worker id, rss and vsz in bytes;
- counters written by the worker's reporter thread once a second (see `usher.worker.board`):
  requests, exceptions, bytes sent, time spent in requests, accepting, when it last wrote
  (`flushed_ns`, the worker's pulse), responses by status class and a latency histogram;
- one record per core (a request slot: the loop when threads = 1, else room for twice the pool):
  the start of a request in progress (CLOCK_MONOTONIC nanoseconds, 0 when idle) and its method,
  URI and client, also written by the reporter, with a seqlock tag so that a reader never pairs one
  request's start with another's path.

Rows are owned by processes, not by worker ids: during a chain reload a worker id briefly has two
processes (the successor starting, the predecessor finishing), and each writes its own row.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

# Latency buckets by powers of two: bucket k counts requests that took under 2**k nanoseconds (k is
# the bit length of the elapsed time), one integer operation per request instead of a search among
# bounds. The exposition shows 2**16 ns (65.5 µs) to 2**33 ns (8.6 s), then +Inf.
BUCKETS = 64
SHOWN_BUCKETS = range(16, 34)
LATENCY_BOUNDS = tuple(2**k / 1e9 for k in SHOWN_BUCKETS)  # seconds
STATUS_CLASSES = 5  # 1xx to 5xx

HEAD = struct.Struct("=4q")  # pid, worker_id, rss, vsz
MEMORY = struct.Struct("=2q")  # rss, vsz: the head's last two fields
MEMORY_OFFSET = HEAD.size - MEMORY.size
COUNTERS = struct.Struct(f"=7q{STATUS_CLASSES}q{BUCKETS}q")
# requests, exceptions, tx, running_ns, timed, accepting, flushed_ns, statuses..., buckets...
START = struct.Struct("=q")  # the request's start; also the width of the core's counter and tag
METHOD_SIZE, URI_SIZE, CLIENT_SIZE = 16, 200, 48
DETAILS = struct.Struct(f"=q{METHOD_SIZE}s{URI_SIZE}s{CLIENT_SIZE}s")  # tag, method, uri, client
# A core: start, requests, then the details. Every 8-byte field stays 8-byte aligned, so that a
# store and a load of one field never tear.
CORE_SIZE = 2 * START.size + DETAILS.size

# Rows start on a cache-line boundary: workers on different CPUs write their own rows, and two rows
# sharing a line would bounce it between those CPUs on every request.
_LINE = 64


def _round_up(size: int) -> int:
    return (size + _LINE - 1) // _LINE * _LINE


@dataclass(frozen=True, slots=True)
class CoreView:
    """A core's state as the master reads it."""

    started_ns: int  # 0 when idle
    requests: int
    method: str
    uri: str
    client: str


@dataclass(frozen=True, slots=True)
class RowView:
    """One row as the master reads it: head, counters and cores."""

    pid: int
    worker_id: int
    rss: int
    vsz: int
    requests: int
    exceptions: int
    tx: int
    running_ns: int
    timed: int
    accepting: bool
    flushed_ns: int  # when the worker's reporter last wrote the row (0: not yet)
    statuses: tuple[int, ...]
    buckets: tuple[int, ...]
    cores: tuple[CoreView, ...]

    @property
    def busy(self) -> bool:
        return any(core.started_ns for core in self.cores)

    def oldest_start(self) -> int:
        """The start of the oldest request in progress, 0 when idle."""
        return min((core.started_ns for core in self.cores if core.started_ns), default=0)


class Layout:
    """Where each field of each row lives."""

    def __init__(self, rows: int, cores: int) -> None:
        self.rows = rows
        self.cores = cores
        self.counters_offset = HEAD.size
        self.cores_offset = HEAD.size + COUNTERS.size
        self.row_size = _round_up(self.cores_offset + cores * CORE_SIZE)
        assert self.cores_offset % 8 == 0 and CORE_SIZE % 8 == 0
        # After the rows: the server-wide request total the access log shows (req: X/Y).
        self.total_offset = self.row_size * rows
        self.size = max(self.total_offset + START.size, mmap.PAGESIZE)

    def row(self, index: int) -> int:
        return index * self.row_size

    def start(self, index: int, core: int) -> int:
        """Offset of a core's request start."""
        return self.row(index) + self.cores_offset + core * CORE_SIZE

    def core_requests(self, index: int, core: int) -> int:
        return self.start(index, core) + START.size

    def details(self, index: int, core: int) -> int:
        return self.start(index, core) + 2 * START.size


class Scoreboard:
    """The shared table; created by the master before the first fork."""

    def __init__(self, rows: int, cores: int) -> None:
        self.layout = Layout(rows, cores)
        self.memory = mmap.mmap(-1, self.layout.size)  # anonymous and MAP_SHARED
        self.free = list(range(rows - 1, -1, -1))

    def allocate(self) -> int | None:
        """A free row, zeroed, for a process about to be forked; None when all are taken."""
        if not self.free:
            return None
        index = self.free.pop()
        start = self.layout.row(index)
        self.memory[start : start + self.layout.row_size] = bytes(self.layout.row_size)
        return index

    def release(self, index: int) -> None:
        """The row's process is gone (reaped)."""
        self.free.append(index)

    def set_head(self, index: int, *, pid: int, worker_id: int, rss: int = 0, vsz: int = 0) -> None:
        HEAD.pack_into(self.memory, self.layout.row(index), pid, worker_id, rss, vsz)

    def set_memory(self, index: int, rss: int, vsz: int) -> None:
        """Record the process's memory, read by the master from /proc."""
        MEMORY.pack_into(self.memory, self.layout.row(index) + MEMORY_OFFSET, rss, vsz)

    def read(self, index: int) -> RowView:
        """A snapshot of one row."""
        layout = self.layout
        base = layout.row(index)
        pid, worker_id, rss, vsz = HEAD.unpack_from(self.memory, base)
        counters = COUNTERS.unpack_from(self.memory, base + layout.counters_offset)
        requests, exceptions, tx, running_ns, timed, accepting, flushed = counters[:7]
        statuses = counters[7 : 7 + STATUS_CLASSES]
        buckets = counters[7 + STATUS_CLASSES :]
        cores = tuple(self._read_core(index, core) for core in range(layout.cores))
        return RowView(
            pid,
            worker_id,
            rss,
            vsz,
            requests,
            exceptions,
            tx,
            running_ns,
            timed,
            bool(accepting),
            flushed,
            tuple(statuses),
            tuple(buckets),
            cores,
        )

    def _read_core(self, index: int, core: int) -> CoreView:
        memory = self.memory
        (started,) = START.unpack_from(memory, self.layout.start(index, core))
        (requests,) = START.unpack_from(memory, self.layout.core_requests(index, core))
        offset = self.layout.details(index, core)
        tag, method, uri, client = DETAILS.unpack_from(memory, offset)
        (tag_after,) = START.unpack_from(memory, offset)
        if not started or tag != started or tag_after != tag:
            # The details belong to another request, or are being rewritten right now.
            return CoreView(started, requests, "", "", "")
        return CoreView(started, requests, _text(method), _text(uri), _text(client))


class ServerTotal:
    """The requests answered by every worker since the master started: uWSGI's server-wide
    count (the Y of `req: X/Y`). Each worker adds its own in shared memory without a lock, as
    uWSGI does: two workers finishing in the same instant may count once, and the figure is for
    the log, not for billing (the stats document's per-worker counters are exact)."""

    __slots__ = ("memory", "offset")

    def __init__(self, memory: mmap.mmap | bytearray, offset: int) -> None:
        self.memory = memory
        self.offset = offset

    def add_one(self) -> int:
        """Count one request; the new total."""
        (total,) = START.unpack_from(self.memory, self.offset)
        total += 1
        START.pack_into(self.memory, self.offset, total)
        return int(total)


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")
