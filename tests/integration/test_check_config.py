"""`usher --check-config [arguments]`: every source checked, the app imported, nothing bound or
started; a summary and 0, or the one-line error and 2."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.server import server_command, server_is_usher

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not server_is_usher(), reason="usher's --check-config"),
]

APP = "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"


def check(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*server_command(), "--check-config", *args],
        capture_output=True, text=True, timeout=30, cwd=cwd,
    )  # fmt: skip


def test_good_config_binds_nothing_and_summarises(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    ini = tmp_path / "usher.ini"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ini.write_text(
            f"[uwsgi]\nhttp-socket = 127.0.0.1:{port}\nsocket = {tmp_path}/app.sock\n"
            f"wsgi-file = {tmp_path}/app.py\nprocesses = 3\n"
        )
        done = check("--ini", str(ini))  # the port is in use: a check that bound would fail
    assert done.returncode == 0, done.stderr
    assert f"http 127.0.0.1:{port}" in done.stdout and f"uwsgi {tmp_path}/app.sock" in done.stdout
    assert "app.py" in done.stdout and "3 x 1 thread" in done.stdout
    assert not (tmp_path / "app.sock").exists()


def test_missing_module_is_exit_2_and_one_line(tmp_path: Path) -> None:
    done = check("--http-socket", ":8000", "--module", "nowhere_to_be_found", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "nowhere_to_be_found" in done.stderr and str(tmp_path) in done.stderr


def test_broken_app_is_its_traceback_then_one_line(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def application(environ, start_response)\n    pass\n")
    done = check("--http-socket", ":8000", "--wsgi-file", str(tmp_path / "app.py"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "SyntaxError" in done.stderr and "syntax error" in lines[-1] and "app.py" in lines[-1]


def test_bad_option_and_bad_paths_are_exit_2(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    base = ["--http-socket", ":8000", "--wsgi-file", str(tmp_path / "app.py")]
    assert check(*base, "--processes", "zero").returncode == 2
    done = check(*base, "--chdir", str(tmp_path / "missing"))
    assert done.returncode == 2 and "chdir" in done.stderr
    done = check(*base, "--pidfile", str(tmp_path / "no" / "dir" / "x.pid"))
    assert done.returncode == 2 and "pidfile" in done.stderr
