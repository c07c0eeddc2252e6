"""http-enable-proxy-protocol over real connections: the client a PROXY header names (v1 and v2)
is the request's REMOTE_ADDR/REMOTE_PORT and the access log's address, for every request of a
keep-alive connection; a connection without a valid header gets 400 and is closed; a listener
without the option takes the header for a bad request."""

from __future__ import annotations

import json
import select
import socket
import struct

import pytest

from tests.support.http import Address, ResponseReader, connect
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, ServerProcess, free_port, server_is_usher

pytestmark = pytest.mark.timeout(60)

GET_ECHO = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_tcp4(client: str, port: int) -> bytes:
    body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 80)
    return V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, len(body)) + body


@pytest.fixture(scope="module")
def proxied(module_serve: Serve) -> tuple[ServerProcess, Address]:
    if not server_is_usher():
        pytest.skip("usher's PROXY protocol reader")
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)]
    server = module_serve([*args, "--http-enable-proxy-protocol"])
    return server, ("127.0.0.1", port)


def exchange(site: Address, *pieces: bytes, requests: int = 1) -> list[dict[str, object]]:
    """Send `pieces` one write each, read `requests` echo responses."""
    with connect(site) as sock:
        for piece in pieces:
            sock.sendall(piece)
        reader = ResponseReader(sock)
        seen = []
        for _ in range(requests):
            response = reader.read_response()
            assert response.status == 200, response.body
            seen.append(json.loads(response.body))
        return seen


def test_v1_client_is_remote_addr_for_every_request(proxied: tuple[ServerProcess, Address]) -> None:
    header = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 80\r\n"
    first, second = exchange(proxied[1], header + GET_ECHO + GET_ECHO, requests=2)
    assert (first["REMOTE_ADDR"], first["REMOTE_PORT"]) == ("203.0.113.7", "56324")
    assert second["REMOTE_ADDR"] == "203.0.113.7"


def test_v1_header_split_across_writes(proxied: tuple[ServerProcess, Address]) -> None:
    (seen,) = exchange(
        proxied[1],
        b"PROXY TCP6 2001:db8::7 ",
        b"2001:db8::1 4000 80\r\nGET /echo",
        b" HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert (seen["REMOTE_ADDR"], seen["REMOTE_PORT"]) == ("2001:db8::7", "4000")


def test_v2_client(proxied: tuple[ServerProcess, Address]) -> None:
    (seen,) = exchange(proxied[1], v2_tcp4("198.51.100.4", 61000) + GET_ECHO)
    assert (seen["REMOTE_ADDR"], seen["REMOTE_PORT"]) == ("198.51.100.4", "61000")


def test_v2_local_keeps_the_socket_peer(proxied: tuple[ServerProcess, Address]) -> None:
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"
    (seen,) = exchange(proxied[1], local + GET_ECHO)
    assert seen["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize(
    "opening",
    [
        GET_ECHO,
        b"PROXY TCP4 203.0.113.700 192.0.2.1 1 2\r\n" + GET_ECHO,
        V2_SIGNATURE + b"\x21\x11\xff\xff",
    ],
    ids=["no-header", "malformed-v1", "oversized-v2"],
)
def test_without_a_valid_header_400_and_close(
    proxied: tuple[ServerProcess, Address], opening: bytes
) -> None:
    with connect(proxied[1]) as sock:
        sock.sendall(opening)
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert response.status == 400
        assert reader.read_until_close() == b""


def test_the_access_log_names_the_proxied_client(proxied: tuple[ServerProcess, Address]) -> None:
    server, site = proxied
    header = b"PROXY TCP4 192.0.2.77 192.0.2.1 1000 80\r\n"
    for attempt in range(50):
        path = f"/echo?mark={attempt}".encode()
        exchange(site, header + b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        lines = [line for line in server.log_text().splitlines() if f"mark={attempt} " in line]
        if lines:
            assert "192.0.2.77" in lines[0]
            return
        select.select([], [], [], 0.05)
    raise AssertionError("no access line appeared")


def test_without_the_option_a_proxy_header_is_a_bad_request(serve: Serve) -> None:
    port = free_port()
    serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)])
    with connect(("127.0.0.1", port)) as sock:
        sock.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 80\r\n" + GET_ECHO)
        assert ResponseReader(sock).read_response().status == 400
