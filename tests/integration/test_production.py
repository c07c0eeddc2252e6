"""The tutorial's deployment as production runs it: uid/gid with a pidfile and HUP, vacuum after
dropping privileges, `--reload`/`--stop PIDFILE`, a live unix socket never taken, no orphans
after a SIGKILLed master, and startup errors that are one line."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import get
from tests.support.privileged import (
    interpreter_hidden_from,
    python_for,
    readable_dir,
    unprivileged_user,
)
from tests.support.server import (
    Serve,
    ServerProcess,
    free_port,
    server_command,
    server_is_usher,
    start_server,
)

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not server_is_usher(), reason="usher's own production behaviour"),
]

APP = "import os\n\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [str(os.getpid()).encode()]\n"
SLOW_APP = (
    "import os, time\n\ndef application(environ, start_response):\n"
    "    time.sleep(float(environ.get('QUERY_STRING') or 0))\n"
    "    start_response('200 OK', [])\n    return [str(os.getpid()).encode()]\n"
)


@pytest.fixture
def site_dir() -> Iterator[Path]:
    """A root-owned directory the server's user can read but not write, holding the app."""
    path = readable_dir()
    (path / "app.py").write_text(APP)
    (path / "app.py").chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pids(site: tuple[str, int], count: int = 10) -> set[int]:
    return {int(get(site, "/").body) for _ in range(count)}


def run_as_user(site_dir: Path, tmp_path: Path, *extra: str) -> tuple[ServerProcess, str]:
    user = unprivileged_user().pw_name
    command, env = python_for(user)
    server = start_server(
        ["--wsgi-file", str(site_dir / "app.py"), "--uid", user, "--gid", user, *extra],
        log_dir=tmp_path / "server", env=env, cwd=site_dir, command=command,
    )  # fmt: skip
    return server, user


def test_uid_pidfile_and_hup_keep_serving(site_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    pidfile = site_dir / "usher.pid"
    server, _ = run_as_user(
        site_dir, tmp_path, "--http-socket", f"127.0.0.1:{port}", "--pidfile", str(pidfile)
    )
    with server:
        site = ("127.0.0.1", port)
        assert pidfile.read_text().strip() == str(server.pid)
        before = pids(site)
        server.drain_notifications()
        server.notifications.clear()
        server.send_signal(signal.SIGHUP)
        server.wait_notification("READY=1")
        assert server.returncode is None, server.describe()
        assert pids(site).isdisjoint(before)
        assert pidfile.read_text().strip() == str(server.pid)  # written once, kept
        assert "cannot write pidfile" not in server.log_text()
        assert server.stop() == 0


def test_uid_vacuum_says_in_one_line_what_it_could_not_remove(
    site_dir: Path, tmp_path: Path
) -> None:
    sock = site_dir / "app.sock"
    server, user = run_as_user(
        site_dir, tmp_path, "--socket", str(sock), "--pidfile", str(site_dir / "p.pid"), "--vacuum"
    )
    with server:
        assert server.stop() == 0, server.describe()
        log = server.log_text()
    assert "Traceback" not in log, log
    line = next(
        text for text in log.splitlines() if "vacuum: cannot remove the unix socket" in text
    )
    assert str(sock) in line and user in line and "Permission denied" in line


def test_reload_and_stop_through_the_pidfile(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "usher.pid"
    (tmp_path / "app.py").write_text(APP)
    server = serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(tmp_path / "app.py"),
         "--pidfile", str(pidfile)]
    )  # fmt: skip
    before = pids(("127.0.0.1", port))
    server.notifications.clear()
    done = subprocess.run(
        [*server_command(), "--reload", str(pidfile)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    server.wait_notification("READY=1")
    assert pids(("127.0.0.1", port)).isdisjoint(before)
    done = subprocess.run(
        [*server_command(), "--stop", str(pidfile)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert server.wait() == 0


def test_stale_pidfile_is_one_clear_line(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(f"{gone.pid}\n")
    for flag in ("--reload", "--stop"):
        done = subprocess.run(
            [*server_command(), flag, str(pidfile)], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "stale" in done.stderr, done.stderr


def test_live_unix_socket_is_never_taken(serve: Serve, sock_dir: Path, tmp_path: Path) -> None:
    path = sock_dir / "live.sock"
    (tmp_path / "app.py").write_text(APP)
    first = serve(["--socket", str(path), "--wsgi-file", str(tmp_path / "app.py")])
    second = serve(
        ["--socket", str(path), "--wsgi-file", str(tmp_path / "app.py")], wait_ready=False
    )
    assert second.wait() == 1
    errors = [line for line in second.log_text().splitlines() if line.strip()]
    assert len(errors) == 1, errors
    assert str(path) in errors[0] and f"pid {first.pid}" in errors[0], errors
    assert path.exists() and first.returncode is None


def test_stale_unix_socket_is_replaced_with_a_note(
    serve: Serve, sock_dir: Path, tmp_path: Path
) -> None:
    path = sock_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as left:
        left.bind(str(path))  # bound, never listening: connect is refused, as after a crash
    (tmp_path / "app.py").write_text(APP)
    server = serve(["--socket", str(path), "--wsgi-file", str(tmp_path / "app.py")])
    assert "replaced the stale socket file" in server.log_text()


def test_sigkilled_master_leaves_no_orphans(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(SLOW_APP)
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(tmp_path / "app.py")]
    server = serve([*args, "--processes", "2", "--no-orphans"])
    workers = pids(("127.0.0.1", port))
    # A request in flight when the master dies is still answered.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
        held.sendall(b"GET /?1 HTTP/1.1\r\nHost: x\r\n\r\n")
        os.kill(server.pid, signal.SIGKILL)
        assert held.recv(4096).startswith(b"HTTP/1.1 200"), "the in-flight request was lost"
    server.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"orphans still running: {workers}"
        time.sleep(0.05)  # polling the process table: there is no parent left to wait on
    again = serve(args)
    assert get(("127.0.0.1", port), "/").status == 200
    assert again.returncode is None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_module_is_one_line(serve: Serve) -> None:
    server = serve(
        ["--http-socket", f"127.0.0.1:{free_port()}", "--module", "no_such_module_here"],
        wait_ready=False,
    )
    assert server.wait() == 1
    log = server.log_text()
    assert "Traceback" not in log, log
    line = next(text for text in log.splitlines() if "no_such_module_here" in text)
    assert "not found" in line and os.getcwd() in line, line


def test_error_in_the_users_module_is_its_traceback_then_one_line(
    serve: Serve, tmp_path: Path
) -> None:
    (tmp_path / "brokenmod.py").write_text("raise RuntimeError('database is down')\n")
    server = serve(
        ["--http-socket", f"127.0.0.1:{free_port()}", "--module", "brokenmod",
         "--chdir", str(tmp_path)],
        wait_ready=False,
    )  # fmt: skip
    assert server.wait() == 1
    lines = server.log_text().strip().splitlines()
    assert any(line.startswith("Traceback") for line in lines)
    assert "brokenmod" in lines[-1] and "database is down" in lines[-1], lines[-3:]


def test_interpreter_the_user_cannot_read_is_named_at_startup(
    site_dir: Path, tmp_path: Path
) -> None:
    user = unprivileged_user().pw_name
    if not interpreter_hidden_from(user):
        pytest.skip(f"{user} can read this interpreter ({sys.executable})")
    server = start_server(
        ["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(site_dir / "app.py"),
         "--uid", user],
        log_dir=tmp_path / "server", cwd=site_dir, wait_ready=False,
    )  # fmt: skip
    with server:
        assert server.wait() == 1
        log = server.log_text()
    line = next(text for text in log.splitlines() if "cannot read" in text)
    assert user in line and "interpreter" in line and "chmod" in line, line
    assert "Traceback" not in log and "not installed" not in log, log


@pytest.mark.nginx
def test_chown_socket_lets_nginx_workers_as_an_unprivileged_user_in(
    serve: Serve, site_dir: Path, tmp_path: Path
) -> None:
    from tests.support.nginx import start_nginx

    user = unprivileged_user()
    sock = site_dir / "app.sock"
    owner = f"{user.pw_name}:{user.pw_name}"
    serve(
        ["--socket", str(sock), "--wsgi-file", str(site_dir / "app.py"),
         "--chmod-socket", "660", "--chown-socket", owner],
    )  # fmt: skip
    info = sock.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (user.pw_uid, user.pw_gid, 0o660)
    nginx = start_nginx(tmp_path, f"unix:{sock}", user=user.pw_name)
    try:
        workers = subprocess.run(
            ["ps", "-o", "user=", "--ppid", str(nginx.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert workers and set(workers) == {user.pw_name}, workers
        assert get(nginx.address, "/").status == 200, nginx.describe()
    finally:
        nginx.stop()


def test_chown_socket_is_not_misdirected_to_chmod(tmp_path: Path) -> None:
    done = subprocess.run(
        [*server_command(), "--chown-sockets", "www-data", "--http-socket", ":0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "chown-socket" in done.stderr and "chmod-socket" not in done.stderr, done.stderr


def test_log_req_is_the_workers_count_then_the_server_total(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(APP)
    server = serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(tmp_path / "app.py"),
         "--processes", "2", "--chdir", str(tmp_path), "--stats", f"127.0.0.1:{free_port()}"],
    )  # fmt: skip
    for _ in range(12):
        assert get(("127.0.0.1", port), "/").status == 200
    server.stop()
    counts = [
        tuple(int(n) for n in line.split("|req: ")[1].split("]")[0].split("/"))
        for line in server.log_text().splitlines()
        if "|req: " in line
    ]
    assert len(counts) == 12
    assert [total for _, total in counts] == list(range(1, 13))  # one request at a time
    assert all(own <= total for own, total in counts)
    assert sum(1 for own, _ in counts if own == 1) in (1, 2)  # each worker counts from 1


def test_stats_cwd_is_the_apps_directory(serve: Serve, tmp_path: Path) -> None:
    from tests.integration.ops import read_stats

    stats = free_port()
    (tmp_path / "app.py").write_text(APP)
    serve(
        ["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", "app.py",
         "--chdir", str(tmp_path), "--stats", f"127.0.0.1:{stats}"],
    )  # fmt: skip
    assert read_stats(("127.0.0.1", stats))["cwd"] == str(tmp_path)


def test_notes_reach_the_terminal_when_logs_go_to_a_file(serve: Serve, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    log = tmp_path / "usher.log"
    ini = tmp_path / "usher.ini"
    ini.write_text(f"[uwsgi]\nlogto = {log}\nno-such-option-here = 1\n")
    server = serve(
        ["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(tmp_path / "app.py"),
         "--ini", str(ini)],
    )  # fmt: skip
    assert "no-such-option-here" in server.stderr_text()
    assert "no-such-option-here" in log.read_text()


def test_umask_applies_to_what_the_server_creates(
    serve: Serve, sock_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP)
    pidfile, sock = tmp_path / "u.pid", sock_dir / "umask.sock"
    serve(
        ["--socket", str(sock), "--wsgi-file", str(tmp_path / "app.py"),
         "--pidfile", str(pidfile), "--umask", "077"],
    )  # fmt: skip
    assert pidfile.stat().st_mode & 0o777 == 0o600
    assert sock.stat().st_mode & 0o077 == 0


def test_pidfile_naming_another_program_is_stale_and_not_signalled(tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", "30"]) as other:
        pidfile = tmp_path / "reused.pid"
        pidfile.write_text(f"{other.pid}\n")
        done = subprocess.run(
            [*server_command(), "--stop", str(pidfile)], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 1 and "another program" in done.stderr, done.stderr
        assert other.poll() is None  # not signalled
        other.kill()
