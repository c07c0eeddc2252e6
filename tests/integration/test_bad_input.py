"""Hostile and broken clients over raw sockets: smuggling shapes, oversized heads and bodies,
invalid bytes, header-name spoofing, a slowloris and a client that vanishes mid-body. One server
(one worker, one thread, so nothing hides behind a second worker) takes all of it and must still
serve at the end."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from tests.support.http import (
    Address,
    ResponseReader,
    connect,
    get,
    parse_response,
    peer_closed,
    raw_exchange,
    request,
)
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)

BUFFER_SIZE = 8192
LIMIT_POST = 1000
SOCKET_TIMEOUT = 1


@pytest.fixture(scope="module")
def hardened(module_serve: Serve) -> tuple[ServerProcess, Address]:
    port = free_port()
    timeout = str(SOCKET_TIMEOUT)
    server = module_serve(
        [
            "--http-socket",
            f"127.0.0.1:{port}",
            "--wsgi-file",
            str(WSGI_APPS),
            "--processes",
            "1",
            "--threads",
            "1",
            "--buffer-size",
            str(BUFFER_SIZE),
            "--limit-post",
            str(LIMIT_POST),
            # usher bounds a silent HTTP client with --http-timeout and a silent uwsgi-protocol
            # peer with --socket-timeout; both are set so either reading of the flags applies.
            "--socket-timeout",
            timeout,
            "--http-timeout",
            timeout,
        ]
    )
    return server, ("127.0.0.1", port)


@pytest.fixture
def site(hardened: tuple[ServerProcess, Address]) -> Address:
    return hardened[1]


def assert_serves(site: Address) -> None:
    response = get(site, "/echo/alive")
    assert response.status == 200
    assert response.json()["PATH_INFO"] == "/echo/alive"


def refused_and_closed(site: Address, data: bytes) -> int:
    """Send `data`; return the status of the one response that must come back before the server
    closes the connection."""
    received = raw_exchange(site, data, timeout=5)
    reader = ResponseReader(None, received)
    status = reader.read_response().status
    assert reader.buffer == b"", f"more than one response: {received!r}"
    return status


SMUGGLING = {
    "cl-and-te": (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 41\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    ),
    "te-and-cl": (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 41\r\n\r\n"
        b"0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    ),
    "two-content-lengths": (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 41\r\n\r\n"
        b"abcGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    ),
    "te-not-chunked-last": (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
        b"0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    ),
}


@pytest.mark.parametrize("data", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_smuggling_shapes_get_400_and_close(site: Address, data: bytes) -> None:
    assert refused_and_closed(site, data) == 400
    assert_serves(site)


def test_oversized_head_gets_431(site: Address) -> None:
    # Kept a little over the limit and sent at once, so the server has read all of it when it
    # answers (closing on unread bytes would reset the connection and lose the 431).
    filler = b"a" * (BUFFER_SIZE + 2000)
    data = b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Filler: " + filler + b"\r\n\r\n"
    assert refused_and_closed(site, data) == 431
    assert_serves(site)


def test_body_over_limit_post_gets_413(site: Address) -> None:
    body = b"b" * (LIMIT_POST * 3)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
    assert refused_and_closed(site, head + body) == 413
    assert_serves(site)


def test_body_at_limit_post_is_accepted(site: Address) -> None:
    response = request(site, "POST", "/echo", body=b"c" * LIMIT_POST)
    assert response.status == 200
    assert response.json()["body_length"] == LIMIT_POST


def test_over_limit_with_expect_continue_gets_413_before_the_body(site: Address) -> None:
    with connect(site, timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\n\r\n" % (LIMIT_POST * 10)
        )
        # The client holds the body back, so the answer must come without it.
        assert ResponseReader(sock).read_response().status == 413
    assert_serves(site)


def test_chunked_body_over_limit_post_gets_413(site: Address) -> None:
    chunk = b"d" * 600
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert refused_and_closed(site, head + framed * 2 + b"0\r\n\r\n") == 413
    assert_serves(site)


MALFORMED = {
    "nul-in-value": b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Test: a\x00b\r\n\r\n",
    "ctl-in-value": b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Test: a\x07b\r\n\r\n",
    "space-in-name": b"GET /echo HTTP/1.1\r\nHost: t\r\nX Test: 1\r\n\r\n",
    "space-before-colon": b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Test : 1\r\n\r\n",
    "ctl-in-name": b"GET /echo HTTP/1.1\r\nHost: t\r\nX-\x01Test: 1\r\n\r\n",
    "non-numeric-length": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n1",
    "negative-length": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    "bad-chunk-size": (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    ),
    "bad-version": b"GET /echo HTTP/1.x\r\nHost: t\r\n\r\n",
    "space-in-target": b"GET /echo /x HTTP/1.1\r\nHost: t\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_get_400(site: Address, data: bytes) -> None:
    assert refused_and_closed(site, data) == 400
    assert_serves(site)


def test_underscore_header_cannot_spoof_a_dashed_one(site: Address) -> None:
    # Both spellings map to HTTP_X_FORWARDED_FOR in CGI; only the dashed one may.
    only_underscore = raw_exchange(
        site,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n",
    )
    echo = parse_response(only_underscore).json()
    assert "HTTP_X_FORWARDED_FOR" not in echo["headers"]
    both = raw_exchange(
        site,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 1.2.3.4\r\n"
        b"X_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n",
    )
    assert parse_response(both).json()["headers"]["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"


def test_slowloris_is_cut_off_while_others_are_served(site: Address) -> None:
    request_head = b"GET /echo/slow HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 40 + b"\r\n\r\n"
    # One byte per interval, each gap longer than the server's timeout.
    interval = SOCKET_TIMEOUT * 1.5
    with connect(site, timeout=10) as slow:
        started = time.monotonic()
        slow.sendall(request_head[:1])
        # The single worker must not be held by the slow client: a second client is answered
        # well inside the slow client's timeout.
        served = get(site, "/echo/fast", timeout=SOCKET_TIMEOUT * 0.9)
        assert served.status == 200
        cut_off = False
        for byte in request_head[1:]:
            if peer_closed(slow, interval):
                cut_off = True
                break
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                cut_off = True
                break
        elapsed = time.monotonic() - started
    assert cut_off, "the slow client sent its whole head without being disconnected"
    assert elapsed < SOCKET_TIMEOUT + 3 * interval
    assert_serves(site)


def test_client_vanishing_mid_body(site: Address) -> None:
    with connect(site) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\n" + b"e" * 100)
        # SO_LINGER 0: close with a reset, the way a crashed client or a dropped link ends.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert_serves(site)


def test_client_closing_after_the_head(site: Address) -> None:
    with connect(site) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        # Silence or an error is fine; running the app on a short body is not.
        received = ResponseReader(sock).read_until_close()
        assert not received.startswith(b"HTTP/1.1 200"), received
    assert_serves(site)


def test_server_is_alive_after_all_of_it(hardened: tuple[ServerProcess, Address]) -> None:
    server, site = hardened
    assert server.returncode is None, server.describe()
    assert_serves(site)
