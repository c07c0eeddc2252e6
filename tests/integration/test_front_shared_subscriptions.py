"""A front with two worker processes and a subscription server: both workers share one
membership (usher.front.shared_membership). Two usher app servers subscribe; whichever front
worker answers, its pool holds both and its requests reach both; an app server that stops
leaves the pool of every worker."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_front_subscriptions import free_udp_port, wait_for_line
from tests.support.named_upstreams import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port
from usher.protocols.subscription import Subscription, encode_subscription

pytestmark = pytest.mark.timeout(60)

# New connections until both workers have answered: which worker accepts is the kernel's
# choice, and a worker that follows the receiver takes a change on its once-a-second tick, so
# a bound in time rather than a count known in advance.
WAIT = 10.0
PAUSE = 0.02
# The second test's tolerance: long enough for both workers to be killed and replaced, on a
# loaded machine too.
TOLERANCE = 12.0


BURST = 8  # status pages read at once, so that both workers answer some


def worker_views(
    port: int, done: Callable[[dict[int, dict[str, Any]]], bool], wait: float = WAIT
) -> dict[int, Any]:
    """Each front worker's own status page (its pools as it sees them), by worker pid, read
    over new connections until `done` holds for the pages read so far."""
    pages: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + wait
    for _ in range(int(wait / PAUSE)):
        # A burst of connections at once: one at a time, the kernel may hand nearly every new
        # connection to the same worker (the last to wait), and the other's page would go stale.
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            answers = list(pool.map(lambda _: get(port, "/usher-status"), range(BURST)))
        for status, body in answers:
            assert status == 200, body
            page = json.loads(body)
            pages[page["worker"]] = page
        if len(pages) == 2 and done(pages):
            return pages
        if time.monotonic() > deadline:
            break
        select.select([], [], [], PAUSE)
    raise AssertionError(f"the workers' pages never agreed: {pages}")


def without(pid: int) -> Callable[[dict[int, dict[str, Any]]], bool]:
    """Done once two workers answered and `pid` is not one of them."""
    return lambda pages: pid not in pages


def servers_of(page: dict[str, Any]) -> dict[str, int]:
    """A worker's servers of the subscribed pool, with the requests it sent each."""
    rows = page["upstreams"]["app"]["servers"]
    return {row["server"]: row["requests"] for row in rows}


def test_every_worker_shares_the_membership(tmp_path: Path, serve: Serve) -> None:
    front_port, udp_port = free_port(), free_udp_port()
    ini = tmp_path / "front.ini"
    ini.write_text(
        f"[front]\nprocesses = 2\nlisten = 127.0.0.1:{front_port}\naccess_log = off\n"
        f"subscription_server = 127.0.0.1:{udp_port}\nsubscription_tolerance = 5s\n\n"
        "[upstream app]\nsubscription = example.com\n\n"
        "[location = /usher-status]\nstatus\n\n"
        "[location /]\nproxy_pass = http://app\nproxy_connect_timeout = 1s\n"
    )
    front = serve(["front", "--ini", str(ini)])
    apps = []
    for _ in range(2):
        port = free_port()
        app = serve(
            [
                "--http-socket", f"127.0.0.1:{port}",
                "--wsgi-file", str(FIXTURES / "wsgi_apps.py"),
                "--callable", "echo",
                "--subscribe-to", f"127.0.0.1:{udp_port}:example.com",
                "--subscribe-freq", "1",
                "--disable-logging",
            ]
        )  # fmt: skip
        apps.append((f"127.0.0.1:{port}", app))
    offset = 0
    for address, _ in apps:
        offset = max(offset, wait_for_line(front, f"{address} joined 'example.com'"))
    both = {address for address, _ in apps}

    # The worker that did not receive the announces holds both nodes too (within its tick).
    views = worker_views(
        front_port, lambda pages: all(set(servers_of(p)) == both for p in pages.values())
    )
    assert all(set(servers_of(page)) == both for page in views.values())

    # Many requests: each answered, both app servers reached, and each worker that answered
    # sent its share to both (each balances round-robin over the nodes it shares).
    pids = set()
    for n in range(40):
        status, body = get(front_port, f"/hello/{n}")
        assert status == 200, (status, body, front.describe())
        pids.add(json.loads(body)["pid"])
    assert len(pids) == 2  # the workers of both app servers

    # Which worker accepts a new connection is the kernel's choice, and it can leave one worker
    # almost idle; every worker that proxied at least two requests (round-robin over the two
    # nodes it shares) must have sent to both, and the requests go on until one has.
    sent = 40

    def balanced(page: dict[str, Any]) -> bool:
        counts = servers_of(page).values()
        return sum(counts) < 2 or min(counts) > 0

    def workers_reached_both(pages: dict[int, dict[str, Any]]) -> bool:
        nonlocal sent
        pages_ok = all(balanced(p) for p in pages.values())
        if pages_ok and any(sum(servers_of(p).values()) >= 2 for p in pages.values()):
            return True
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(
                pool.map(lambda n: get(front_port, f"/more/{n}"), range(sent, sent + 10))
            )
        assert all(status == 200 for status, _ in answers)
        sent += 10
        return False

    views = worker_views(front_port, workers_reached_both)
    for page in views.values():
        assert set(servers_of(page)) == both
        assert balanced(page), page
    assert any(min(servers_of(page).values()) > 0 for page in views.values())

    # The first app server stops: it unsubscribes, and every worker drops it.
    gone, first = apps[0]
    first.stop()
    wait_for_line(front, f"{gone} left 'example.com'", offset)
    left = {apps[1][0]}
    views = worker_views(
        front_port, lambda pages: all(set(servers_of(p)) == left for p in pages.values())
    )
    assert len(views) == 2
    after = set()
    for n in range(20):
        status, body = get(front_port, f"/after/{n}")
        assert status == 200, (status, body, front.describe())
        after.add(json.loads(body)["pid"])
    assert len(after) == 1 and after < pids  # the one left only
    assert front.stderr_text().count(f"{gone} left 'example.com'") == 1  # logged by one worker


def test_a_new_receiver_keeps_the_nodes_and_their_silence(tmp_path: Path, serve: Serve) -> None:
    """Both first workers are killed in turn, the receiver among them: the new workers start
    from the shared table, so a node announced once before is still served, and still leaves
    when its tolerance runs out."""
    front_port, udp_port, app_port = free_port(), free_udp_port(), free_port()
    ini = tmp_path / "front.ini"
    ini.write_text(
        f"[front]\nprocesses = 2\nlisten = 127.0.0.1:{front_port}\naccess_log = off\n"
        f"subscription_server = 127.0.0.1:{udp_port}\nsubscription_tolerance = {TOLERANCE}s\n\n"
        "[upstream app]\nsubscription = example.com\n\n"
        "[location = /usher-status]\nstatus\n\n"
        "[location /]\nproxy_pass = http://app\nproxy_connect_timeout = 1s\n"
    )
    front = serve(["front", "--ini", str(ini)])
    serve(
        [
            "--http-socket", f"127.0.0.1:{app_port}",
            "--wsgi-file", str(FIXTURES / "wsgi_apps.py"),
            "--callable", "echo",
            "--disable-logging",
        ]
    )  # fmt: skip
    node = f"127.0.0.1:{app_port}"
    # One announce, never repeated: the node lives for the tolerance only.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(
            encode_subscription(Subscription("example.com", node)), ("127.0.0.1", udp_port)
        )
    announced = time.monotonic()
    wait_for_line(front, f"{node} joined 'example.com'")
    first = worker_views(front_port, lambda pages: all(servers_of(p) for p in pages.values()))

    for pid in first:  # kill each first worker, the receiver among them; the master replaces it
        os.kill(pid, signal.SIGKILL)
        worker_views(front_port, without(pid))
    views = worker_views(
        front_port,
        lambda pages: not set(pages) & set(first) and all(servers_of(p) for p in pages.values()),
    )
    assert time.monotonic() - announced < TOLERANCE, "the takeover took longer than the test allows"
    for page in views.values():
        assert set(servers_of(page)) == {node}
    status, body = get(front_port, "/after-takeover")
    assert status == 200, (status, body, front.describe())

    # Silent past the tolerance: dropped by the new receiver, and by the other worker.
    worker_views(
        front_port, lambda pages: not any(servers_of(p) for p in pages.values()), wait=2 * TOLERANCE
    )
    assert time.monotonic() - announced > TOLERANCE - 1.0  # not before its tolerance
    assert get(front_port, "/gone")[0] in (502, 503)
