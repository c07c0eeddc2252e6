"""Hooks with real processes: hook-pre-app, hook-post-app and hook-accepting1-once, each action's
effect (exec, call, mkdir, chmod), where and how often they run, and what happens to an action
usher does not run or to a hook that fails."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest

from tests.integration.ops import worker_pid
from tests.support.events import EventListener
from tests.support.paths import FIXTURES, WSGI_APPS
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not server_is_usher(), reason="usher's hook subset and messages"),
]


def base_args(port: int, *extra: str) -> list[str]:
    return [
        "--http-socket",
        f"127.0.0.1:{port}",
        "--wsgi-file",
        str(WSGI_APPS),
        "--master",
        "--pythonpath",
        str(FIXTURES),
        *extra,
    ]


def test_pre_and_post_app_actions_have_their_effect(
    serve: Serve, events: EventListener, tmp_path: Path
) -> None:
    made = tmp_path / "made" / "deeper"
    marker = tmp_path / "marker"
    server = serve(
        base_args(
            free_port(),
            "--hook-pre-app",
            f"mkdir:{made}",
            "--hook-pre-app",
            f"exec:touch {marker}",
            "--hook-pre-app",
            f"chmod:{marker} 0640",
            "--hook-pre-app",
            "call:hook_calls.pre_app",
            "--hook-post-app",
            "call:hook_calls.post_app",
        ),
        env={**os.environ, **events.env()},
    )
    assert made.is_dir()
    assert stat.S_IMODE(marker.stat().st_mode) == 0o640
    # Without lazy-apps the app is loaded once, in the master: both run there.
    assert int(events.wait_for("pre-app ").split()[1]) == server.pid
    assert int(events.wait_for("post-app ").split()[1]) == server.pid


def test_with_lazy_apps_the_app_hooks_run_in_each_worker(
    serve: Serve, events: EventListener
) -> None:
    server = serve(
        base_args(
            free_port(),
            "--lazy-apps",
            "--processes",
            "2",
            "--hook-pre-app",
            "call:hook_calls.pre_app",
        ),
        env={**os.environ, **events.env()},
    )
    pids = {int(events.wait_for("pre-app ").split()[1]) for _ in range(2)}
    assert len(pids) == 2 and server.pid not in pids


def test_accepting1_once_runs_in_worker_1_and_not_again_after_a_respawn(
    serve: Serve, events: EventListener
) -> None:
    port = free_port()
    serve(
        base_args(port, "--hook-accepting1-once", "call:hook_calls.accepting"),
        env={**os.environ, **events.env()},
    )
    site = ("127.0.0.1", port)
    first = worker_pid(site)
    assert int(events.wait_for("accepting1 ").split()[1]) == first
    os.kill(first, signal.SIGKILL)
    second = first
    deadline = time.monotonic() + 15.0  # the respawn waits 0.5 s (a young death); ample
    while time.monotonic() < deadline:  # until the respawned worker answers (each a round trip)
        try:
            second = worker_pid(site)
        except OSError:
            continue
        if second != first:
            break
    assert second != first
    # The hook would have run before the new worker answered anything: nothing more can come.
    assert not events.drain()


def test_an_action_usher_does_not_run_is_named_and_refused_under_strict(serve: Serve) -> None:
    server = serve(base_args(free_port(), "--hook-pre-app", "putenv:A=1"))
    assert "'putenv' is not supported and is not run" in server.log_text()
    strict = serve(
        base_args(free_port(), "--strict", "--hook-pre-app", "putenv:A=1"), wait_ready=False
    )
    assert strict.wait() == 2
    assert "error: hook-pre-app = putenv:A=1" in strict.log_text()


def test_a_failing_pre_app_hook_stops_the_start(serve: Serve) -> None:
    server = serve(base_args(free_port(), "--hook-pre-app", "exec:exit 3"), wait_ready=False)
    assert server.wait() == 1
    assert "hook-pre-app = exec:exit 3 failed: exit status 3" in server.log_text()
