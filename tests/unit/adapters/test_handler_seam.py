"""The handler seam (usher.adapters.base): every request, on a connection or answered where it was
accepted, enters its listener's handler, which gets the head, the body's pieces in order and the
end, and answers through the responder. Driven in process, with a handler that is not WSGI."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from asyncio.events import _get_running_loop, _set_running_loop
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.turn import Turn
from usher.adapters.base import Responder
from usher.protocols.events import Request
from usher.protocols.uwsgi import encode_uwsgi_request, new_request
from usher.worker.oneshot import OneShot


class Echo:
    """An exchange that answers with what it was sent: the method, the path and the body."""

    def __init__(self, log: list[str], request: Request, out: Responder) -> None:
        self.log, self.request, self.out = log, request, out
        self.body = b""
        log.append(f"begin {request.method} {request.path.decode()} has_body={request.has_body}")

    def receive_data(self, data: bytes) -> None:
        self.log.append(f"data {data.decode()}")
        self.body += data

    def receive_end(self) -> None:
        self.log.append("end")
        text = b"%s %s %s" % (self.request.method.encode(), self.request.path, self.body)
        self.out.send_whole("200 OK", [("Content-Type", "text/plain")], text)

    def resume(self) -> None:
        self.log.append("resume")

    def release(self) -> None:
        self.log.append("release")


class EchoHandler:
    """A handler of another kind than WSGI."""

    runs_coroutines = False

    def __init__(self) -> None:
        self.log: list[str] = []

    def serving(self, loop_shared: bool) -> None:
        self.log.append(f"serving {loop_shared}")

    def begin(self, request: Request, responder: Responder) -> Echo:
        return Echo(self.log, request, responder)


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.fixture
def echo() -> Iterator[tuple[Turn, EchoHandler]]:
    turn = Turn(hello)
    handler = EchoHandler()
    turn.context = dataclasses.replace(turn.context, handler=handler)
    try:
        yield turn, handler
    finally:
        turn.close()


def test_a_request_reaches_the_handler_as_head_pieces_and_end(
    echo: tuple[Turn, EchoHandler],
) -> None:
    turn, handler = echo
    conn, out = turn.connect()
    conn.data_received(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc")
    assert handler.log == ["begin POST /up has_body=True", "data abc"]
    conn.data_received(b"def")
    turn.end()
    assert handler.log[2:] == ["data def", "end", "release"]
    response = b"".join(out.writes)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\nPOST /up abcdef")


def test_pipelined_requests_reach_the_handler_one_at_a_time(
    echo: tuple[Turn, EchoHandler],
) -> None:
    turn, handler = echo
    conn, out = turn.connect()
    conn.data_received(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    turn.end()
    assert handler.log == [
        "begin GET /a has_body=False",
        "end",
        "release",
        "begin GET /b has_body=False",
        "end",
        "release",
    ]
    response = b"".join(out.writes)
    assert response.index(b"GET /a") < response.index(b"GET /b")


def test_a_one_shot_request_goes_through_the_same_handler(
    echo: tuple[Turn, EchoHandler],
) -> None:
    turn, handler = echo
    uwsgi = dataclasses.replace(turn.context, protocol="uwsgi")
    server_side, client = socket.socketpair()
    variables = {"REQUEST_METHOD": "PUT", "REQUEST_URI": "/one", "CONTENT_LENGTH": "4"}
    shot = OneShot(turn.state, uwsgi, server_side, ("127.0.0.1", 1))
    shot.run(new_request(variables, 4), b"body")
    turn.end()  # the held response goes out at the turn's end
    assert handler.log == ["begin PUT /one has_body=True", "data body", "end", "release"]
    response = client.recv(65536)
    client.close()
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"PUT /one body")


def test_wsgi_hides_the_loop_once_when_no_handler_runs_coroutines() -> None:
    turn = Turn(hello)
    _set_running_loop(turn.loop)
    try:
        turn.context.handler.serving(False)
        assert _get_running_loop() is None
    finally:
        _set_running_loop(None)
        turn.close()


def test_wsgi_hides_the_loop_around_each_call_when_coroutines_share_it() -> None:
    seen: list[object] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(_get_running_loop())
        return hello(environ, start_response)

    turn = Turn(app)
    turn.context.handler.serving(True)
    _set_running_loop(turn.loop)
    try:
        conn, _ = turn.connect()
        conn.data_received(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        # The app ran without a running loop; coroutines see it again once the app returned.
        assert seen == [None]
        assert _get_running_loop() is turn.loop
        assert asyncio.get_running_loop() is turn.loop
    finally:
        _set_running_loop(None)
        turn.close()


def test_headers_given_as_lists_are_served_as_tuples_are() -> None:
    # PEP 3333 asks for tuples; apps that pass two-item lists work in gunicorn, and in usher's
    # compiled and pure forms alike.
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [["Content-Type", "text/plain"], ["X-Listed", "yes"]])
        yield b"listed"  # a generator: the streamed path reads the headers too

    for body_app in (app, lambda e, s: [b"".join(app(e, s))]):
        turn = Turn(body_app)
        try:
            conn, out = turn.connect()
            conn.data_received(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            turn.end()
            response = b"".join(out.writes)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"X-Listed: yes\r\n" in response and response.endswith(b"listed")
        finally:
            turn.close()


def test_a_body_that_cannot_be_stored_is_a_500_and_the_app_never_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[bool] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        called.append(True)
        return hello(environ, start_response)

    def full_disk() -> Any:
        raise OSError(28, "No space left on device")

    # Past post-buffering the body moves to a temporary file, which a full disk refuses.
    monkeypatch.setattr("tempfile.TemporaryFile", full_disk)
    turn = Turn(app, "--post-buffering", "1")
    try:
        conn, out = turn.connect()
        conn.data_received(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        turn.end()
        response = b"".join(out.writes)
        assert response.startswith(b"HTTP/1.1 500 ")
        assert b"could not store the request body" in response
        assert not called
    finally:
        turn.close()


def test_an_upgrade_is_answered_as_plain_http_and_the_connection_closes() -> None:
    turn = Turn(hello)
    try:
        conn, out = turn.connect()
        conn.data_received(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
            b"\x81\x05hello"
        )
        turn.end()
        response = b"".join(out.writes)
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.endswith(b"hello") and response.count(b"HTTP/1.1") == 1
        assert out.closed
    finally:
        turn.close()


def test_uwsgi_packets_reach_the_wsgi_app_through_a_connection() -> None:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append({key: environ[key] for key in ("REQUEST_METHOD", "PATH_INFO")})
        seen.append({"body": environ["wsgi.input"].read()})
        return hello(environ, start_response)

    turn = Turn(app)
    turn.context = dataclasses.replace(turn.context, protocol="uwsgi")
    try:
        conn, out = turn.connect()
        packet = encode_uwsgi_request(
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/p", "CONTENT_LENGTH": "5"}, b"12345"
        )
        for index in range(len(packet)):  # byte by byte: head, then the body in pieces
            conn.data_received(packet[index : index + 1])
        turn.end()
        assert seen == [{"REQUEST_METHOD": "POST", "PATH_INFO": "/p"}, {"body": b"12345"}]
        assert b"".join(out.writes).endswith(b"hello")
    finally:
        turn.close()
