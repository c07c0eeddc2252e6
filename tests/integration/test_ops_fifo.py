"""Every master FIFO command against a real server: r R q Q c w W s + - l L."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ops import (
    OPS_APP,
    expect_status,
    fifo_command,
    forget_notices,
    read_stats,
)
from tests.support.events import EventListener
from tests.support.http import get
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(90)

Started = tuple[ServerProcess, tuple[str, int], tuple[str, int], str]


@pytest.fixture
def fifo_server(
    serve: Serve, events: EventListener, sock_dir: Path, tmp_path: Path
) -> Iterator[Started]:
    port, stats = free_port(), free_port()
    fifo = str(sock_dir / "master.fifo")
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP),
            "--processes", "2", "--stats", f"127.0.0.1:{stats}", "--master-fifo", fifo,
            "--logto", str(tmp_path / "usher.log"),
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    yield server, ("127.0.0.1", port), ("127.0.0.1", stats), fifo


def worker_pids(stats: tuple[str, int]) -> list[int]:
    return [worker["pid"] for worker in read_stats(stats)["workers"]]


def reload_with(started: Started, command: str) -> str:
    """Send a reload command; return the READY=1 notification that ends it."""
    server, site, stats, fifo = started
    before = set(worker_pids(stats))
    forget_notices(server)
    fifo_command(fifo, command)
    expect_status(server, "RELOADING=1")
    ready = expect_status(server, "READY=1")
    assert set(worker_pids(stats)).isdisjoint(before)
    assert get(site, "/").status == 200
    return ready


def test_r_reloads_gracefully(fifo_server: Started) -> None:
    ready = reload_with(fifo_server, "r")
    assert f"MAINPID={fifo_server[0].pid}" in ready
    assert "master FIFO 'r': reloading gracefully" in log_of(fifo_server)


def test_big_r_reloads_brutally(fifo_server: Started) -> None:
    reload_with(fifo_server, "R")
    assert "master FIFO 'R': reloading now" in log_of(fifo_server)


def test_c_chain_reloads(fifo_server: Started) -> None:
    reload_with(fifo_server, "c")
    assert "chain reload complete: 2 worker(s) replaced" in log_of(fifo_server)


def test_w_and_big_w_reload_the_workers_only(fifo_server: Started) -> None:
    reload_with(fifo_server, "w")
    reload_with(fifo_server, "W")
    log = log_of(fifo_server)
    assert "master FIFO 'w': replacing every worker gracefully" in log
    assert "master FIFO 'W': replacing every worker now" in log
    assert log.count("usher: reload complete, every worker serving") == 2


def test_q_stops_gracefully(fifo_server: Started) -> None:
    server, _, _, fifo = fifo_server
    fifo_command(fifo, "q")
    assert server.wait() == 0
    assert "STOPPING=1" in "".join(server.drain_notifications())
    assert "master FIFO 'q': stopping gracefully" in log_of(fifo_server)


def test_big_q_stops_at_once(fifo_server: Started) -> None:
    server, _, _, fifo = fifo_server
    fifo_command(fifo, "Q")
    assert server.wait() == 0
    assert "master FIFO 'Q': stopping now" in log_of(fifo_server)


def test_s_writes_stats_to_the_log(fifo_server: Started) -> None:
    server, site, _, fifo = fifo_server
    get(site, "/")
    forget_notices(server)
    fifo_command(fifo, "s")
    expect_status(server, "stats written to the log")
    log = log_of(fifo_server)
    assert f"usher: stats: master pid {server.pid}" in log
    assert "usher: stats: worker 1 pid" in log and "usher: stats: worker 2 pid" in log


def test_minus_and_plus_change_the_worker_count(fifo_server: Started) -> None:
    server, site, stats, fifo = fifo_server
    forget_notices(server)
    fifo_command(fifo, "-")
    expect_status(server, "STATUS=serving with 1 worker")
    assert [w["status"] for w in read_stats(stats)["workers"]] == ["idle", "cheap"]
    assert read_stats(stats)["workers"][1]["pid"] == 0
    forget_notices(server)
    fifo_command(fifo, "-")  # one worker is the minimum
    fifo_command(fifo, "+")
    expect_status(server, "STATUS=serving with 2 workers")
    assert [w["status"] for w in read_stats(stats)["workers"]] == ["idle", "idle"]
    forget_notices(server)
    fifo_command(fifo, "+")  # already at processes
    fifo_command(fifo, "s")
    expect_status(server, "stats written to the log")
    log = log_of(fifo_server)
    assert "master FIFO '-': 1 worker(s) is the minimum; none stopped" in log
    assert "master FIFO '+': all 2 workers already run (processes)" in log
    assert get(site, "/").status == 200


def test_cheaper_adds_workers_under_load_and_stops_idle_ones(
    serve: Serve, events: EventListener, sock_dir: Path
) -> None:
    port, stats = free_port(), free_port()
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP),
            "--processes", "3", "--cheaper", "1", "--cheaper-overload", "1",
            "--stats", f"127.0.0.1:{stats}",
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    assert [w["status"] for w in read_stats(("127.0.0.1", stats))["workers"]] == [
        "idle", "cheap", "cheap",
    ]  # fmt: skip
    forget_notices(server)
    busy = threading.Thread(target=get, args=(("127.0.0.1", port), "/sleep?seconds=4"))
    busy.start()
    events.wait_for("sleep-started")
    # No idle worker for a second: one more starts.
    expect_status(server, "STATUS=serving with 2 workers")
    busy.join(15)
    forget_notices(server)
    # Two idle workers for a second: one stops.
    expect_status(server, "STATUS=serving with 1 worker")
    log = server.log_text()
    assert "cheaper: no idle worker for 1s: starting worker 2" in log
    assert "cheaper: 2 idle workers for 1s; stopping worker 2" in log


def test_l_reopens_and_big_l_rotates_the_log(fifo_server: Started, tmp_path: Path) -> None:
    server, site, _, fifo = fifo_server
    log_path = tmp_path / "usher.log"
    log_path.rename(tmp_path / "usher.log.old")  # what logrotate does before it asks for a reopen
    forget_notices(server)
    fifo_command(fifo, "l")
    expect_status(server, "log reopened")
    assert "master FIFO 'l': log reopened" in log_path.read_text()
    # The workers reopen on a signal from the master, between two turns of their loop.
    request_logged_in(site, log_path)
    forget_notices(server)
    fifo_command(fifo, "L")
    expect_status(server, "log reopened")
    rotated = [path for path in tmp_path.iterdir() if path.name.startswith("usher.log.1")]
    assert len(rotated) == 1 and "master FIFO 'l': log reopened" in rotated[0].read_text()
    assert "master FIFO 'L': log reopened (previous log:" in log_path.read_text()
    request_logged_in(site, log_path)


def request_logged_in(site: tuple[str, int], path: Path, attempts: int = 50) -> None:
    """Send requests until one's access line lands in `path` (each attempt is a request: the
    worker's reopen happens between two of them)."""
    for attempt in range(attempts):
        assert get(site, f"/attempt-{attempt}").status == 200
        if f"GET /attempt-{attempt} " in path.read_text():
            return
        select.select([], [], [], 0.05)
    raise AssertionError(f"no access line reached {path}")


def test_unknown_commands_are_logged(fifo_server: Started) -> None:
    server, _, _, fifo = fifo_server
    forget_notices(server)
    fifo_command(fifo, "x s")
    expect_status(server, "stats written to the log")
    assert "master FIFO: unknown command 'x'" in log_of(fifo_server)


def log_of(started: Started) -> str:
    server = started[0]
    logs = sorted(Path(server.argv[server.argv.index("--logto") + 1]).parent.glob("usher.log*"))
    return "".join(path.read_text() for path in logs) + server.log_text()
