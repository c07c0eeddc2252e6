"""The worker's turn of the loop, driven in process: when responses are held for the turn's end,
when they go out early, and that holding never reorders or loses bytes.

A Connection runs on a WorkerContext whose loop is not running; the end of a turn is played by
calling the callback the worker queued for it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.turn import Turn
from usher.worker import context as worker_module

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def get(path: bytes) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]


def sleeper(seconds: float) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        time.sleep(seconds)
        return hello(environ, start_response)

    return app


@pytest.fixture
def turn() -> Iterator[Turn]:
    # Holding depends on how long requests take: a process's first request (first calls, plan
    # cache misses) or a collection of the garbage earlier tests left can outlast the bounds.
    # One request beforehand and no collector during the test keep the timing that of a warm
    # worker.
    made = Turn(hello)
    conn, _ = made.connect()
    conn.data_received(GET)
    made.end()
    conn.connection_lost(None)
    made.state.recent_ns, made.state.batching = 0, True  # however long that first one took
    gc.disable()
    try:
        yield made
    finally:
        gc.enable()
        made.close()


def test_quick_responses_are_held_until_the_turn_ends(turn: Turn) -> None:
    first, first_out = turn.connect()
    second, second_out = turn.connect()
    first.data_received(GET)
    second.data_received(GET)
    assert first_out.writes == [] and second_out.writes == []
    turn.end()
    assert len(first_out.writes) == 1 and first_out.writes[0].endswith(b"\r\n\r\nhi")
    assert len(second_out.writes) == 1


def test_pipelined_responses_go_out_in_order_in_one_write(turn: Turn) -> None:
    conn, out = turn.connect()
    conn.data_received(get(b"/a") + get(b"/b"))
    turn.end()
    assert len(out.writes) == 1
    assert out.writes[0].count(b"HTTP/1.1 200 OK") == 2


def test_a_close_waits_for_the_held_response(turn: Turn) -> None:
    conn, out = turn.connect()
    conn.data_received(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert not out.closed  # the response is still held
    turn.end()
    assert out.writes and out.closed
    assert b"Connection: close" in out.writes[0]


def test_an_abort_drops_the_held_response(turn: Turn) -> None:
    conn, out = turn.connect()
    conn.data_received(GET)
    conn.abort()
    turn.end()
    assert out.aborted and out.writes == []


def test_slow_requests_stop_the_holding() -> None:
    slow = Turn(sleeper(worker_module.BATCH_BELOW_NS / 1e9 * 2))
    try:
        conn, out = slow.connect()
        # The running average starts at 0 and moves an eighth of the way per request: after n
        # requests of twice the bound it stands at 2 * (1 - (7/8)^n) bounds, over the bound from
        # n = 6 on. Eight leave a margin that does not rely on time.sleep() overshooting.
        for _ in range(8):
            conn.data_received(GET)
            slow.end()
        assert not slow.state.batching
        written = len(out.writes)
        conn.data_received(GET)
        assert len(out.writes) == written and conn.waiting  # its turn is the loop's next one
        slow.end()
        assert len(out.writes) == written + 1  # answered in that turn and written at once
        assert not slow.state.deferred and not conn.waiting
    finally:
        slow.close()


@pytest.fixture
def slow_turn() -> Iterator[tuple[Turn, list[str]]]:
    """A worker whose recent requests were slow, with an app that records the paths it answers."""
    answered: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        answered.append(environ["PATH_INFO"])
        return hello(environ, start_response)

    made = Turn(app)
    # An average far above the bound: the handful of quick requests a test makes stays slow.
    made.state.recent_ns, made.state.batching = worker_module.BATCH_BELOW_NS * 100, False
    try:
        yield made, answered
    finally:
        made.close()


def test_slow_requests_are_answered_in_arrival_order(slow_turn: tuple[Turn, list[str]]) -> None:
    # The connection answered last in a turn sends its next request just after the loop polled:
    # it must not wait behind every request of the next turn as well.
    turn, answered = slow_turn
    a, a_out = turn.connect()
    b, _ = turn.connect()
    c, _ = turn.connect()
    a.data_received(get(b"/a1"))
    b.data_received(get(b"/b1"))
    assert answered == [] and a.waiting and b.waiting
    turn.end()
    assert answered == ["/a1"] and len(a_out.writes) == 1  # one request a turn
    c.data_received(get(b"/c1"))
    a.data_received(get(b"/a2"))
    for _ in range(3):
        turn.end()
    assert answered == ["/a1", "/b1", "/c1", "/a2"]
    turn.end()
    assert not turn.queued and not turn.state.arrivals


def test_a_pipelined_request_waits_behind_the_others(slow_turn: tuple[Turn, list[str]]) -> None:
    turn, answered = slow_turn
    a, a_out = turn.connect()
    b, _ = turn.connect()
    a.data_received(get(b"/a1") + get(b"/a2"))
    b.data_received(get(b"/b1"))
    for _ in range(3):
        turn.end()
    assert answered == ["/a1", "/b1", "/a2"]
    assert [w.count(b"200 OK") for w in a_out.writes] == [1, 1]


def test_a_client_gone_while_waiting_is_skipped(slow_turn: tuple[Turn, list[str]]) -> None:
    turn, answered = slow_turn
    a, a_out = turn.connect()
    b, b_out = turn.connect()
    a.data_received(get(b"/a"))
    b.data_received(get(b"/b"))
    a.connection_lost(ConnectionResetError())
    turn.end()
    turn.end()
    assert answered == ["/b"] and a_out.writes == [] and len(b_out.writes) == 1


def test_a_waiting_request_is_answered_after_the_clients_eof(
    slow_turn: tuple[Turn, list[str]],
) -> None:
    turn, answered = slow_turn
    conn, out = turn.connect()
    conn.data_received(GET)
    assert conn.eof_received()  # keep the transport: the response is still to come
    turn.end()
    assert answered == ["/"] and len(out.writes) == 1


def test_a_stopping_worker_keeps_a_waiting_connection(slow_turn: tuple[Turn, list[str]]) -> None:
    turn, answered = slow_turn
    conn, out = turn.connect()
    conn.data_received(GET)
    turn.state.close_idle()
    assert not out.closed
    turn.end()
    assert answered == ["/"] and len(out.writes) == 1


def test_a_held_response_goes_out_once_it_has_waited_long_enough() -> None:
    delay = worker_module.FLUSH_AFTER_NS / 1e9 * 1.5

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            time.sleep(delay)
        return hello(environ, start_response)

    mixed = Turn(app)
    try:
        quick, quick_out = mixed.connect()
        slow, _slow_out = mixed.connect()
        quick.data_received(GET)
        assert quick_out.writes == []
        slow.data_received(get(b"/slow"))
        # The quick response had waited longer than FLUSH_AFTER_NS: out before the turn's end.
        assert len(quick_out.writes) == 1
    finally:
        mixed.close()
