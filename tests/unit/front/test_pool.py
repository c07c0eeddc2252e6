"""The pool's decisions, on a clock the test turns: ejection, checks, slow start, panic, budget."""

from __future__ import annotations

from usher.front.choice import SmoothRoundRobin
from usher.front.model import Address, HealthCheck, Server, Upstream
from usher.front.peers import Pick
from usher.front.pool import RETRY_FLOOR, PoolState

PICK = Pick("GET", "/", "127.0.0.1")


def pool(*servers: Server, panic: int = 0, check: HealthCheck | None = None) -> PoolState:
    return PoolState(
        Upstream("app", servers, check=check, panic_threshold=panic), SmoothRoundRobin()
    )


def server(port: int, **options: object) -> Server:
    return Server(Address("127.0.0.1", port), **options)  # type: ignore[arg-type]


def names(state: PoolState, now: float, count: int) -> list[int]:
    chosen = []
    for _ in range(count):
        peer = state.choose(now, PICK)
        assert peer is not None
        chosen.append(peer.server.address.port)
    return chosen


def test_smooth_weighted_round_robin_is_nginxs() -> None:
    state = pool(server(1, weight=5), server(2), server(3))
    assert names(state, 0.0, 7) == [1, 1, 2, 1, 3, 1, 1]


def test_max_fails_ejects_for_fail_timeout() -> None:
    state = pool(server(1, max_fails=2, fail_timeout=10.0), server(2))
    first = state.health[0].peer
    state.failed(first, 1.0, "connect failed")
    assert sorted(p.index for p in state.candidates(1.0)) == [0, 1]
    state.failed(first, 2.0, "connect failed")
    assert [p.index for p in state.candidates(2.0)] == [1]
    assert state.health[0].state(5.0) == "ejected"
    assert sorted(p.index for p in state.candidates(12.5)) == [0, 1]


def test_failures_outside_the_window_do_not_add_up() -> None:
    state = pool(server(1, max_fails=2, fail_timeout=10.0), server(2))
    peer = state.health[0].peer
    state.failed(peer, 1.0, "x")
    state.failed(peer, 20.0, "x")
    assert len(state.candidates(20.0)) == 2


def test_a_single_server_is_never_ejected() -> None:
    state = pool(server(1))
    peer = state.health[0].peer
    for moment in range(5):
        state.failed(peer, float(moment), "x")
    assert [p.index for p in state.candidates(5.0)] == [0]


def test_backups_serve_only_when_no_primary_can() -> None:
    state = pool(server(1), server(2, backup=True))
    assert [p.index for p in state.candidates(0.0)] == [0]
    state.failed(state.health[0].peer, 1.0, "x")
    assert [p.index for p in state.candidates(1.0)] == [1]


def test_checks_follow_fall_and_rise_and_slow_start_ramps() -> None:
    check = HealthCheck(rise=2, fall=2)
    state = pool(server(1, weight=10, slow_start=10.0), server(2), check=check)
    state.checked(0, False, 1.0)
    assert state.health[0].state(1.0) == "up"
    state.checked(0, False, 2.0)
    assert state.health[0].state(2.0) == "unhealthy"
    assert [p.index for p in state.candidates(2.0)] == [1]
    state.checked(0, True, 3.0)
    state.checked(0, True, 4.0)
    assert state.health[0].state(4.0) == "slow_start"
    weights = [state.weight_now(state.health[0], moment) for moment in (4.0, 6.0, 9.0, 14.0)]
    assert weights == [1, 2, 5, 10]
    assert state.health[0].state(14.0) == "up"


def test_panic_tries_every_primary_when_too_few_are_healthy() -> None:
    state = pool(server(1), server(2), server(3), panic=50)
    state.failed(state.health[0].peer, 1.0, "x")
    assert len(state.candidates(1.0)) == 2  # 2 of 3 healthy: above the threshold
    state.failed(state.health[1].peer, 1.0, "x")
    assert len(state.candidates(1.0)) == 3  # 1 of 3: panic, all tried
    assert state.panics == 1
    calm = pool(server(1), server(2), server(3), panic=0)
    calm.failed(calm.health[0].peer, 1.0, "x")
    calm.failed(calm.health[1].peer, 1.0, "x")
    assert [p.index for p in calm.candidates(1.0)] == [2]


def test_down_servers_and_tried_ones_are_skipped() -> None:
    state = pool(server(1, down=True), server(2), server(3))
    assert [p.index for p in state.candidates(0.0)] == [1, 2]
    assert [p.index for p in state.candidates(0.0, [1])] == [2]


def test_the_retry_budget_bounds_retries_to_a_share_of_requests() -> None:
    state = pool(server(1), server(2))
    state.set_budget(20)
    for _ in range(100):
        state.count_request(1.0)
    allowed = sum(state.may_retry(1.0) for _ in range(100))
    assert allowed == RETRY_FLOOR + 20


def test_a_one_server_pool_chooses_as_the_candidates_say() -> None:
    # choose() takes a shortcut for a pool of one primary: it must agree with candidates().
    for panic in (0, 50):
        for down in (False, True):
            for checked_down in (False, True):
                for tried in ((), (0,)):
                    state = pool(server(1, down=down), panic=panic)
                    state.health[0].checked_down = checked_down
                    shortcut = state.choose(1.0, PICK, tried)
                    expected = state.candidates(1.0, tried)
                    got = [shortcut] if shortcut is not None else []
                    assert got == expected, (panic, down, checked_down, tried)
                    assert state.single is not None
    with_backup = pool(server(1), server(2, backup=True))
    assert with_backup.single is None
