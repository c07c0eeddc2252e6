"""The ASGI handler in process: the app's messages as responder calls, backpressure, the end of a
request as http.disconnect, errors, and the scope of HTTP and uwsgi requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from usher.adapters.asgi import AsgiHandler, http_scope
from usher.protocols.events import Request
from usher.protocols.uwsgi import new_request

GET = Request("GET", b"/p%20q", b"x=1", "1.1", [(b"host", b"t"), (b"x-a", b"b")], True)


class Recorder:
    """A responder that records what it is asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.paused = False
        self.threaded = False

    @property
    def peer(self) -> tuple[str, str]:
        return ("192.0.2.7", "5000")

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        self.calls.append(("head", status, headers, length))

    def send_body(self, data: bytes) -> None:
        self.calls.append(("body", data))

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.calls.append(("whole", status, headers, body))

    def send_file(self, fd: int, offset: int, count: int) -> None:
        self.calls.append(("file", fd, offset, count))

    def finish(self) -> None:
        self.calls.append(("finish",))

    def abort(self) -> None:
        self.calls.append(("abort",))


App = Callable[[Any, Any, Any], Awaitable[None]]


def serve(
    app: App, request: Request = GET, body: tuple[bytes, ...] = ()
) -> tuple[Recorder, list[Any]]:
    """Run one request through the handler on a fresh loop; the responder's calls and errors."""
    errors: list[Any] = []

    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        handler = AsgiHandler(app, ("t", 80), loop=loop, report=lambda r, e: errors.append(e))
        out = Recorder()
        exchange = handler.begin(request, out)
        for piece in body:
            exchange.receive_data(piece)
        exchange.receive_end()
        for _ in range(20):
            await asyncio.sleep(0)
        exchange.release()
        return out

    return asyncio.run(main()), errors


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": [(b"x-h", b"1")]})
    await send({"type": "http.response.body", "body": b"made"})


def test_a_response_in_one_message_is_one_write() -> None:
    out, errors = serve(hello)
    assert out.calls == [("whole", "201 Created", [("x-h", "1")], b"made")]
    assert not errors


def test_a_streamed_response_is_a_head_pieces_and_the_end() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    out, _ = serve(app)
    assert out.calls == [("head", "200 OK", [], None), ("body", b"a"), ("body", b"b"), ("finish",)]


def test_the_body_comes_in_its_pieces_then_the_request_is_over() -> None:
    received: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.extend([await receive(), await receive()])
        await hello(scope, receive, send)
        received.append(await receive())  # after the response: the request is over

    serve(app, new_request({"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "4"}, 4), (b"ab", b"cd"))
    assert received == [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_a_bodiless_request_is_one_empty_message() -> None:
    received: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        await hello(scope, receive, send)

    serve(app)
    assert received == [{"type": "http.request", "body": b"", "more_body": False}]


def test_a_paused_responder_holds_the_app_until_it_drains() -> None:
    async def main() -> list[str]:
        steps: list[str] = []
        loop = asyncio.get_running_loop()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"1", "more_body": True})
            steps.append("sent 1")
            await send({"type": "http.response.body", "body": b"2"})
            steps.append("sent 2")

        out = Recorder()
        out.paused = True  # the client is slow from the start
        handler = AsgiHandler(app, ("t", 80), loop=loop, report=lambda r, e: None)
        exchange = handler.begin(GET, out)
        exchange.receive_end()
        for _ in range(10):
            await asyncio.sleep(0)
        steps.append("drained")
        out.paused = False
        exchange.resume()
        for _ in range(10):
            await asyncio.sleep(0)
        return steps

    assert asyncio.run(main()) == ["drained", "sent 1", "sent 2"]


def test_an_error_before_the_response_is_a_500_and_after_it_an_abort() -> None:
    async def early(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("early")

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise ValueError("late")

    out, errors = serve(early)
    assert out.calls[0][:2] == ("whole", "500 Internal Server Error")
    assert [str(error) for error in errors] == ["early"]
    out, errors = serve(late)
    assert out.calls[-1] == ("abort",) and [str(error) for error in errors] == ["late"]


def test_an_app_that_returns_without_a_response_is_a_500() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    out, errors = serve(silent)
    assert out.calls[0][:2] == ("whole", "500 Internal Server Error")
    assert len(errors) == 1


def test_sending_after_the_client_went_away_raises() -> None:
    raised: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert await receive() == {"type": "http.request", "body": b"", "more_body": False}
        assert await receive() == {"type": "http.disconnect"}  # woken by release()
        try:
            await hello(scope, receive, send)
        except OSError as exc:
            raised.append(exc)

    out, _ = serve(app)
    assert out.calls == [] and len(raised) == 1


def test_the_scope_of_an_http_request() -> None:
    scope = http_scope(GET, ("t", 80), ("192.0.2.7", "5000"))
    assert (scope["method"], scope["path"], scope["raw_path"]) == ("GET", "/p q", b"/p%20q")
    assert scope["query_string"] == b"x=1" and scope["headers"] == [(b"host", b"t"), (b"x-a", b"b")]
    assert scope["client"] == ("192.0.2.7", 5000) and scope["server"] == ("t", 80)
    assert scope["asgi"]["version"] == "3.0" and scope["scheme"] == "http"


def test_the_scope_of_a_uwsgi_request_comes_from_its_variables() -> None:
    variables = {
        "REQUEST_METHOD": "POST",
        "REQUEST_URI": "/app/x?y=2",
        "QUERY_STRING": "y=2",
        "SCRIPT_NAME": "/app",
        "HTTPS": "on",
        "REMOTE_ADDR": "203.0.113.9",
        "REMOTE_PORT": "4444",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "",
        "HTTP_HOST": "example.com",
        "HTTP_X_FORWARDED_FOR": "198.51.100.1",
    }
    scope = http_scope(new_request(variables, 0), ("t", 80), ("127.0.0.1", "1"))
    assert scope["scheme"] == "https" and scope["root_path"] == "/app"
    assert scope["client"] == ("203.0.113.9", 4444)
    assert dict(scope["headers"]) == {
        b"content-type": b"text/plain",
        b"host": b"example.com",
        b"x-forwarded-for": b"198.51.100.1",
    }
