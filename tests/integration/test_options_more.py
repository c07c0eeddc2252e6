"""Smaller uWSGI options with real processes: protocol on socket listeners, print and
show-config, pyargv, chdir2, and PasteDeploy apps (paste, paste-logger)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.http import get
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not server_is_usher(), reason="usher's log lines"),
]

ARGV_APP = """
import os, sys

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr((sys.argv[1:], os.getcwd())).encode()]
"""

PASTE_APP = """
import logging

def factory(global_config, **settings):
    def app(environ, start_response):
        logging.getLogger("pasteapp").info("hello from %s", settings["greeting"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [settings["greeting"].encode()]
    return app
"""

PASTE_INI = """
[app:main]
paste.app_factory = pasteapp:factory
greeting = bonjour

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = INFO
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = PASTELOG %(name)s %(message)s
"""


def test_protocol_http_makes_socket_listeners_speak_http(serve: Serve) -> None:
    port = free_port()
    serve(["--socket", f"127.0.0.1:{port}", "--protocol", "http", "--wsgi-file", str(WSGI_APPS)])
    assert get(("127.0.0.1", port), "/pid").status == 200


def test_print_and_show_config_are_logged_at_startup(serve: Serve) -> None:
    port = free_port()
    server = serve(
        [
            "--http-socket",
            f"127.0.0.1:{port}",
            "--wsgi-file",
            str(WSGI_APPS),
            "--processes",
            "2",
            "--show-config",
            "--print",
            "hello operator",
        ]
    )
    log = server.log_text().splitlines()
    assert "hello operator" in log
    start = log.index("[uwsgi]")
    shown = log[start : log.index(";end of configuration")]
    assert "processes = 2" in shown and "show-config = true" in shown
    assert f"http-socket = 127.0.0.1:{port}" in shown


@pytest.mark.parametrize("lazy", [False, True], ids=["master", "lazy-apps"])
def test_pyargv_and_chdir2(serve: Serve, tmp_path: Path, lazy: bool) -> None:
    (tmp_path / "argvapp.py").write_text(ARGV_APP)
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    port = free_port()
    server_args = ["--http-socket", f"127.0.0.1:{port}", "--chdir", str(tmp_path)]
    server_args += ["--module", "argvapp", "--pyargv=--debug 'two words'"]
    server_args += ["--chdir2", str(elsewhere), *(["--lazy-apps"] if lazy else [])]
    serve(server_args)
    argv, cwd = eval(get(("127.0.0.1", port), "/").body)  # the app's own repr of a tuple
    assert argv == ["--debug", "two words"]
    assert cwd == str(elsewhere)


def test_a_paste_deploy_app_with_its_logging(serve: Serve, tmp_path: Path) -> None:
    (tmp_path / "pasteapp.py").write_text(PASTE_APP)
    (tmp_path / "production.ini").write_text(PASTE_INI)
    port = free_port()
    server = serve(
        [
            "--http-socket",
            f"127.0.0.1:{port}",
            "--chdir",
            str(tmp_path),
            "--paste",
            "config:production.ini",
            "--paste-logger",
            "--pythonpath",
            str(tmp_path),
        ]
    )
    assert get(("127.0.0.1", port), "/").body == b"bonjour"
    assert "app paste config:production.ini" in server.log_text()
    for _ in range(500):  # the log line is written by the worker as it answers; bounded re-reads
        if "PASTELOG pasteapp hello from bonjour" in server.log_text():
            break
        get(("127.0.0.1", port), "/")
    assert "PASTELOG pasteapp hello from bonjour" in server.log_text()


def test_paste_without_paste_deploy_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from usher.adapters.paste import PasteError, load_paste

    monkeypatch.setitem(sys.modules, "paste.deploy", None)  # import fails as if not installed
    with pytest.raises(PasteError, match="pip install PasteDeploy"):
        load_paste("config:/nonexistent.ini", logger=False)
    assert os.getcwd()  # the loader changed nothing before failing
