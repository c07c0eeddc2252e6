"""The front's time limits, checked on the worker's tick: a connect that never completes."""

from __future__ import annotations

import http.client
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, free_port, start_server

USHER = [sys.executable, "-m", "usher"]


@pytest.fixture
def stalled_upstream() -> Iterator[int]:
    """A loopback listener whose accept queue is full and never read: the kernel drops further
    SYNs, so a connect to it neither succeeds nor fails until the client gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.fixture
def front(tmp_path: Path, stalled_upstream: int) -> Iterator[int]:
    port = free_port()
    ini = tmp_path / "front.ini"
    ini.write_text(
        f"""\
[front]
listen = 127.0.0.1:{port}
access_log = off

[upstream stalled]
server = 127.0.0.1:{stalled_upstream}

[location /]
proxy_pass = http://stalled
proxy_connect_timeout = 400ms
"""
    )
    server: ServerProcess = start_server(
        ["front", "--ini", str(ini)], log_dir=tmp_path / "front", command=USHER
    )
    try:
        yield port
    finally:
        server.close()


def test_a_connect_past_its_limit_is_a_504(front: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
    began = time.monotonic()
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    took = time.monotonic() - began
    assert response.status == 504
    assert b"timed out" in body
    # The tick checks a quarter of the shortest limit apart: the answer comes at the limit,
    # plus at most that quarter (and this host's scheduling).
    assert 0.35 < took < 3.0
