"""uWSGI's subscription system between real processes.

- A real usher announces itself to a UDP socket the test holds: subscribe packets every
  subscribe-freq seconds once ready (subscribe-to and subscribe2), an unsubscribe on stop.
- A real uWSGI (the pyuwsgi wheel) subscribes to usher's subscription server (usher.front's
  receiver and membership table): it joins its key, and leaves it when uWSGI stops.
- usher subscribes to uWSGI's own fastrouter subscription server, which then routes a uwsgi
  request to usher: uWSGI reads usher's packets as its own.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port
from tests.support.uwsgi_node import start_uwsgi, stop_uwsgi
from usher.front.membership import Membership
from usher.front.subscription_server import bind_subscription_socket, serve_subscriptions
from usher.protocols.subscription import Subscription, decode_subscription
from usher.protocols.uwsgi import encode_uwsgi_request

WSGI_APPS = FIXTURES / "wsgi_apps.py"
WAIT = 10.0


def receive(sock: socket.socket) -> Subscription:
    sock.settimeout(WAIT)
    data, _ = sock.recvfrom(65536)
    return decode_subscription(data)


def test_usher_announces_while_serving_and_leaves_on_stop(serve: Serve) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{udp.getsockname()[1]}"
        port = free_port()
        server = serve(
            [
                "--http-socket", f"127.0.0.1:{port}",
                "--wsgi-file", str(WSGI_APPS),
                "--processes", "2",
                "--subscribe-to", f"{target}:example.com",
                "--subscribe2", f"server={target},key=other.test,addr=10.9.9.9:3031,weight=4",
                "--subscribe-freq", "1",
            ]
        )  # fmt: skip
        first = [receive(udp), receive(udp)]
        by_key = {s.key: s for s in first}
        assert by_key["example.com"] == Subscription(
            "example.com", f"127.0.0.1:{port}", cores=2, weight=1
        )
        assert by_key["other.test"].address == "10.9.9.9:3031"
        assert by_key["other.test"].weight == 4
        started = time.monotonic()
        again = receive(udp)  # the next announce, a second later
        assert not again.unsubscribe and time.monotonic() - started < 3
        server.stop()
        left = []
        while len(left) < 2:
            packet = receive(udp)
            if packet.unsubscribe:
                left.append(packet.key)
        assert sorted(left) == ["example.com", "other.test"]


@pytest.fixture
def subscription_server() -> Iterator[tuple[str, Membership, list[str], threading.Event]]:
    """usher's subscription server on a loop in a thread: (address, table, log, changed)."""
    sock = bind_subscription_socket("127.0.0.1:0")
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    table = Membership(time.monotonic)
    lines: list[str] = []
    changed = threading.Event()
    loop = asyncio.new_event_loop()

    def log(line: str) -> None:
        lines.append(line)
        changed.set()

    async def start() -> asyncio.DatagramTransport:
        transport, _ = await serve_subscriptions(sock, table, log)
        return transport

    transport = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield address, table, lines, changed
    finally:
        loop.call_soon_threadsafe(transport.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(asyncio.sleep(0))  # the transport's close callbacks
        loop.close()


def wait_for(changed: threading.Event, condition: object, describe: str) -> None:
    deadline = time.monotonic() + WAIT
    while not callable(condition) or not condition():
        remaining = deadline - time.monotonic()
        assert remaining > 0, describe
        changed.wait(remaining)
        changed.clear()


def test_uwsgi_subscribes_to_ushers_subscription_server(
    tmp_path: Path, subscription_server: tuple[str, Membership, list[str], threading.Event]
) -> None:
    address, table, lines, changed = subscription_server
    port = free_port()
    proc = start_uwsgi(
        [
            "--master",
            "--socket", f"127.0.0.1:{port}",
            "--subscribe-to", f"{address}:example.com",
            "--subscribe-freq", "1",
            "--weight", "3",
        ],
        tmp_path / "uwsgi.log",
    )  # fmt: skip
    try:
        wait_for(changed, lambda: bool(table.nodes("example.com")), f"no subscription: {lines}")
        [node] = table.nodes("example.com")
        assert node.address == f"127.0.0.1:{port}"
        assert node.weight == 3
        assert table.members("example.com")[0].weight == 3
    finally:
        stop_uwsgi(proc)
    # uWSGI unsubscribes as it stops.
    wait_for(changed, lambda: not table.nodes("example.com"), f"still subscribed: {lines}")
    assert any("left 'example.com'" in line for line in lines)


def test_uwsgis_fastrouter_routes_to_usher_by_its_subscription(
    tmp_path: Path, serve: Serve
) -> None:
    router, subscriptions = free_port(), free_port()
    proc = start_uwsgi(
        [
            "--master",
            "--fastrouter", f"127.0.0.1:{router}",
            "--fastrouter-subscription-server", f"127.0.0.1:{subscriptions}",
        ],
        tmp_path / "fastrouter.log",
    )  # fmt: skip
    try:
        port = free_port()
        serve(
            [
                "--socket", f"127.0.0.1:{port}",
                "--wsgi-file", str(WSGI_APPS),
                "--callable", "echo",
                "--subscribe-to", f"127.0.0.1:{subscriptions}:example.com",
                "--subscribe-freq", "1",
            ]
        )  # fmt: skip
        log = tmp_path / "fastrouter.log"
        deadline = time.monotonic() + WAIT
        # uWSGI has no readiness signal for a new node but its log line, written as the packet
        # is applied: the route exists once the line is there. Between reads the wait is on
        # uWSGI's pidfd, so a uWSGI that dies is noticed at once.
        pidfd = os.pidfd_open(proc.pid)
        try:
            while "new node: 127.0.0.1:" + str(port) not in log.read_text(errors="replace"):
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                assert not select.select([pidfd], [], [], 0.05)[0], log.read_text(errors="replace")
        finally:
            os.close(pidfd)
        request = encode_uwsgi_request(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/via-fastrouter",
                "QUERY_STRING": "",
                "SERVER_NAME": "example.com",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "example.com",
                "CONTENT_LENGTH": "0",
            }
        )
        with socket.create_connection(("127.0.0.1", router), timeout=WAIT) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b"/via-fastrouter" in answer
    finally:
        stop_uwsgi(proc)
