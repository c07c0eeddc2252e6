"""The front's figures in the master's stats document: summed over its worker processes."""

from __future__ import annotations

import http.client
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ops import eventually, read_stats
from tests.support.paths import FIXTURES
from tests.support.server import ServerProcess, free_port, start_server

USHER = [sys.executable, "-m", "usher"]
APPS = FIXTURES / "front_apps.py"
# New connections until both workers have served some: which one accepts is the kernel's
# choice, so a bound rather than a count known in advance.
MAX_CONNECTIONS = 400


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    app_port, port, stats_port = free_port(), free_port(), free_port()
    servers: list[ServerProcess] = []
    try:
        servers.append(
            start_server(
                ["--http-socket", f"127.0.0.1:{app_port}", "--wsgi-file", str(APPS),
                 "--disable-logging"],
                log_dir=tmp_path / "app",
                command=USHER,
            )
        )  # fmt: skip
        ini = tmp_path / "front.ini"
        ini.write_text(
            f"""\
[front]
processes = 2
listen = 127.0.0.1:{port}
access_log = off
stats = 127.0.0.1:{stats_port}

[upstream app]
server = 127.0.0.1:{app_port}
keepalive = 8

[location /]
proxy_pass = http://app
"""
        )
        servers.append(
            start_server(["front", "--ini", str(ini)], log_dir=tmp_path / "front", command=USHER)
        )
        yield port, stats_port, app_port
    finally:
        for server in reversed(servers):
            server.close()


def get(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def total_requests(stats: tuple[str, int]) -> int:
    return sum(int(worker["requests"]) for worker in read_stats(stats)["workers"])


def test_one_read_shows_the_sum_over_both_workers(front: tuple[int, int, int]) -> None:
    port, stats_port, app_port = front
    stats = ("127.0.0.1", stats_port)
    sent = 0

    def served_by_both() -> bool:
        workers = read_stats(stats)["workers"]
        return len(workers) == 2 and all(worker["requests"] > 0 for worker in workers)

    while sent < MAX_CONNECTIONS:
        for _ in range(20):
            assert get(port) == 200
            sent += 1
        eventually(lambda count=sent: total_requests(stats) == count)
        if served_by_both():
            break
    assert served_by_both(), "the kernel gave every connection to one worker"

    def section() -> dict[str, Any]:
        front_figures: dict[str, Any] = read_stats(stats)["front"]
        return front_figures

    # Each worker rewrites its row once a second: wait for both to have written the last ones.
    eventually(lambda: section()["upstreams"][0]["requests"] == sent)
    figures = section()
    assert figures["workers"] == 2
    (server,) = figures["upstreams"]
    assert server["pool"] == "app"
    assert server["server"] == f"127.0.0.1:{app_port}"
    assert server["state"] == "up"
    assert server["failures"] == 0
    assert server["active"] == 0
    assert server["latency_ms"] > 0
    assert server["idle_connections"] >= 2  # a kept-alive connection in each worker
