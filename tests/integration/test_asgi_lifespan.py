"""The ASGI lifespan protocol in real workers: ready only after startup, the startup's state in
each request's scope, shutdown on a graceful stop, and a failed startup that stops the boot with
the app's reason."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.events import EventListener
from tests.support.http import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(60)

APPS = str(FIXTURES / "asgi_lifespan_apps.py")


def args(port: int, callable_name: str, *more: str) -> list[str]:
    return [
        "--http-socket",
        f"127.0.0.1:{port}",
        "--wsgi-file",
        APPS,
        "--callable",
        callable_name,
        *more,
    ]


def test_workers_report_ready_only_after_startup_and_shut_down_on_stop(
    serve: Serve, events: EventListener, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    env = {**os.environ, **events.env(), "USHER_TEST_GATE": str(gate)}
    port = free_port()
    server = serve(args(port, "application"), env=env, wait_ready=False)
    worker_pid = events.wait_for("startup ").split()[1]
    # The startup is waiting on the gate: the worker must not have said it is ready.
    assert not any("READY=1" in note for note in server.drain_notifications())
    with open(gate, "w") as opened:
        opened.write("go\n")
    server.wait_ready()
    assert get(("127.0.0.1", port), "/").body == f"started in {worker_pid}".encode()
    assert server.stop(signal.SIGTERM) == 0
    assert events.wait_for("shutdown ") == f"shutdown {worker_pid}"


@pytest.mark.parametrize(
    ("callable_name", "more", "reason"),
    [
        ("failing", (), "failing: lifespan startup failed: database unreachable"),
        ("raising", (), "raising: lifespan startup failed: RuntimeError: cache warm-up failed"),
        (
            "unaware",
            ("--asgi-lifespan", "on"),
            "unaware: lifespan startup failed: ValueError: cannot handle lifespan",
        ),
    ],
)
def test_a_failed_startup_stops_the_boot_with_its_reason(
    serve: Serve, callable_name: str, more: tuple[str, ...], reason: str
) -> None:
    server = serve(args(free_port(), callable_name, *more), wait_ready=False)
    assert server.wait(timeout=30) != 0
    assert not any("READY=1" in note for note in server.drain_notifications())
    lines = server.stderr_text().splitlines()
    assert any(line.endswith(reason) for line in lines), server.describe()


def test_an_app_without_lifespan_support_is_served_under_auto(serve: Serve) -> None:
    port = free_port()
    server = serve(args(port, "unaware"))
    assert get(("127.0.0.1", port), "/").body == b"served without lifespan"
    assert "the app does not support the ASGI lifespan protocol" in server.stderr_text()
    # off: no lifespan scope at all, so nothing to say about it.
    port = free_port()
    quiet = serve(args(port, "unaware", "--asgi-lifespan", "off"))
    assert get(("127.0.0.1", port), "/").body == b"served without lifespan"
    assert "lifespan protocol" not in quiet.stderr_text()


def test_a_reload_shuts_the_old_workers_down_and_starts_the_new(
    serve: Serve, events: EventListener
) -> None:
    port = free_port()
    server = serve(args(port, "application"), env={**os.environ, **events.env()})
    old = events.wait_for("startup ").split()[1]
    server.send_signal(signal.SIGHUP)
    assert events.wait_for("shutdown ") == f"shutdown {old}"
    new = events.wait_for("startup ").split()[1]
    assert new != old
