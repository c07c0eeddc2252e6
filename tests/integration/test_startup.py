"""Startup paths an operator meets: need-app off, logto, bad values, --version and --help."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from tests.support.http import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port, server_command
from usher import compiled

WSGI_APPS = FIXTURES / "wsgi_apps.py"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*server_command(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_need_app_off_serves_500_naming_the_cause(serve: Serve) -> None:
    port = free_port()
    serve(
        ["--http-socket", f"127.0.0.1:{port}", "--module", "usher_missing_app", "--need-app=false"]
    )
    response = get(("127.0.0.1", port), "/")
    assert response.status == 500
    assert b"usher_missing_app" in response.body


def test_logto_writes_the_log_to_a_file(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    logfile = tmp_path / "server.log"
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)]
    server = serve([*args, "--logto", str(logfile)])
    assert get(("127.0.0.1", port), "/pid").status == 200
    server.stop()
    text = logfile.read_text()
    assert "usher" in text and "GET /pid" in text
    assert "GET /pid" not in server.stderr_text()


def test_bad_value_names_option_file_and_line(tmp_path: Path) -> None:
    ini = tmp_path / "app.ini"
    ini.write_text("[uwsgi]\nhttp-socket = 127.0.0.1:8000\nprocesses = many\n")
    result = run_cli(str(ini))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "app.ini:3" in message and "processes" in message


def test_port_out_of_range_is_refused() -> None:
    result = run_cli("--http-socket", "127.0.0.1:70000", "--wsgi-file", str(WSGI_APPS))
    assert result.returncode == 2
    assert "70000" in result.stderr


def test_version_and_help_exit_0() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and "usher" in version.stdout
    helptext = run_cli("--help")
    assert helptext.returncode == 0 and "--http-socket" in helptext.stdout


def test_an_app_factory_is_called(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)]
    server = serve([*args, "--callable", 'make_app("from a factory")'])
    assert get(("127.0.0.1", port), "/").body == b"from a factory"
    # The banner names the form the server runs, as this process (its parent) runs it.
    assert f"(Python {platform.python_version()}, {compiled.describe()})" in server.stderr_text()


def test_a_failing_app_factory_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run_cli(
        "--http-socket",
        "127.0.0.1:0",
        "--wsgi-file",
        str(WSGI_APPS),
        "--callable",
        "make_app(1, 2, 3)",
    )
    assert result.returncode != 0
    assert "make_app()" in result.stderr
