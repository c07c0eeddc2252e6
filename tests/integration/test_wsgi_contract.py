"""PEP 3333 over real HTTP: a wsgiref.validate-wrapped app (which turns any contract breach by the
server into a 500), and the raw apps for what validate does not cover: write(), file_wrapper,
close(), and apps that fail before or during their response."""

from __future__ import annotations

import hashlib
import http.client
import os
from collections.abc import Iterator

import pytest

from tests.support.events import EventListener
from tests.support.http import (
    Address,
    ResponseReader,
    chunked_frames,
    connect,
    get,
    http_connection,
    parse_response,
    raw_exchange,
    request,
)
from tests.support.paths import START_RESPONSE_RULES, WSGI_APPS
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)


def stream_digest(chunks: int, size: int) -> str:
    """The sha256 of what wsgi_apps.stream sends for `?chunks=&size=`."""
    digest = hashlib.sha256()
    for index in range(chunks):
        digest.update(bytes([index % 256]) * size)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def module_events() -> Iterator[EventListener]:
    listener = EventListener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def app_server(module_serve: Serve, module_events: EventListener) -> tuple[ServerProcess, Address]:
    port = free_port()
    server = module_serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), "--processes", "1"],
        env={**os.environ, **module_events.env()},
    )
    return server, ("127.0.0.1", port)


@pytest.fixture
def site(app_server: tuple[ServerProcess, Address]) -> Address:
    return app_server[1]


# -- wsgiref.validate -------------------------------------------------------------------------


def test_validated_get(site: Address) -> None:
    response = get(site, "/validate?x=1")
    assert response.status == 200, response.text
    assert response.json() == {
        "method": "GET",
        "body_sha256": hashlib.sha256(b"").hexdigest(),
        "body_length": 0,
        "content_length": "",
    }


def test_validated_head_sends_no_body(site: Address) -> None:
    with connect(site) as sock:
        sock.sendall(b"HEAD /validate HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        reader = ResponseReader(sock)
        head = reader.read_response("HEAD")
        rest = reader.read_until_close()
    assert head.status == 200
    assert head.header("content-type") == "application/json"
    # The headers must describe the GET body, and not one byte of that body may follow.
    assert rest == b""


def test_validated_post(site: Address) -> None:
    body = os.urandom(200_000)
    response = request(site, "POST", "/validate", body=body)
    assert response.status == 200, response.text
    result = response.json()
    assert result["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert result["body_length"] == len(body)
    assert result["content_length"] == str(len(body))


def test_validated_chunked_upload(site: Address) -> None:
    chunks = [os.urandom(n) for n in (1, 100, 4096, 70_000, 3)]
    head = (
        b"POST /validate HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    )
    response = parse_response(raw_exchange(site, head + chunked_frames(chunks)))
    assert response.status == 200, response.text
    result = response.json()
    whole = b"".join(chunks)
    assert result["body_sha256"] == hashlib.sha256(whole).hexdigest()
    assert result["body_length"] == len(whole)


def test_validated_streaming_response(site: Address) -> None:
    response = get(site, "/validate?stream=1")
    assert response.status == 200, response.text
    assert hashlib.sha256(response.body).hexdigest() == stream_digest(20, 1000)


def test_validator_found_no_breach(app_server: tuple[ServerProcess, Address]) -> None:
    server, site = app_server
    for path in ("/validate", "/validate?stream=1"):
        assert get(site, path).status == 200
    # An iterator the server never closed is reported when it is garbage collected.
    log = server.log_text()
    assert "AssertionError" not in log
    assert "WSGIWarning" not in log


# -- raw apps ---------------------------------------------------------------------------------


def test_echo_reports_the_request(site: Address) -> None:
    body = b"hello body"
    response = request(
        site,
        "PUT",
        "/echo/a%20b/c?x=1&y=%2F",
        body=body,
        headers={"Content-Type": "text/plain", "X-Custom": "yes", "Host": "example.test:8080"},
    )
    assert response.status == 200
    echo = response.json()
    assert echo["REQUEST_METHOD"] == "PUT"
    assert echo["PATH_INFO"] == "/echo/a b/c"
    assert echo["SCRIPT_NAME"] == ""
    assert echo["QUERY_STRING"] == "x=1&y=%2F"
    assert echo["CONTENT_TYPE"] == "text/plain"
    assert echo["CONTENT_LENGTH"] == str(len(body))
    assert echo["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert echo["REMOTE_ADDR"] == "127.0.0.1"
    assert echo["url_scheme"] == "http"
    assert echo["headers"]["HTTP_X_CUSTOM"] == "yes"
    assert echo["headers"]["HTTP_HOST"] == "example.test:8080"
    assert "HTTP_CONTENT_TYPE" not in echo["headers"]
    assert "HTTP_CONTENT_LENGTH" not in echo["headers"]
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_path_info_is_latin1_decoded_bytes(site: Address) -> None:
    # PEP 3333: PATH_INFO holds the percent-decoded bytes as latin-1 characters.
    echo = get(site, "/echo/caf%C3%A9").json()
    assert echo["PATH_INFO"] == "/echo/caf\u00c3\u00a9"


def test_generator_stream(site: Address) -> None:
    response = get(site, "/stream?chunks=200&size=5000")
    assert response.status == 200
    assert len(response.body) == 200 * 5000
    assert hashlib.sha256(response.body).hexdigest() == stream_digest(200, 5000)


def test_file_wrapper(site: Address) -> None:
    size = 1_000_003
    response = get(site, f"/file?size={size}")
    assert response.status == 200
    assert response.header("content-length") == str(size)
    expected = hashlib.sha256()
    for index in range(0, (size + 65535) // 65536):
        expected.update(bytes([index % 256]) * min(65536, size - index * 65536))
    assert hashlib.sha256(response.body).hexdigest() == expected.hexdigest()


def test_write_callable_then_iterable(site: Address) -> None:
    response = get(site, "/write")
    assert (response.status, response.body) == (200, b"written-1;written-2;returned")


@pytest.mark.parametrize(("path", "status"), START_RESPONSE_RULES)
def test_start_response_rules(site: Address, path: str, status: int) -> None:
    assert get(site, path).status == status


@pytest.mark.parametrize("path", ["/raise-before", "/raise-after-start"])
def test_app_failing_before_any_body_gives_500(site: Address, path: str) -> None:
    assert get(site, path).status == 500
    assert get(site, "/pid").status == 200


def test_app_failing_mid_body_never_looks_complete(site: Address) -> None:
    # A server may still be holding the first chunk when the second next() raises (it looks
    # ahead to frame small bodies), and can then answer 500; once the head is out it can only
    # cut the body short. Either way the client must not receive a complete 200.
    conn = http_connection(site)
    try:
        conn.request("GET", "/raise-mid-body")
        response = conn.getresponse()
        if response.status != 500:
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
        else:
            response.read()
    finally:
        conn.close()
    assert get(site, "/pid").status == 200


def test_close_is_called_after_the_response(site: Address, module_events: EventListener) -> None:
    response = get(site, "/close?chunks=3&size=10")
    assert response.status == 200
    assert len(response.body) == 30
    module_events.wait_for("closed", timeout=5)


def test_close_is_called_when_the_client_leaves_mid_stream(
    site: Address, module_events: EventListener
) -> None:
    # 200 MB cannot fit in socket buffers, so the server is still iterating when the client goes.
    with connect(site) as sock:
        sock.sendall(b"GET /close?chunks=200000&size=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(1000).startswith(b"HTTP/1.1 200")
    module_events.wait_for("closed", timeout=10)
    assert get(site, "/pid").status == 200


def test_keep_alive_and_pipelining(site: Address) -> None:
    with connect(site) as sock:
        reader = ResponseReader(sock)
        sock.sendall(b"GET /echo/one HTTP/1.1\r\nHost: t\r\n\r\n")
        first = reader.read_response()
        sock.sendall(
            b"GET /echo/two HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo/three HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /echo/four HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        rest = [reader.read_response() for _ in range(3)]
        assert reader.read_until_close() == b""
    paths = [r.json()["PATH_INFO"] for r in (first, *rest)]
    assert paths == ["/echo/one", "/echo/two", "/echo/three", "/echo/four"]
    assert rest[1].json()["body_length"] == 3


def test_http_1_0_gets_a_framed_response_and_close(site: Address) -> None:
    data = raw_exchange(site, b"GET /stream?chunks=3&size=4 HTTP/1.0\r\n\r\n")
    response = parse_response(data)
    assert response.status == 200
    assert response.body == b"\x00\x00\x00\x00\x01\x01\x01\x01\x02\x02\x02\x02"
    assert response.header("transfer-encoding") is None


def test_expect_100_continue(site: Address) -> None:
    with connect(site) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        reader = ResponseReader(sock)
        interim = reader.read_response()
        assert interim.status == 100
        sock.sendall(b"12345")
        final = reader.read_response()
    assert final.status == 200
    assert final.json()["body_length"] == 5
