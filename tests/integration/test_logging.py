"""Logging as uWSGI configs ask for it, seen where the lines land: files, stderr, syslog datagrams.

Syslog is tested through `rsyslog:` with a unix datagram socket the test binds (usher's extension
of uWSGI's host:port): `syslog:` itself always sends to /dev/log, which a test cannot own.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ops import fifo_command
from tests.support.http import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port, short_tmp_dir

WSGI_APPS = FIXTURES / "wsgi_apps.py"


def start(serve: Serve, *extra: str) -> tuple[tuple[str, int], ServerProcess]:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), *extra]
    return ("127.0.0.1", port), serve(args)


@pytest.fixture
def datagrams() -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket standing in for a syslog daemon."""
    folder = short_tmp_dir()
    path = str(folder / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder)


def received_until(sock: socket.socket, wanted: str) -> list[str]:
    """Datagrams up to the first that contains `wanted` (a timeout fails the test)."""
    seen = []
    while True:
        text = sock.recv(65536).decode()
        seen.append(text)
        if wanted in text:
            return seen


def test_req_logger_file_takes_access_lines_and_logger_file_the_rest(
    serve: Serve, tmp_path: Path
) -> None:
    server_log, access_log = tmp_path / "server.log", tmp_path / "access.log"
    address, server = start(
        serve, "--logger", f"file:{server_log}", "--req-logger", f"file:{access_log}"
    )
    assert get(address, "/pid").status == 200
    server.stop()
    assert "GET /pid" in access_log.read_text()
    assert "usher" in server_log.read_text() and "GET /pid" not in server_log.read_text()
    assert "GET /pid" not in server.stderr_text()


def test_syslog_datagrams_carry_ident_and_the_line(
    serve: Serve, datagrams: tuple[socket.socket, str]
) -> None:
    sock, path = datagrams
    address, _ = start(serve, "--logger", f"rsyslog:{path},shop,local3")
    assert get(address, "/pid").status == 200
    lines = received_until(sock, "GET /pid")
    # local3 (19) * 8 + info (6) = 158
    assert re.match(r"<158>shop\[\d+\]: \[pid: \d+", lines[-1]), lines[-1]


def test_named_logger_gets_only_routed_lines(serve: Serve, tmp_path: Path) -> None:
    missing, rest = tmp_path / "missing.log", tmp_path / "rest.log"
    address, server = start(
        serve,
        "--logger", f"missing file:{missing}",
        "--logger", f"file:{rest}",
        "--log-route", r"missing \(HTTP/1.1 404\)",
    )  # fmt: skip
    assert get(address, "/nowhere").status == 404
    assert get(address, "/pid").status == 200
    server.stop()
    assert "GET /nowhere" in missing.read_text() and "GET /pid" not in missing.read_text()
    assert "GET /pid" in rest.read_text() and "GET /nowhere" not in rest.read_text()


def test_stdio_logger_writes_to_stderr(serve: Serve) -> None:
    address, server = start(serve, "--logger", "stdio")
    assert get(address, "/pid").status == 200
    server.stop()
    assert "GET /pid" in server.stderr_text()


def test_req_encoders_json_and_nl(serve: Serve, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    address, server = start(
        serve,
        "--req-logger", f"file:{access}",
        "--log-format", '"%(method) %(uri)" %(status)',
        "--log-req-encoder", 'json {"unix": ${unix}, "msg": "${msg}"}',
        "--log-req-encoder", "nl",
    )  # fmt: skip
    assert get(address, "/pid").status == 200
    server.stop()
    record = json.loads(access.read_text().splitlines()[0])
    assert record["msg"] == '"GET /pid" 200' and record["unix"] > 1_600_000_000


def test_server_encoder_format_with_strftime(serve: Serve, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    address, server = start(
        serve,
        "--logger", f"file:{log}",
        "--log-encoder", "format [${strftime:%Y}] ${msg}",
        "--log-encoder", "nl",
    )  # fmt: skip
    assert get(address, "/pid").status == 200
    server.stop()
    lines = log.read_text().splitlines()
    assert lines and all(re.match(r"\[20\d\d\] ", line) for line in lines), lines


def test_log_date_with_a_format_prefixes_lines(serve: Serve) -> None:
    address, server = start(serve, "--log-date", "%Y-%m-%d")
    assert get(address, "/pid").status == 200
    server.stop()
    line = next(line for line in server.stderr_text().splitlines() if "GET /pid" in line)
    assert re.match(r"20\d\d-\d\d-\d\d - \[pid: ", line), line


def test_log_micros_and_logformat_strftime(serve: Serve) -> None:
    address, server = start(serve, "--log-micros")
    assert get(address, "/pid").status == 200
    server.stop()
    assert re.search(r"GET /pid => generated \d+ bytes in \d+ micros", server.stderr_text())
    address, server = start(serve, "--logformat", "at %Y: %(uri)", "--logformat-strftime")
    assert get(address, "/pid").status == 200
    server.stop()
    assert re.search(r"at 20\d\d: /pid", server.stderr_text())


def test_disable_logging_still_logs_4xx_5xx_and_slow(serve: Serve) -> None:
    address, server = start(
        serve, "--disable-logging", "--log-4xx", "--log-5xx", "--log-slow", "100"
    )
    assert get(address, "/pid").status == 200
    assert get(address, "/nowhere").status == 404
    assert get(address, "/raise-before").status == 500
    assert get(address, "/sleep?seconds=0.3").status == 200
    server.stop()
    log = server.stderr_text()
    assert "GET /nowhere" in log and "GET /raise-before" in log and "GET /sleep" in log
    assert "GET /pid" not in log


def test_log_x_forwarded_for(serve: Serve) -> None:
    address, server = start(serve, "--log-x-forwarded-for")
    assert get(address, "/pid", headers={"X-Forwarded-For": "203.0.113.9"}).status == 200
    server.stop()
    assert re.search(r"\] 203\.0\.113\.9 \(\) .*GET /pid", server.stderr_text())


def test_log_maxsize_moves_the_full_log_to_the_backup_name(serve: Serve, tmp_path: Path) -> None:
    log, backup = tmp_path / "server.log", tmp_path / "server.log.old"
    address, server = start(
        serve, "--logto", str(log), "--log-maxsize", "2000", "--log-backupname", str(backup)
    )
    for _ in range(20):  # ~200 bytes a line: past the size
        assert get(address, "/pid").status == 200
    server.wait_notification("log reopened")
    # The worker reopens on the master's SIGUSR1, between two requests: until then its lines
    # still go to the moved file, as with logrotate.
    assert any(_logged_in(log, address, f"/pid?after={n}") for n in range(200))
    server.stop()
    assert "GET /pid" in backup.read_text()
    assert "log-maxsize 2000" in log.read_text()


def _logged_in(log: Path, address: tuple[str, int], path: str) -> bool:
    assert get(address, path).status == 200
    return f"GET {path} " in log.read_text()


@pytest.mark.parametrize(
    ("options", "master", "worker"),
    [
        ((), "usher master", "usher worker 1"),
        (("--auto-procname", "--procname-prefix-spaced", "shop"), "shop usher master", "shop usher worker 1"),
        (("--procname", "app", "--procname-master", "app-master", "--procname-prefix", "x-"), "x-app-master", "x-app"),
    ],
)  # fmt: skip
def test_process_titles(serve: Serve, options: tuple[str, ...], master: str, worker: str) -> None:
    address, server = start(serve, "--processes", "1", *options)
    worker_pid = int(get(address, "/pid").text)
    assert _cmdline(server.pid).startswith(master)
    assert _cmdline(worker_pid).startswith(worker)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def test_what_the_app_prints_goes_through_loggers_and_routes(serve: Serve, tmp_path: Path) -> None:
    app_log, rest = tmp_path / "app.log", tmp_path / "rest.log"
    address, server = start(
        serve,
        "--logger", f"app file:{app_log}",
        "--logger", f"file:{rest}",
        "--log-route", "app ^write-many:",
        "--threads", "2",
    )  # fmt: skip
    assert get(address, "/write-many?chunks=1").status == 200
    server.stop()
    assert app_log.read_text() == "write-many: every write() returned\n"
    assert "GET /write-many" in rest.read_text() and "write-many:" not in server.stderr_text()


def test_a_logger_usher_cannot_use_stops_the_start_with_one_line(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)]
    server = serve([*args, "--logger", "zeromq:tcp://127.0.0.1:5555"], wait_ready=False)
    assert server.wait() == 1
    assert (
        "usher: logger 'zeromq:tcp://127.0.0.1:5555': usher knows file:PATH" in server.stderr_text()
    )


def test_file_loggers_reopen_on_the_fifo_l_command(serve: Serve, tmp_path: Path) -> None:
    log, fifo = tmp_path / "server.log", str(tmp_path / "master.fifo")
    address, server = start(serve, "--logger", f"file:{log}", "--master-fifo", fifo)
    assert get(address, "/pid?before").status == 200
    log.rename(tmp_path / "server.log.1")  # as logrotate does
    fifo_command(fifo, "l")
    server.wait_notification("log reopened")
    assert any(_logged_in(log, address, f"/pid?after={n}") for n in range(200))
    assert "GET /pid?before" in (tmp_path / "server.log.1").read_text()
