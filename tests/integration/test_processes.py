"""The master as an operator meets it: workers respawn, SIGTERM drains in-flight requests, SIGHUP
reloads, pidfile and unix socket come and go with --vacuum, and startup mistakes fail fast with
a message that names the cause."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.events import EventListener
from tests.support.http import Address, get, http_connection
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, ServerProcess, free_port, server_command

pytestmark = pytest.mark.timeout(60)

# Respawn and reload are asynchronous; requests are repeated (each one a real round trip) until the
# new worker answers, within these bounds.
CHANGE_DEADLINE = 15.0
CHANGE_MAX_REQUESTS = 5000


def apps_args(port: int, *extra: str) -> list[str]:
    return ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), *extra]


def worker_pid(site: Address) -> int:
    response = get(site, "/pid")
    assert response.status == 200
    return int(response.text)


def parent_pid(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
    stat_line = Path(f"/proc/{pid}/stat").read_text()
    return int(stat_line.rpartition(")")[2].split()[1])


def wait_for_new_worker(site: Address, old: set[int]) -> int:
    """Request /pid until a worker outside `old` answers; connection errors while workers change
    count as attempts."""
    deadline = time.monotonic() + CHANGE_DEADLINE
    for _ in range(CHANGE_MAX_REQUESTS):
        if time.monotonic() > deadline:
            break
        try:
            pid = worker_pid(site)
        except (ConnectionError, TimeoutError):
            continue
        if pid not in old:
            return pid
    raise AssertionError(f"no worker other than {old} answered within {CHANGE_DEADLINE} s")


def test_sigkilled_worker_is_replaced(serve: Serve) -> None:
    port = free_port()
    server = serve(apps_args(port, "--processes", "1"))
    site = ("127.0.0.1", port)
    first = worker_pid(site)
    assert first != server.pid
    assert parent_pid(first) == server.pid
    os.kill(first, signal.SIGKILL)
    # The listening socket belongs to the master, so connections wait in its backlog until the
    # replacement worker accepts them.
    replacement = wait_for_new_worker(site, {first})
    assert parent_pid(replacement) == server.pid
    assert server.returncode is None
    # The replacement must obey a shutdown like a first-generation worker.
    assert server.stop(timeout=10) == 0
    assert not server.group_alive()


def test_sigterm_lets_the_inflight_request_finish(serve: Serve, events: EventListener) -> None:
    port = free_port()
    mercy = 10
    server = serve(
        apps_args(port, "--processes", "1", "--worker-reload-mercy", str(mercy)),
        env={**os.environ, **events.env()},
    )
    conn = http_connection(("127.0.0.1", port), timeout=mercy + 5)
    try:
        conn.request("GET", "/sleep?seconds=2")
        events.wait_for("sleep-started")
        server.send_signal(signal.SIGTERM)
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == b"slept 2.0\n"
    finally:
        conn.close()
    assert server.wait(timeout=mercy) == 0
    assert not server.group_alive(), "workers outlived the master"


def test_sigterm_with_no_traffic_exits_promptly(serve: Serve) -> None:
    port = free_port()
    server = serve(apps_args(port, "--processes", "2"))
    assert get(("127.0.0.1", port), "/pid").status == 200
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert not server.group_alive()


def test_pidfile_is_written_and_vacuumed(serve: Serve, sock_dir: Path) -> None:
    port = free_port()
    pidfile = sock_dir / "usher.pid"
    server = serve(apps_args(port, "--pidfile", str(pidfile), "--vacuum"))
    assert int(pidfile.read_text().strip()) == server.pid
    server.stop()
    assert not pidfile.exists()


def test_unix_socket_is_chmodded_and_vacuumed(serve: Serve, sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    server = serve(
        ["--http-socket", str(path), "--wsgi-file", str(WSGI_APPS), "--chmod-socket", "--vacuum"]
    )
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    # A bare --chmod-socket means 666: nginx, running as another user, must be able to connect.
    assert stat.S_IMODE(mode) == 0o666
    assert get(str(path), "/echo/unix").json()["PATH_INFO"] == "/echo/unix"
    server.stop()
    assert not path.exists()


def test_sighup_reload_brings_new_workers(serve: Serve) -> None:
    port = free_port()
    server = serve(apps_args(port, "--processes", "1"))
    site = ("127.0.0.1", port)
    before = worker_pid(site)
    server.send_signal(signal.SIGHUP)
    after = wait_for_new_worker(site, {before})
    assert parent_pid(after) == server.pid, "the master itself must survive a reload"
    assert server.returncode is None
    assert server.stop(timeout=10) == 0
    assert not server.group_alive()


def test_missing_app_module_fails_before_ready(serve: Serve) -> None:
    port = free_port()
    server = serve(
        ["--http-socket", f"127.0.0.1:{port}", "--module", "no_such_module_for_usher.wsgi"],
        wait_ready=False,
    )
    status = server.wait(timeout=30)
    assert status != 0, server.describe()
    assert not any("READY=1" in note for note in server.drain_notifications())
    # The last thing an operator reads is one line naming what is missing.
    last_line = server.stderr_text().strip().splitlines()[-1]
    assert "no_such_module_for_usher" in last_line, server.describe()


def test_unknown_flag_exits_2_with_a_suggestion() -> None:
    result = subprocess.run(
        [*server_command(), "--http-socket", "127.0.0.1:0", "--procesess", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "did you mean" in result.stderr
    assert "--processes" in result.stderr


def test_ini_file(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[uwsgi]\n"
        f"http-socket = 127.0.0.1:{port}\n"
        f"wsgi-file = {WSGI_APPS}\n"
        "master = true\n"
        "processes = 2\n"
    )
    server = serve([str(ini)])
    pid = worker_pid(("127.0.0.1", port))
    assert parent_pid(pid) == server.pid


def test_stopped_server_releases_its_port(serve: Serve) -> None:
    port = free_port()
    first: ServerProcess = serve(apps_args(port))
    first.stop()
    second = serve(apps_args(port))
    assert second.returncode is None
    assert get(("127.0.0.1", port), "/pid").status == 200
