"""The master's lifecycle: one phase, the transitions each phase allows, and what the guards say."""

from __future__ import annotations

import pytest

from usher.master.lifecycle import Lifecycle, Phase

EVERY_PHASE = list(Phase)


def at(phase: Phase) -> Lifecycle:
    lifecycle = Lifecycle()
    lifecycle.phase = phase
    return lifecycle


def test_a_master_starts_in_starting_with_status_zero() -> None:
    lifecycle = Lifecycle()
    assert (lifecycle.phase, lifecycle.exit_status) == (Phase.STARTING, 0)


@pytest.mark.parametrize(
    ("phase", "awaiting_ready", "winding_down"),
    [
        (Phase.STARTING, True, False),
        (Phase.SERVING, False, False),
        (Phase.RELOADING, True, False),
        (Phase.REEXECUTING, False, True),
        (Phase.STOPPING, False, True),
    ],
)
def test_what_the_guards_say_in_each_phase(
    phase: Phase, awaiting_ready: bool, winding_down: bool
) -> None:
    lifecycle = at(phase)
    assert (lifecycle.awaiting_ready, lifecycle.winding_down) == (awaiting_ready, winding_down)


@pytest.mark.parametrize("phase", EVERY_PHASE)
def test_a_forced_stop_is_accepted_in_every_phase(phase: Phase) -> None:
    lifecycle = at(phase)
    assert lifecycle.request_stop(1, graceful=False)
    assert (lifecycle.phase, lifecycle.exit_status) == (Phase.STOPPING, 1)


@pytest.mark.parametrize("phase", EVERY_PHASE)
def test_a_graceful_stop_is_refused_only_while_stopping(phase: Phase) -> None:
    lifecycle = at(phase)
    lifecycle.exit_status = 7
    accepted = lifecycle.request_stop(0, graceful=True)
    assert accepted is (phase is not Phase.STOPPING)
    assert lifecycle.phase is Phase.STOPPING
    assert lifecycle.exit_status == (7 if phase is Phase.STOPPING else 0)


@pytest.mark.parametrize(
    ("phase", "accepted", "after"),
    [
        (Phase.STARTING, True, Phase.REEXECUTING),
        (Phase.SERVING, True, Phase.REEXECUTING),
        (Phase.RELOADING, True, Phase.REEXECUTING),
        (Phase.REEXECUTING, False, Phase.REEXECUTING),
        (Phase.STOPPING, False, Phase.STOPPING),
    ],
)
def test_reexec(phase: Phase, accepted: bool, after: Phase) -> None:
    lifecycle = at(phase)
    assert lifecycle.request_reexec() is accepted
    assert lifecycle.phase is after


@pytest.mark.parametrize(
    ("phase", "accepted", "after"),
    [
        # A worker reload before the first readiness is still the start: "ready" comes next.
        (Phase.STARTING, True, Phase.STARTING),
        (Phase.SERVING, True, Phase.RELOADING),
        (Phase.RELOADING, True, Phase.RELOADING),
        (Phase.REEXECUTING, False, Phase.REEXECUTING),
        (Phase.STOPPING, False, Phase.STOPPING),
    ],
)
def test_worker_reload(phase: Phase, accepted: bool, after: Phase) -> None:
    lifecycle = at(phase)
    assert lifecycle.begin_worker_reload() is accepted
    assert lifecycle.phase is after


@pytest.mark.parametrize(
    ("phase", "ended", "after"),
    [
        (Phase.STARTING, Phase.STARTING, Phase.SERVING),
        (Phase.SERVING, None, Phase.SERVING),
        (Phase.RELOADING, Phase.RELOADING, Phase.SERVING),
        # Workers that report ready while the master leaves do not bring it back.
        (Phase.REEXECUTING, None, Phase.REEXECUTING),
        (Phase.STOPPING, None, Phase.STOPPING),
    ],
)
def test_workers_ready(phase: Phase, ended: Phase | None, after: Phase) -> None:
    lifecycle = at(phase)
    assert lifecycle.workers_ready() is ended
    assert lifecycle.phase is after


def test_a_stop_cuts_a_reexec_short_and_sigquit_a_graceful_stop() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.workers_ready() is Phase.STARTING
    assert lifecycle.request_reexec()
    assert lifecycle.request_stop(0, graceful=True)
    assert not lifecycle.request_stop(0, graceful=True)
    assert lifecycle.request_stop(0, graceful=False)
    assert (lifecycle.phase, lifecycle.exit_status) == (Phase.STOPPING, 0)
