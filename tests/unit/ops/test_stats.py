"""The figures and their renderings: uWSGI's JSON, Prometheus' text format, `usher top`, and the
log lines of master FIFO `s`."""

from __future__ import annotations

import json
import os
import time
from types import SimpleNamespace
from typing import Any

from usher.master.gather import collect
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.ops import loglines, prometheus
from usher.ops.figures import ServerFigures, SocketFigures
from usher.ops.stats import render_http, render_json
from usher.ops.top import render
from usher.protocols.events import Request
from usher.scoreboard import Scoreboard
from usher.worker.board import Reporter, make_board


class Busy:
    """A connection with a request in progress, as the reporter reads it (hashable, as real
    connections are: the worker keeps them in a set)."""

    busy = True

    def __init__(self, started_ns: int, responder: Any, client: str) -> None:
        self.started_ns, self.responder, self.client = started_ns, responder, client


def busy_server() -> tuple[ServerFigures, WorkerSlot]:
    """Two worker ids: 1 served 3 requests in an earlier process and is busy now, 2 is cheap."""
    scoreboard = Scoreboard(rows=2, cores=1)
    one, two = WorkerSlot(1), WorkerSlot(2, cheap=True)
    one.spawns, one.harakiris, one.totals.requests, one.totals.tx = 2, 1, 3, 300
    index = scoreboard.allocate()
    assert index is not None
    proc = WorkerProcess(4242, 1, index, time.monotonic(), 1_700_000_000.5)
    one.current = proc
    scoreboard.set_head(index, pid=4242, worker_id=1, rss=50 << 20, vsz=200 << 20)
    board = make_board(metered=True)
    done = SimpleNamespace(
        started_ns=time.monotonic_ns(),
        responder=SimpleNamespace(request=None, head_bytes=90, body_bytes=10, status="404 Nope"),
    )
    board.finish(done.started_ns, 100, done.responder.status)
    request = Request("GET", b"/slow", b"", "1.1", [], True)
    busy = Busy(time.monotonic_ns(), SimpleNamespace(request=request), "192.0.2.1")
    worker = SimpleNamespace(
        requests=1, exceptions=2, stopping=False, connections={busy}, inline=None
    )
    Reporter(board, worker, scoreboard.memory, scoreboard.layout, index).flush()
    sockets = [SocketFigures(name=":8000", proto="http", queue=3, max_queue=100)]
    figures = collect([one, two], [proc], scoreboard, sockets, 5, "/srv")
    return figures, one


def test_collect_sums_past_and_present_processes() -> None:
    figures, _ = busy_server()
    one, two = figures.workers
    assert (one.requests, one.delta_requests, one.tx) == (4, 1, 400)
    assert (one.status, one.pid, one.accepting, one.exceptions) == ("busy", 4242, True, 2)
    assert (one.respawn_count, one.harakiri_count, one.last_spawn) == (2, 1, 1_700_000_000)
    assert one.rss == 50 << 20 and one.statuses[3] == 1
    core = one.cores[0]
    assert core.in_request and (core.method, core.uri, core.client) == ("GET", "/slow", "192.0.2.1")
    assert abs(core.request_start - time.time()) < 5
    assert (two.status, two.pid, two.cores) == ("cheap", 0, ())
    assert (figures.listen_queue, figures.listen_queue_errors, figures.cwd) == (3, 5, "/srv")


def test_the_json_document_uses_uwsgis_keys_and_units() -> None:
    figures, _ = busy_server()
    document = json.loads(render_json(figures))
    assert document["pid"] == os.getpid() and document["load"] == 3
    assert document["sockets"] == [
        {"name": ":8000", "proto": "http", "queue": 3, "max_queue": 100, "shared": 0,
         "can_offload": 0}
    ]  # fmt: skip
    worker = document["workers"][0]
    assert worker["running_time"] == figures.workers[0].running_time_us
    assert worker["apps"][0]["requests"] == 4
    core = worker["cores"][0]
    assert core["in_request"] == 1 and "REQUEST_URI=/slow" in core["vars"]
    assert set(core["req_info"]) == {"request_start"}
    assert document["workers"][1]["status"] == "cheap"


def test_stats_http_wraps_the_document() -> None:
    reply = render_http(b'{"a":1}')
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n") and b"Content-Length: 7" in head
    assert b"Content-Type: application/json" in head and body == b'{"a":1}'


def test_prometheus_page() -> None:
    figures, _ = busy_server()
    page = prometheus.render(figures).decode()
    lines = page.splitlines()
    assert 'usher_requests_total{worker="1"} 4' in lines
    assert 'usher_worker_respawns_total{worker="1"} 1' in lines
    assert 'usher_harakiri_total{worker="1"} 1' in lines
    assert 'usher_responses_total{code="4xx"} 1' in lines
    assert 'usher_workers{state="busy"} 1' in lines and 'usher_workers{state="cheap"} 1' in lines
    assert 'usher_request_duration_seconds_bucket{le="6.5536e-05"} 1' in lines
    assert 'usher_request_duration_seconds_bucket{le="8.589934592"} 1' in lines
    assert 'usher_request_duration_seconds_bucket{le="+Inf"} 1' in lines
    assert "usher_request_duration_seconds_count 1" in lines
    assert 'usher_listen_queue{socket=":8000"} 3' in lines
    assert "usher_listen_queue_full_total 5" in lines
    for line in lines:
        assert line.startswith("#") or line.startswith("usher_"), line


def test_top_renders_a_line_per_worker_with_the_busy_request() -> None:
    figures, _ = busy_server()
    document = json.loads(render_json(figures))
    screen = render(document, {1: 2}, elapsed=1.0, color=False)
    lines = screen.splitlines()
    assert "4 requests, 2 req/s" in lines[0] and "1/2 busy" in lines[0]
    assert lines[2].split() == ["WID", "PID", "STATUS", "REQ", "REQ/S", "EXC", "AVG", "RSS",
                                "RESP", "HARA", "REQUEST"]  # fmt: skip
    assert lines[3].split()[:5] == ["1", "4242", "busy", "4", "2"]
    assert "GET /slow from 192.0.2.1 for" in lines[3] and "50.0M" in lines[3]
    assert lines[4].split()[:3] == ["2", "0", "cheap"]


def test_log_lines_for_fifo_s() -> None:
    figures, _ = busy_server()
    head, one, two = loglines.render(figures)
    assert head == f"usher: stats: master pid {os.getpid()}, 4 requests, listen queue 3"
    assert one == (
        "usher: stats: worker 1 pid 4242 busy requests 4 exceptions 2 avg 0us rss 51200KiB "
        "respawns 2 harakiri 1"
    )
    assert two.startswith("usher: stats: worker 2 pid 0 cheap requests 0")
