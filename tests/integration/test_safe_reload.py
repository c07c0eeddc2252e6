"""A reload never becomes an outage: HUP, touch-reload and the FIFO's `r` first prove in a
throwaway child that the new code imports. With broken code the reload is abandoned under load
with zero failed requests, the failure shows in the log, the stats document, `usher top` and
systemd's STATUS; with the code fixed, the next HUP reloads normally."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.integration.ops import expect_status, fifo_command, forget_notices, read_stats
from tests.integration.test_ops_reload import Load
from tests.support.http import get
from tests.support.server import Serve, ServerProcess, free_port, server_is_usher

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not server_is_usher(), reason="usher's reload check"),
]

GOOD = "import os\n\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [str(os.getpid()).encode()]\n"
BROKEN = "def application(environ, start_response)\n    return []\n"  # the missing colon


def start(serve: Serve, app: Path, *extra: str) -> tuple[ServerProcess, tuple[str, int], int]:
    port, stats = free_port(), free_port()
    app.write_text(GOOD)
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--wsgi-file", str(app),
            "--processes", "2",
            "--stats", f"127.0.0.1:{stats}",
            "--worker-reload-mercy", "5",
            *extra,
        ]
    )  # fmt: skip
    return server, ("127.0.0.1", port), stats


def pids(site: tuple[str, int], count: int = 20) -> set[int]:
    return {int(get(site, "/").body) for _ in range(count)}


def break_then_fix(server: ServerProcess, site: tuple[str, int], app: Path, reload: object) -> None:
    """Under load: break the code and reload (abandoned, zero failures), then fix and reload."""
    assert callable(reload)
    before = pids(site)
    with Load(site, clients=4) as load:
        load.wait_for(50)
        app.write_text(BROKEN)
        forget_notices(server)
        reload()
        note = expect_status(server, "FAILED")
        load.wait_for(100)
    assert load.failures == [], load.failures[:5]
    assert "syntax error" in note, note
    log = server.log_text()
    assert "SyntaxError" in log and "reload abandoned" in log, server.describe()
    assert server.returncode is None
    assert pids(site) <= before  # the old workers still serve
    app.write_text(GOOD)
    forget_notices(server)
    reload()
    expect_status(server, "READY=1")
    assert pids(site).isdisjoint(before), server.describe()


def test_hup_with_a_syntax_error_under_load_fails_no_request(serve: Serve, tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    server, site, _ = start(serve, app)
    break_then_fix(server, site, app, lambda: server.send_signal(signal.SIGHUP))


def test_failed_reload_shows_in_stats_and_top(serve: Serve, tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    server, site, stats = start(serve, app, "--lazy-apps")
    app.write_text(BROKEN)
    server.send_signal(signal.SIGHUP)
    expect_status(server, "FAILED")
    document = read_stats(("127.0.0.1", stats))
    assert document["last_reload_failed"] > 0
    assert "syntax error" in document["last_reload_error"]
    from usher.ops.top import render

    screen = render(document, {}, 1.0, color=False)
    assert "LAST RELOAD FAILED" in screen, screen
    assert get(site, "/").status == 200


def test_fifo_r_and_touch_reload_are_checked(serve: Serve, tmp_path: Path) -> None:
    app, touch, fifo = tmp_path / "app.py", tmp_path / "reload", str(tmp_path / "fifo")
    touch.write_text("")
    server, site, _ = start(serve, app, "--master-fifo", fifo, "--touch-reload", str(touch))
    break_then_fix(server, site, app, lambda: fifo_command(fifo, "r"))
    forget_notices(server)
    app.write_text(BROKEN)
    os.utime(touch, (1, 1))
    expect_status(server, "FAILED")
    assert get(site, "/").status == 200
