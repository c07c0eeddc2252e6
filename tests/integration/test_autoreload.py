"""py-autoreload with real processes: change the app module's file, and the next response after
the reload shows the new code (the reload is SIGHUP's: READY=1 again once the workers serve)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.ops import expect_status, forget_notices
from tests.support.http import get
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not server_is_usher(), reason="usher's watch is inotify, not a rescan"),
]

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{text}"]
"""


@pytest.mark.parametrize("lazy", [False, True], ids=["reexec", "lazy-apps"])
def test_a_changed_module_is_served_after_the_reload(
    serve: Serve, tmp_path: Path, lazy: bool
) -> None:
    module = tmp_path / "autoapp.py"
    module.write_text(APP.format(text="one"))
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--pythonpath", str(tmp_path)]
    args += ["--module", "autoapp", "--master", "--py-autoreload", "1"]
    server = serve(
        [*args, *(["--lazy-apps"] if lazy else [])],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    site = ("127.0.0.1", port)
    assert get(site, "/").body == b"one"
    forget_notices(server)
    module.write_text(APP.format(text="two, changed"))
    expect_status(server, "READY=1")
    assert get(site, "/").body == b"two, changed"
    assert "autoapp.py changed; reloading" in server.log_text()
