"""Processes beside the app, with real processes: attached daemons start once the server serves,
are respawned after `kill -9`, and are gone once the master stopped; a smart daemon is watched
through its pidfile; a control daemon's death stops the server; cron's executor runs a real
command from the master's scheduler under a fake clock."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.events import EventListener
from tests.support.paths import FIXTURES, WSGI_APPS
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = pytest.mark.timeout(60)

DAEMON = FIXTURES / "daemon.py"


def daemon_command(tag: str, *extra: str) -> str:
    return shlex.join([sys.executable, str(DAEMON), tag, *extra])


def base_args() -> list[str]:
    return ["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(WSGI_APPS), "--master"]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_attached_daemon_is_respawned_and_stopped_with_the_master(
    serve: Serve, events: EventListener
) -> None:
    server = serve(
        [*base_args(), "--attach-daemon", daemon_command("plain")],
        env={**os.environ, **events.env()},
    )
    first = int(events.wait_for("plain ").split()[1])
    os.kill(first, signal.SIGKILL)
    second = int(events.wait_for("plain ").split()[1])
    assert second != first
    assert server.stop() == 0
    assert gone(second)
    if server_is_usher():
        assert "restarting in" in server.log_text()


def test_a_reload_replaces_a_plain_daemon_and_keeps_a_smart_one(
    serve: Serve, events: EventListener, tmp_path: Path
) -> None:
    pidfile = tmp_path / "smart.pid"
    smart = f"{pidfile} {daemon_command('smart', str(pidfile))}"
    args = [
        *base_args(),
        "--attach-daemon",
        daemon_command("plain"),
        "--smart-attach-daemon",
        smart,
    ]
    server = serve(args, env={**os.environ, **events.env()})
    plain = int(events.wait_for("plain ").split()[1])
    kept = int(events.wait_for("smart ").split()[1])
    server.send_signal(signal.SIGHUP)
    fresh = int(events.wait_for("plain ").split()[1])
    assert fresh != plain and gone(plain)
    assert not gone(kept)
    assert server.stop() == 0
    assert gone(fresh) and gone(kept)
    assert not [event for event in events.received if event.startswith("smart ")]


def test_a_reload_of_the_workers_restarts_a_daemon_or_sends_its_reload_signal(
    serve: Serve, events: EventListener
) -> None:
    # With lazy-apps a reload replaces the workers from the same master: the plain daemon is
    # stopped and started again; one with a reload signal gets it instead and keeps running.
    args = [*base_args(), "--lazy-apps", "--attach-daemon", daemon_command("plain")]
    args += ["--attach-daemon2", f"reloadsignal=0,cmd={daemon_command('signalled')}"]
    server = serve(args, env={**os.environ, **events.env()})
    plain = int(events.wait_for("plain ").split()[1])
    signalled = int(events.wait_for("signalled ").split()[1])
    server.send_signal(signal.SIGHUP)
    fresh = int(events.wait_for("plain ").split()[1])
    assert fresh != plain and gone(plain)
    # Signal 0 reaches the daemon and does nothing: it keeps running, and is not started again.
    assert not gone(signalled)
    assert server.stop() == 0
    assert gone(fresh) and gone(signalled)
    assert not [event for event in events.drain() if event.startswith("signalled ")]


def test_attach_daemon2_stopsignal_is_used_at_the_stop(serve: Serve, events: EventListener) -> None:
    # The fixture ignores nothing, so SIGINT ends it as SIGTERM would: the log names what ended it.
    command = daemon_command("keyval")
    server = serve(
        [*base_args(), "--attach-daemon2", f"stopsignal=2,freq=5,cmd={command}"],
        env={**os.environ, **events.env()},
    )
    pid = int(events.wait_for("keyval ").split()[1])
    assert server.stop() == 0
    assert gone(pid)


def test_smart_daemon_is_watched_through_its_pidfile(
    serve: Serve, events: EventListener, tmp_path: Path
) -> None:
    pidfile = tmp_path / "smart.pid"
    spec = f"{pidfile} {daemon_command('smart', str(pidfile))}"
    server = serve(
        [*base_args(), "--smart-attach-daemon", spec], env={**os.environ, **events.env()}
    )
    first = int(events.wait_for("smart ").split()[1])
    assert int(pidfile.read_text()) == first
    os.kill(first, signal.SIGKILL)
    second = int(events.wait_for("smart ").split()[1])
    assert second != first
    assert server.stop() == 0
    assert gone(second)


def test_a_control_daemon_that_dies_stops_the_server(serve: Serve, events: EventListener) -> None:
    command = daemon_command("control")
    server = serve(
        [*base_args(), "--attach-daemon2", f"control=1,cmd={command}"],
        env={**os.environ, **events.env()},
    )
    pid = int(events.wait_for("control ").split()[1])
    os.kill(pid, signal.SIGTERM)
    assert server.wait() == 0
    assert "control daemon" in server.log_text()


@pytest.mark.skipif(not server_is_usher(), reason="usher's master scheduler, in process")
def test_cron_runs_a_real_command_when_the_fake_clock_reaches_its_minute(tmp_path: Path) -> None:
    from usher.master.lifecycle import Phase
    from usher.master.sidecars import Sidecars
    from usher.options import load_settings

    marker = tmp_path / "ran"
    line = f"30 -1 -1 -1 -1 echo ran >> {shlex.quote(str(marker))}"
    settings = load_settings(["--http-socket", ":0", "--unique-cron", line], {}).settings
    # 12:29:59 and 12:30:00 local time of some day
    before = time.mktime((2026, 3, 2, 12, 29, 59, 0, 0, -1))
    clock = [before]
    stops: list[str] = []
    sidecars = Sidecars(settings, stops.append, lambda: clock[0])
    sidecars.tick(Phase.SERVING, time.monotonic())
    assert not sidecars.cron_runs
    clock[0] = before + 1
    sidecars.tick(Phase.SERVING, time.monotonic())
    sidecars.tick(Phase.SERVING, time.monotonic())  # the same minute: not run again
    assert len(sidecars.cron_runs) == 1
    pid = next(iter(sidecars.cron_runs))
    _, status = os.waitpid(pid, 0)
    sidecars.child_exited(pid, status)
    assert marker.read_text() == "ran\n"
    assert not sidecars.cron_runs and not stops
