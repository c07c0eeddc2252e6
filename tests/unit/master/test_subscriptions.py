"""The master's announces through its phases: subscribe while serving, at subscribe-freq; an
unsubscribe once on stop, and on a graceful reload only when asked; the announced address."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from usher.master.lifecycle import Phase
from usher.master.subscriptions import Subscriber
from usher.options import load_settings
from usher.protocols.subscription import Subscription, decode_subscription
from usher.sockets import bind


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0)
        yield sock


def received(sock: socket.socket) -> list[Subscription]:
    found = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return found
        found.append(decode_subscription(data))


def subscriber(udp: socket.socket, *extra: str) -> tuple[Subscriber, str]:
    target = f"127.0.0.1:{udp.getsockname()[1]}"
    argv = ["--subscribe-to", f"{target}:example.com", "--subscribe-freq", "5", *extra]
    settings = load_settings(["--http-socket", "0.0.0.0:0", *argv], {}).settings
    listener = bind("http", "0.0.0.0:0", backlog=8, chmod=None)
    port = listener.sock.getsockname()[1]
    try:
        return Subscriber(settings, [listener]), f":{port}"  # the address is read now
    finally:
        listener.sock.close()


def test_announces_while_serving_then_leaves_once(udp: socket.socket) -> None:
    sub, address = subscriber(udp, "--processes", "3", "--threads", "2")
    sub.tick(Phase.STARTING, 0.0)
    assert received(udp) == []  # not before the workers are ready
    sub.tick(Phase.SERVING, 1.0)
    sub.tick(Phase.SERVING, 2.0)  # not due yet
    [first] = received(udp)
    assert first == Subscription("example.com", address, cores=6, weight=1)
    sub.tick(Phase.SERVING, 6.5)
    assert len(received(udp)) == 1
    sub.tick(Phase.STOPPING, 7.0)
    sub.tick(Phase.STOPPING, 8.0)
    sub.leave()
    [left] = received(udp)
    assert left.unsubscribe and left.key == "example.com"


def test_graceful_reload_keeps_the_place_unless_asked(udp: socket.socket) -> None:
    sub, _ = subscriber(udp)
    sub.tick(Phase.SERVING, 1.0)
    received(udp)
    sub.tick(Phase.REEXECUTING, 2.0)
    assert received(udp) == []
    asked, _ = subscriber(udp, "--unsubscribe-on-graceful-reload")
    asked.tick(Phase.REEXECUTING, 2.0)
    [left] = received(udp)
    assert left.unsubscribe


def test_an_unreachable_server_is_logged_once(
    udp: socket.socket, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        ["--http-socket", ":0", "--subscribe-to", "/nonexistent/sub.sock:example.com"], {}
    ).settings
    listener = bind("http", "127.0.0.1:0", backlog=8, chmod=None)
    try:
        sub = Subscriber(settings, [listener])
        sub.tick(Phase.SERVING, 1.0)
        sub.tick(Phase.SERVING, 20.0)
    finally:
        listener.sock.close()
    assert capfd.readouterr().err.count("cannot send the subscription") == 1
