"""A client that goes away mid-response: one line in the log, no traceback, no app exception.

The client asks for far more than the socket buffers hold, reads a little, and closes with the
rest unread (the kernel answers the server's next write with a reset). Stopping the server
gracefully waits for its requests, so the log is complete when the test reads it.
"""

from __future__ import annotations

import socket

import pytest

from tests.integration.ops import eventually, read_stats
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port

WSGI_APPS = FIXTURES / "wsgi_apps.py"
BIG = "chunks=4000&size=65536"  # 256 MiB: never all in the socket buffers


def start(serve: Serve, *extra: str) -> tuple[tuple[str, int], tuple[str, int], ServerProcess]:
    port, stats = free_port(), free_port()
    args = [
        "--http-socket", f"127.0.0.1:{port}",
        "--wsgi-file", str(WSGI_APPS),
        "--processes", "1",
        "--stats", f"127.0.0.1:{stats}",
        *extra,
    ]  # fmt: skip
    return ("127.0.0.1", port), ("127.0.0.1", stats), serve(args)


def leave_mid_response(address: tuple[str, int], path: str) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # reset


def gone_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "client went away" in line]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_gone_client_is_one_line_not_an_exception(serve: Serve, threads: str) -> None:
    address, stats, server = start(serve, "--threads", threads)
    leave_mid_response(address, f"/stream?{BIG}")
    # Counters reach the stats once a second: wait until the request is counted.
    eventually(lambda: read_stats(stats)["workers"][0]["requests"] == 1)
    assert read_stats(stats)["workers"][0]["exceptions"] == 0
    server.stop()
    log = server.stderr_text()
    assert len(gone_lines(log)) == 1, log
    assert "GET /stream" in gone_lines(log)[0] and "Traceback" not in log


def test_write_raises_in_the_app_unless_disable_write_exception(serve: Serve) -> None:
    address, _, server = start(serve, "--threads", "2")
    leave_mid_response(address, f"/write-many?{BIG}")
    # A pool thread's request does not hold a stop once its client is gone: wait for its end.
    eventually(lambda: "write-many:" in server.stderr_text())
    server.stop()
    log = server.stderr_text()
    assert "write-many: write() raised ConnectionAbortedError" in log
    assert len(gone_lines(log)) == 1 and "Traceback" not in log, log

    address, _, server = start(serve, "--threads", "2", "--disable-write-exception")
    leave_mid_response(address, "/write-many?chunks=200&size=65536")
    eventually(lambda: "write-many:" in server.stderr_text())
    server.stop()
    log = server.stderr_text()
    assert "write-many: every write() returned" in log and "raised" not in log, log


def test_ignore_write_errors_keeps_the_log_quiet(serve: Serve) -> None:
    address, _, server = start(serve, "--ignore-write-errors", "--ignore-sigpipe")
    leave_mid_response(address, f"/stream?{BIG}")
    server.stop()
    log = server.stderr_text()
    assert not gone_lines(log) and "Traceback" not in log and "GET /stream" in log
