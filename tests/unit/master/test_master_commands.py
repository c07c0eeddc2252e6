"""The master's commands go through the lifecycle: each acts only once its transition is accepted.

Driven on a pool without workers, so nothing is forked: what is checked is the phase, the drain
deadline and the log line each command leaves.
"""

from __future__ import annotations

import time

import pytest

from usher.master.chain import ChainReload
from usher.master.commands import Commands
from usher.master.lifecycle import Lifecycle, Phase
from usher.master.pool import WorkerPool
from usher.master.slots import WorkerProcess
from usher.master.verdicts import Verdict
from usher.options import load_settings


def make_commands(*argv: str) -> Commands:
    settings = load_settings(["--http-socket", ":0", *argv], {}).settings
    pool = WorkerPool(settings, None, [], in_child=lambda: None)
    lifecycle = Lifecycle()
    chain = ChainReload(settings, pool, lifecycle)
    return Commands(settings, pool, lifecycle, chain, figures=lambda: None)


@pytest.fixture(autouse=True)
def no_service_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)


def test_a_graceful_stop_drains_and_a_second_one_changes_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    commands = make_commands("--worker-reload-mercy", "7")
    commands.stop(graceful=True, why="SIGTERM")
    assert commands.lifecycle.phase is Phase.STOPPING
    deadline = commands.pool.drain_deadline
    assert deadline is not None
    commands.obey("q")
    assert commands.pool.drain_deadline == deadline
    log = capfd.readouterr().err
    assert log.count("stopping gracefully (in-flight requests get 7s)") == 1


def test_a_forced_stop_after_a_graceful_one_is_obeyed(capfd: pytest.CaptureFixture[str]) -> None:
    commands = make_commands()
    commands.obey("q")
    commands.obey("Q")
    assert "master FIFO 'Q': stopping now" in capfd.readouterr().err


def test_a_reload_without_lazy_apps_reexecutes_and_nothing_reloads_after_it(
    capfd: pytest.CaptureFixture[str],
) -> None:
    commands = make_commands()
    commands.reload("SIGHUP", brutal=False)
    assert commands.lifecycle.phase is Phase.REEXECUTING
    assert commands.pool.drain_deadline is not None
    commands.reload_workers("master FIFO 'w'", brutal=False)
    commands.chain.start("master FIFO 'c'")
    assert commands.lifecycle.phase is Phase.REEXECUTING
    log = capfd.readouterr().err
    assert "SIGHUP: reloading gracefully" in log
    assert "replacing every worker" not in log
    assert "chain reload not started" in log
    commands.stop(graceful=True, why="SIGTERM")
    assert commands.lifecycle.phase is Phase.STOPPING


def test_a_reload_with_lazy_apps_replaces_the_workers_from_this_master() -> None:
    commands = make_commands("--lazy-apps")
    commands.lifecycle.workers_ready()
    commands.reload("SIGHUP", brutal=False)
    assert commands.lifecycle.phase is Phase.RELOADING
    assert commands.pool.drain_deadline is None


def test_no_reload_while_stopping() -> None:
    commands = make_commands("--lazy-apps")
    commands.stop(graceful=False, why="SIGQUIT")
    commands.obey("r")
    commands.obey("w")
    assert commands.lifecycle.phase is Phase.STOPPING


def test_worker_count_bounds(capfd: pytest.CaptureFixture[str]) -> None:
    commands = make_commands("--processes", "2")
    commands.obey("+")
    commands.obey("-")
    log = capfd.readouterr().err
    assert "all 2 workers already run (processes)" in log
    assert "0 worker(s) is the minimum; none stopped" in log


def test_an_unknown_letter_is_logged(capfd: pytest.CaptureFixture[str]) -> None:
    make_commands().obey("x")
    assert "unknown command 'x' (known: rRqQcwWs+-lL)" in capfd.readouterr().err


def test_no_worker_is_added_while_stopping(capfd: pytest.CaptureFixture[str]) -> None:
    commands = make_commands("--processes", "2")
    commands.pool.slots[2].cheap = True
    commands.stop(graceful=True, why="SIGTERM")
    commands.obey("+")
    assert commands.pool.slots[2].cheap
    assert "master FIFO '+': no worker started (the server is stopping)" in capfd.readouterr().err


def test_a_recycle_verdict_while_winding_down_leaves_the_leaving_worker_alone() -> None:
    commands = make_commands("--processes", "1")
    # Past pid_max no process can exist: a retire would signal nobody, a spawn would show.
    with open("/proc/sys/kernel/pid_max") as handle:
        gone = int(handle.read()) + 1
    proc = WorkerProcess(gone, 1, None, 0.0, 0.0)
    commands.pool.procs[gone] = commands.pool.slots[1].current = proc
    commands.reload("SIGHUP", brutal=False)
    commands.carry_out(proc, Verdict("recycle", "rss 300 MB > reload-on-rss 200 MB"))
    assert commands.pool.slots[1].current is proc
    assert list(commands.pool.procs) == [gone] and not proc.retiring


@pytest.mark.parametrize(
    ("argv", "grace"), [((), 1.0), (("--harakiri-graceful-timeout", "7"), 7.0)]
)
def test_harakiri_graceful_timeout_is_the_wait_before_sigkill(
    argv: tuple[str, ...], grace: float
) -> None:
    commands = make_commands("--harakiri", "5", *argv)
    with open("/proc/sys/kernel/pid_max") as handle:
        gone = int(handle.read()) + 1
    proc = WorkerProcess(gone, 1, None, 0.0, 0.0)
    commands.pool.procs[gone] = commands.pool.slots[1].current = proc
    before = time.monotonic()
    commands.carry_out(proc, Verdict("harakiri", "GET / running for 6.0s"))
    assert proc.ended_for == "harakiri" and proc.kill_at is not None
    assert before + grace <= proc.kill_at <= time.monotonic() + grace
