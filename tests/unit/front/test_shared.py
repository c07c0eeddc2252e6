"""The front's figures shared by its workers: each writes its row, a read sums the live ones."""

from __future__ import annotations

import os

from usher.front.shared import SERVERS, ServerFigures, SharedFigures, document


def figures(requests: int, *, state: str = "up", latency_us: int = 1000) -> list[ServerFigures]:
    return [
        ServerFigures("app", "127.0.0.1:9001", state, requests, 1, 1, 2, 3, latency_us),
        ServerFigures("app", "127.0.0.1:9002", "up", 5, 0, 0, 0, 1, 0),
    ]


def test_a_read_sums_the_rows_of_live_processes() -> None:
    shared = SharedFigures(2)
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    child = os.fork()
    if child == 0:  # a second worker: writes its row, then lives until the parent has read
        try:
            shared.publish(figures(30, state="ejected", latency_us=3000))
            os.write(ready_write, b"x")
            os.read(done_read, 1)
        finally:
            os._exit(0)
    try:
        shared.publish(figures(10))
        os.read(ready_read, 1)
        workers, servers = shared.read()
        assert workers == 2
        first, second = servers
        assert (first.pool, first.server) == ("app", "127.0.0.1:9001")
        assert first.requests == 40
        assert first.failures == 2 and first.fails == 2
        assert first.active == 4 and first.idle == 6
        assert first.latency_us == (1000 * 10 + 3000 * 30) // 40  # weighted by requests
        assert first.state == "ejected"  # the gravest any worker sees
        assert second.requests == 10
    finally:
        os.write(done_write, b"x")
        os.waitpid(child, 0)
    # Its owner gone, the child's row no longer counts, and may be claimed again.
    workers, servers = shared.read()
    assert workers == 1
    assert servers[0].requests == 10
    section = document(shared)
    assert section["workers"] == 1


def test_a_row_is_bounded() -> None:
    shared = SharedFigures(1)
    many = [ServerFigures("big", f"10.0.0.{n}:80", requests=1) for n in range(SERVERS + 10)]
    shared.publish(many)
    _, servers = shared.read()
    assert len(servers) == SERVERS
