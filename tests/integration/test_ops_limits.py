"""Worker limits with real processes: harakiri (stack in the log, 504 to the client, respawn),
max-requests recycling, reload-on-rss and evil-reload-on-rss with an app that leaks, limit-as."""

from __future__ import annotations

import http.client
import os

import pytest

from tests.integration.ops import OPS_APP, read_stats, worker_pid, workers_by_id
from tests.support.events import EventListener
from tests.support.http import ResponseReader, connect, get
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(90)


def start(
    serve: Serve, events: EventListener, *options: str
) -> tuple[ServerProcess, tuple[str, int], tuple[str, int]]:
    """One worker on the ops app, with a stats socket and the given options."""
    port, stats = free_port(), free_port()
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--wsgi-file", str(OPS_APP),
            "--master", "--stats", f"127.0.0.1:{stats}",
            *options,
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    return server, ("127.0.0.1", port), ("127.0.0.1", stats)


def test_harakiri_logs_the_request_and_stack_answers_504_and_respawns(
    serve: Serve, events: EventListener
) -> None:
    server, site, stats = start(serve, events, "--harakiri", "2", "--harakiri-verbose")
    first = worker_pid(site)
    response = get(site, "/sleep?seconds=60", timeout=20)
    assert response.status == 504 and b"harakiri" in response.body
    assert response.header("connection") == "close"
    log = server.log_text()
    assert (
        f"harakiri: worker 1 (pid {first}) on GET /sleep?seconds=60 from 127.0.0.1 running for"
        in log
    )
    assert "wchan:" in log  # harakiri-verbose
    stack = log[log.index("its stack follows") :]
    assert "Current thread" in stack and 'ops_app.py", line' in stack and "in application" in stack
    # The next request waits in the listen queue for the respawned worker.
    assert worker_pid(site) != first
    worker = workers_by_id(read_stats(stats))[1]
    assert (worker["harakiri_count"], worker["respawn_count"]) == (1, 2)


def test_harakiri_sends_the_responses_held_before_the_stuck_request(
    serve: Serve, events: EventListener
) -> None:
    # Pipelined: /pid is answered, and its response held for the end of the loop's turn, then
    # /sleep runs in the same turn and never returns. The held response must still go out.
    _server, site, _stats = start(serve, events, "--harakiri", "2")
    # Warm: the first requests of a worker are slow, and responses are held only after quick ones.
    warm = http.client.HTTPConnection(*site, timeout=10)
    for _ in range(30):
        warm.request("GET", "/pid")
        assert warm.getresponse().read().isdigit()
    warm.close()
    with connect(site, timeout=20) as sock:
        sock.sendall(
            b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\nGET /sleep?seconds=60 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        reader = ResponseReader(sock)
        first = reader.read_response()
        second = reader.read_response()
    assert first.status == 200 and first.text.isdigit()
    assert second.status == 504


def test_harakiri_kills_a_worker_stuck_in_c_code(serve: Serve, events: EventListener) -> None:
    server, site, stats = start(serve, events, "--harakiri", "1")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(site, "/spin", timeout=20)
    log = server.log_text()
    # The app holds the interpreter, so neither the request's details (written by a Python
    # thread) nor a 504 (written by a Python handler) can happen; the C-level stack dump does.
    assert "harakiri: worker 1" in log
    assert "in application" in log[log.index("its stack follows") :]
    assert "still running after its harakiri; killing it (SIGKILL)" in log
    assert get(site, "/").status == 200
    assert workers_by_id(read_stats(stats))[1]["harakiri_count"] == 1


def test_max_requests_recycles_the_worker(serve: Serve, events: EventListener) -> None:
    server, site, stats = start(serve, events, "--max-requests", "5", "--min-worker-lifetime", "0")
    pids = [worker_pid(site) for _ in range(12)]
    # Five requests per process: the sixth waits in the listen queue for the successor.
    assert [len(set(pids[i : i + 5])) for i in (0, 5, 10)] == [1, 1, 1]
    assert len(set(pids)) == 3
    worker = workers_by_id(read_stats(stats))[1]
    assert worker["respawn_count"] == 3 and worker["requests"] >= 10
    log = server.log_text()
    assert log.count("recycled after 5 requests (max-requests); respawning") == 2


def test_reload_on_rss_recycles_a_leaking_worker(serve: Serve, events: EventListener) -> None:
    server, site, stats = start(
        serve,
        events,
        "--lazy-apps",
        "--reload-on-rss", "80",
        "--min-worker-lifetime", "0",
    )  # fmt: skip
    first = int(events.wait_for("loaded").split()[1])
    leaked = 0
    while leaked < 100:  # bounded: the master notices within a second, the leak stops here
        assert int(get(site, "/leak?mb=25").body) == first
        leaked += 25
    successor = int(events.wait_for("loaded", timeout=15).split()[1])
    assert successor != first
    assert worker_pid(site) == successor
    log = server.log_text()
    assert f"worker 1 (pid {first}) recycled gracefully: rss" in log
    assert "> reload-on-rss 80 MB; respawning" in log
    document = read_stats(stats)
    assert workers_by_id(document)[1]["respawn_count"] == 2
    assert workers_by_id(document)[1]["rss"] < 80 * 1024 * 1024


def test_evil_reload_on_rss_kills_at_once(serve: Serve, events: EventListener) -> None:
    server, site, _ = start(serve, events, "--lazy-apps", "--evil-reload-on-rss", "80")
    first = int(events.wait_for("loaded").split()[1])
    for _ in range(4):
        get(site, "/leak?mb=25")
    successor = int(events.wait_for("loaded", timeout=15).split()[1])
    assert successor != first
    assert f"worker 1 (pid {first}) killed (SIGKILL): rss" in server.log_text()


def test_limit_as_turns_a_huge_allocation_into_memory_error(
    serve: Serve, events: EventListener
) -> None:
    server, site, _ = start(serve, events, "--limit-as", "400")
    assert get(site, "/leak?mb=600").status == 500
    assert "MemoryError" in server.log_text()
    assert get(site, "/").status == 200
