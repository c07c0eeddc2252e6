"""The stats server against its readers: uWSGI's JSON layout, the real uwsgitop in a terminal,
stats-http, the Prometheus page and `usher top`."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ops import OPS_APP, eventually, read_stats
from tests.support.events import EventListener
from tests.support.http import get, request
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(90)

UWSGITOP = shutil.which("uwsgitop") or str(Path(sys.executable).parent / "uwsgitop")

# The keys uWSGI 2.0's stats server writes (recorded from uWSGI 2.0.30): readers rely on them.
TOP_KEYS = {
    "version", "listen_queue", "listen_queue_errors", "signal_queue", "load", "pid", "uid", "gid",
    "cwd", "locks", "sockets", "workers",
}  # fmt: skip
SOCKET_KEYS = {"name", "proto", "queue", "max_queue", "shared", "can_offload"}
WORKER_KEYS = {
    "id", "pid", "accepting", "requests", "delta_requests", "exceptions", "harakiri_count",
    "signals", "signal_queue", "status", "rss", "vsz", "running_time", "last_spawn",
    "respawn_count", "tx", "avg_rt", "apps", "cores",
}  # fmt: skip
CORE_KEYS = {
    "id", "requests", "static_requests", "routed_requests", "offloaded_requests",
    "write_errors", "read_errors", "in_request", "vars", "req_info",
}  # fmt: skip


@pytest.fixture
def stats_server(serve: Serve, events: EventListener) -> Iterator[tuple[ServerProcess, Any, Any]]:
    http_port, stats_port = free_port(), free_port()
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{http_port}",
            "--wsgi-file", str(OPS_APP),
            "--master", "--processes", "2",
            "--stats", f"127.0.0.1:{stats_port}",
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    yield server, ("127.0.0.1", http_port), ("127.0.0.1", stats_port)


def test_the_document_has_uwsgis_layout(stats_server: tuple[ServerProcess, Any, Any]) -> None:
    server, site, stats = stats_server
    for _ in range(6):
        assert get(site, "/").status == 200
    document = read_stats(stats)
    assert document.keys() >= TOP_KEYS
    assert document["pid"] == server.pid and document["cwd"] == os.getcwd()
    assert [item.keys() >= SOCKET_KEYS for item in document["sockets"]] == [True]
    assert document["sockets"][0]["proto"] == "http"
    assert document["sockets"][0]["max_queue"] == 100
    assert [worker["id"] for worker in document["workers"]] == [1, 2]
    for worker in document["workers"]:
        assert worker.keys() >= WORKER_KEYS
        assert worker["status"] == "idle" and worker["accepting"] == 1
        assert worker["respawn_count"] == 1 and worker["rss"] > 1_000_000
        assert [core.keys() >= CORE_KEYS for core in worker["cores"]] == [True]
    eventually(lambda: sum(w["requests"] for w in read_stats(stats)["workers"]) == 6)
    workers = read_stats(stats)["workers"]
    assert sum(worker["tx"] for worker in workers) > 6 * len("hello")
    assert all(worker["running_time"] > 0 for worker in workers if worker["requests"])


def test_a_busy_worker_shows_its_request(
    stats_server: tuple[ServerProcess, Any, Any], events: EventListener
) -> None:
    _server, site, stats = stats_server
    thread = threading.Thread(target=get, args=(site, "/sleep?seconds=3"), daemon=True)
    thread.start()
    pid = int(events.wait_for("sleep-started").split()[1])

    def busy_worker() -> dict[str, Any]:
        return next(w for w in read_stats(stats)["workers"] if w["pid"] == pid)

    eventually(lambda: busy_worker()["status"] == "busy")
    busy = busy_worker()
    assert busy["cores"][0]["in_request"] == 1
    assert busy["cores"][0]["req_info"]["request_start"] <= time.time()
    screen = run_in_terminal(
        [sys.executable, "-m", "usher", "top", f"127.0.0.1:{stats[1]}"],
        until=lambda text: "GET /sleep?seconds=3 from 127.0.0.1" in text,
    )
    assert f" {pid} " in screen and "busy" in screen
    thread.join(10)


def test_uwsgitop_shows_every_worker(stats_server: tuple[ServerProcess, Any, Any]) -> None:
    server, site, stats = stats_server
    for _ in range(4):
        get(site, "/")
    pids = [worker["pid"] for worker in read_stats(stats)["workers"]]
    # uwsgitop redraws every second: wait for the screen that counts the 4 requests.
    screen = run_in_terminal(
        [UWSGITOP, f"127.0.0.1:{stats[1]}"], until=uwsgitop_drew(pids, "req: 4 ")
    )
    assert f"masterpid: {server.pid}" in screen
    assert "WID" in screen and "RPS" in screen and "Traceback" not in screen


def test_stats_on_a_unix_socket_and_over_http(serve: Serve, sock_dir: Path) -> None:
    http_port = free_port()
    path = str(sock_dir / "stats.sock")
    serve(["--http-socket", f"127.0.0.1:{http_port}", "--wsgi-file", str(OPS_APP),
           "--stats", path])  # fmt: skip
    pids = [w["pid"] for w in read_stats(path)["workers"]]
    assert len(pids) == 1
    screen = run_in_terminal([UWSGITOP, path], until=uwsgitop_drew(pids))
    assert "WID" in screen
    http_stats = free_port()
    serve(["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(OPS_APP),
           "--stats", f"127.0.0.1:{http_stats}", "--stats-http"])  # fmt: skip
    response = get(("127.0.0.1", http_stats), "/")
    assert response.status == 200 and response.header("content-type") == "application/json"
    assert response.json().keys() >= TOP_KEYS
    pids = [w["pid"] for w in response.json()["workers"]]
    screen = run_in_terminal(
        [UWSGITOP, f"http://127.0.0.1:{http_stats}/"], until=uwsgitop_drew(pids)
    )
    assert "WID" in screen


def test_stats_on_an_abstract_socket(serve: Serve) -> None:
    name = f"@usher-test-stats-{os.getpid()}-{free_port()}"
    serve(["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(OPS_APP),
           "--stats", name])  # fmt: skip
    document = read_stats("\0" + name[1:])
    assert len(document["workers"]) == 1


def test_prometheus_page(serve: Serve) -> None:
    http_port, metrics_port = free_port(), free_port()
    serve(["--http-socket", f"127.0.0.1:{http_port}", "--wsgi-file", str(OPS_APP),
           "--processes", "2", "--stats-prometheus", f"127.0.0.1:{metrics_port}"])  # fmt: skip
    site = ("127.0.0.1", http_port)
    for _ in range(5):
        assert get(site, "/").status == 200
    assert request(site, "POST", "/pid").status == 200

    def scrape() -> str:
        response = get(("127.0.0.1", metrics_port), "/metrics")
        assert response.status == 200
        assert response.header("content-type").startswith("text/plain; version=0.0.4")
        return response.text

    eventually(lambda: _metric(scrape(), 'usher_responses_total{code="2xx"}') == 6)
    page = scrape()
    assert (
        _metric(page, 'usher_requests_total{worker="1"}')
        + _metric(page, 'usher_requests_total{worker="2"}')
        == 6
    )
    assert _metric(page, 'usher_request_duration_seconds_bucket{le="+Inf"}') == 6
    assert _metric(page, "usher_request_duration_seconds_count") == 6
    assert _metric(page, 'usher_workers{state="idle"}') == 2
    assert _metric(page, 'usher_harakiri_total{worker="1"}') == 0
    assert f'usher_listen_queue_max{{socket="127.0.0.1:{http_port}"}} 100' in page
    assert "# TYPE usher_request_duration_seconds histogram" in page


def test_usher_top_once(stats_server: tuple[ServerProcess, Any, Any]) -> None:
    server, _site, stats = stats_server
    result = subprocess.run(
        [sys.executable, "-m", "usher", "top", "--once", f"127.0.0.1:{stats[1]}"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert f"master pid {server.pid}" in lines[0]
    assert lines[2].split()[:4] == ["WID", "PID", "STATUS", "REQ"]
    assert [line.split()[0] for line in lines[3:]] == ["1", "2"]


def test_usher_top_reports_an_unreachable_address() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "usher", "top", "--once", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1 and "cannot read stats" in result.stderr


def uwsgitop_drew(pids: list[int], also: str = "") -> Callable[[str], bool]:
    """True once uwsgitop's screen shows the header and a complete row for every worker pid."""

    def drew(text: str) -> bool:
        rows = [line for line in text.splitlines() if any(str(pid) in line for pid in pids)]
        complete = len(rows) >= len(pids) and all("idle" in row for row in rows)
        return complete and "masterpid" in text and also in text

    return drew


def _metric(page: str, name: str) -> float:
    for line in page.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not on the page")


_ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78DEHM])")


def run_in_terminal(argv: list[str], until: Callable[[str], bool], timeout: float = 15.0) -> str:
    """Run a full-screen program on a 200x50 pseudo-terminal until its screen text satisfies
    `until`, then press q (and end it if it does not stop); return the text it drew."""
    master_fd, slave_fd = pty.openpty()
    fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm", "LINES": "50", "COLUMNS": "200"}
    proc = subprocess.Popen(
        argv, stdin=slave_fd, stdout=slave_fd, stderr=slave_fd, env=env, start_new_session=True
    )
    os.close(slave_fd)
    raw = b""
    try:
        deadline = time.monotonic() + timeout
        while not until(_screen_text(raw)):
            remaining = deadline - time.monotonic()
            ready = select.select([master_fd], [], [], max(remaining, 0))[0]
            if not ready:
                raise AssertionError(f"{argv[0]} never drew that; screen:\n{_screen_text(raw)}")
            try:
                data = os.read(master_fd, 65536)
            except OSError:  # the program ended
                data = b""
            if not data:
                raise AssertionError(f"{argv[0]} exited; screen:\n{_screen_text(raw)}")
            raw += data
        os.write(master_fd, b"q")
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master_fd)
    return _screen_text(raw)


def _screen_text(raw: bytes) -> str:
    text = _ESCAPES.sub(b" ", raw).decode("utf-8", "replace")
    return text.replace("\r", "\n")
