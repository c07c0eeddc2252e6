"""The scoreboard in memory: what a worker's board and reporter write is what the master reads,
across a fork."""

from __future__ import annotations

import os
from time import monotonic_ns
from types import SimpleNamespace
from typing import Any

from usher.protocols.events import Request
from usher.scoreboard import BUCKETS, CORE_SIZE, LATENCY_BOUNDS, Layout, Scoreboard
from usher.worker.board import (
    MeteredBoard,
    Recycling,
    Reporter,
    WorkerBoard,
    cores_for,
    in_flight,
    make_board,
)


def request(method: str = "GET", path: bytes = b"/p", query: bytes = b"", vars: Any = None) -> Any:
    return Request(method, path, query, "1.1", [], True, vars)


class FakeConnection:
    """What the board and the reporter read of a connection (hashable, as real ones are)."""

    def __init__(self, req: Any, peer: str) -> None:
        self.responder = SimpleNamespace(request=req, head_bytes=0, body_bytes=0, status="")
        # The carrier says who the client is: the peer, or what nginx passed in the uwsgi vars.
        self.client = (req.vars or {}).get("REMOTE_ADDR", peer) if req is not None else peer
        self.busy = False
        self.started_ns = 0

    def run(self) -> FakeConnection:
        """What Connection.run does for the scoreboard."""
        self.started_ns = monotonic_ns()
        self.busy = True
        return self


def connection(req: Any = None, peer: str = "10.0.0.7") -> Any:
    return FakeConnection(req if req is not None else request(), peer)


def finish(board: Any, conn: Any, status: str = "200 OK", head: int = 100, body: int = 5) -> None:
    conn.responder.status = status
    conn.responder.head_bytes, conn.responder.body_bytes = head, body
    board.finish(conn.started_ns, head + body, status)
    conn.busy = False


class Worker:
    """The counters and connections a reporter reads from WorkerContext."""

    def __init__(self, *conns: Any, requests: int = 0) -> None:
        self.requests = requests
        self.exceptions = 0
        self.stopping = False
        self.connections = set(conns)
        self.inline: Any = None  # a one-shot request the loop is running (usher.worker.oneshot)


def reporter(scoreboard: Scoreboard, worker: Worker, board: WorkerBoard | None = None) -> Reporter:
    board = board or make_board(metered=False)
    return Reporter(board, worker, scoreboard.memory, scoreboard.layout, 0)


def test_rows_are_cache_line_aligned_and_fields_8_byte_aligned() -> None:
    layout = Layout(rows=3, cores=4)
    assert layout.row_size % 64 == 0 and CORE_SIZE % 8 == 0
    assert all(layout.start(i, c) % 8 == 0 for i in range(3) for c in range(4))
    assert layout.row(1) >= layout.start(0, 3) + CORE_SIZE


def test_allocate_zeroes_and_release_recycles_rows() -> None:
    scoreboard = Scoreboard(rows=2, cores=1)
    first = scoreboard.allocate()
    assert first == 0 and scoreboard.allocate() == 1 and scoreboard.allocate() is None
    scoreboard.set_head(0, pid=42, worker_id=1, rss=7)
    scoreboard.release(0)
    assert scoreboard.allocate() == 0
    assert scoreboard.read(0).pid == 0 and scoreboard.read(0).rss == 0


def test_finish_counts_time_and_bytes() -> None:
    board = make_board(metered=False)
    conn = connection().run()
    finish(board, conn)
    assert board.tx == 105 and board.running > 0


def test_the_reporter_publishes_counters_and_the_request_in_progress() -> None:
    scoreboard = Scoreboard(rows=1, cores=1)
    conn = connection(request("POST", b"/upload", b"x=1"))
    worker = Worker(conn, requests=3)
    worker.exceptions = 1
    publish = reporter(scoreboard, worker)
    publish.flush()
    row = scoreboard.read(0)
    assert (row.requests, row.exceptions, row.accepting, row.busy) == (3, 1, True, False)
    assert row.flushed_ns > 0
    conn.run()
    publish.flush()
    core = scoreboard.read(0).cores[0]
    assert core.started_ns == conn.started_ns and core.requests == 3
    assert (core.method, core.uri, core.client) == ("POST", "/upload?x=1", "10.0.0.7")
    finish(publish.board, conn)
    publish.flush()
    assert not scoreboard.read(0).busy


def test_the_reporter_publishes_the_one_shot_request_the_loop_is_running() -> None:
    # Behind nginx a request answered where it was accepted has no connection in the worker's
    # set; it sits in the worker's inline seat while the app runs, and must show as well.
    scoreboard = Scoreboard(rows=1, cores=1)
    worker = Worker(requests=4)
    worker.inline = connection(request(vars={"REMOTE_ADDR": "203.0.113.5"})).run()
    reporter(scoreboard, worker).flush()
    core = scoreboard.read(0).cores[0]
    assert core.started_ns == worker.inline.started_ns
    assert (core.method, core.uri, core.client) == ("GET", "/p", "203.0.113.5")


def test_details_are_only_believed_for_the_start_they_were_written_for() -> None:
    scoreboard = Scoreboard(rows=1, cores=1)
    conn = connection()
    publish = reporter(scoreboard, Worker(conn))
    conn.run()
    publish.flush()
    layout = scoreboard.layout
    # A newer start published without its details (as a torn read would see it).
    scoreboard.memory[layout.start(0, 0) : layout.start(0, 0) + 8] = (1).to_bytes(8, "little")
    assert scoreboard.read(0).cores[0].method == ""


def test_details_name_the_client_nginx_passed_on() -> None:
    scoreboard = Scoreboard(rows=1, cores=1)
    conn = connection(request(vars={"REMOTE_ADDR": "203.0.113.9"}), peer="127.0.0.1").run()
    reporter(scoreboard, Worker(conn)).flush()
    assert scoreboard.read(0).cores[0].client == "203.0.113.9"


def test_long_uris_are_truncated_to_the_field() -> None:
    scoreboard = Scoreboard(rows=1, cores=1)
    conn = connection(request(path=b"/" + b"a" * 1000)).run()
    reporter(scoreboard, Worker(conn)).flush()
    assert len(scoreboard.read(0).cores[0].uri) == 200


def test_the_oldest_requests_take_the_cores() -> None:
    scoreboard = Scoreboard(rows=1, cores=cores_for(2))
    conns = [connection(request(path=f"/{i}".encode())).run() for i in range(6)]
    idle = connection()
    assert [conn for _, conn in in_flight([*reversed(conns), idle], 4)] == conns[:4]
    reporter(scoreboard, Worker(idle, *conns)).flush()
    assert [core.uri for core in scoreboard.read(0).cores] == ["/0", "/1", "/2", "/3"]


def test_max_requests_calls_the_limit_once_reached() -> None:
    reached: list[bool] = []
    board = Recycling(make_board(metered=False), 3, lambda: reached.append(True))
    for _ in range(3):
        finish(board, connection().run())
    assert reached == [True]


def test_the_metered_board_counts_status_classes_and_latency() -> None:
    board = make_board(metered=True)
    assert isinstance(board, MeteredBoard)
    for status in ("200 OK", "404 Not Found", "503 Busy", ""):
        finish(board, connection().run(), status)
    assert board.status_classes(4) == [0, 1, 0, 1, 1]
    assert board.status_classes(10) == [0, 7, 0, 1, 1]  # 2xx is the rest
    assert make_board(metered=False).status_classes(10) == [0, 0, 0, 0, 0]  # not counted
    assert sum(board.buckets) == 4 and len(board.buckets) == BUCKETS
    assert LATENCY_BOUNDS[0] == 2**16 / 1e9 and LATENCY_BOUNDS[-1] == 2**33 / 1e9


def test_latency_buckets_are_powers_of_two_nanoseconds() -> None:
    board = make_board(metered=True)
    for elapsed_ms in (1, 3, 1000):
        conn = connection()
        conn.started_ns = monotonic_ns() - elapsed_ms * 1_000_000
        finish(board, conn)
    # 1 ms < 2**20 ns, 3 ms < 2**22 ns, 1 s < 2**30 ns (each a little more by the time it ends)
    assert [index for index, count in enumerate(board.buckets) if count] == [20, 22, 30]


def test_a_forked_worker_writes_the_masters_memory() -> None:
    scoreboard = Scoreboard(rows=2, cores=1)
    index = scoreboard.allocate()
    assert index is not None
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            worker = Worker(connection().run(), requests=9)
            board = make_board(metered=False)
            Reporter(board, worker, scoreboard.memory, scoreboard.layout, index).flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    row = scoreboard.read(index)
    assert row.requests == 9 and row.busy


def test_cores_per_worker() -> None:
    assert (cores_for(1), cores_for(8)) == (1, 16)
