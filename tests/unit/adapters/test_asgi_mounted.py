"""Mounted apps of both kinds: the pick by prefix and by a front server's SCRIPT_NAME, and the
body of a mounted ASGI app streamed to it as it comes (in process, through the ASGI handler)."""

from __future__ import annotations

import asyncio
from typing import Any

from usher.adapters.asgi import READ_AHEAD, AsgiHandler
from usher.adapters.base import Exchange, Responder
from usher.adapters.mounted import MountedHandler
from usher.protocols.events import Request
from usher.protocols.uwsgi import new_request


class Named:
    """A handler that only says its name."""

    runs_coroutines = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.served: list[bool] = []

    def serving(self, loop_shared: bool) -> None:
        self.served.append(loop_shared)

    def begin(self, request: Request, responder: Responder) -> Exchange:
        raise AssertionError("not called by pick")


def request(path: bytes) -> Request:
    return Request("GET", path, b"", "1.1", [], True)


def test_the_longest_prefix_on_a_segment_boundary() -> None:
    api, admin, default = Named("api"), Named("admin"), Named("default")
    mounted = MountedHandler([("/api", api), ("/api/admin/", admin)], default)
    assert mounted.pick(request(b"/api")) is api
    assert mounted.pick(request(b"/api/items")) is api
    assert mounted.pick(request(b"/api/admin/users")) is admin
    assert mounted.pick(request(b"/apiary")) is default
    mounted.serving(True)
    assert api.served == admin.served == default.served == [True]


def test_a_front_servers_script_name_picks_a_mount() -> None:
    api, default = Named("api"), Named("default")
    mounted = MountedHandler([("/api", api)], default)
    variables = {"REQUEST_URI": "/items", "SCRIPT_NAME": "/api", "PATH_INFO": "/items"}
    assert mounted.pick(new_request(variables, 0)) is api


class Reading:
    """A responder that records hold_reading and the body it is sent."""

    paused = False
    threaded = False
    quiet = False
    peer = ("192.0.2.1", "1")

    def __init__(self) -> None:
        self.holds: list[bool] = []
        self.sent: list[Any] = []

    def hold_reading(self, held: bool) -> None:
        self.holds.append(held)

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        self.sent.append(status)

    def send_body(self, data: bytes) -> None:
        self.sent.append(data)

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.sent.append((status, body))

    def send_file(self, fd: int, offset: int, count: int) -> None:
        raise AssertionError

    def finish(self) -> None:
        self.sent.append("finish")

    def abort(self) -> None:
        self.sent.append("abort")


def test_the_body_streams_and_reading_is_held_while_the_app_lags() -> None:
    seen: list[tuple[int, bool]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append((len(message["body"]), message["more_body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> Reading:
        loop = asyncio.get_running_loop()
        handler = AsgiHandler(app, ("t", 80), loop=loop, report=lambda r, e: None)
        out = Reading()
        post = Request("POST", b"/", b"", "1.1", [], True, None, True, True)
        exchange = handler.begin(post, out)
        await asyncio.sleep(0)  # the app starts at the head and waits for the body
        assert seen == []
        exchange.receive_data(b"a" * 10)
        await asyncio.sleep(0)
        assert seen == [(10, True)]  # a piece reaches the app before the body ends
        exchange.receive_data(b"b" * READ_AHEAD)
        exchange.receive_data(b"c")  # more than READ_AHEAD waiting: reading stops
        assert out.holds == [True]
        exchange.receive_end()
        for _ in range(10):
            await asyncio.sleep(0)
        exchange.release()
        return out

    out = asyncio.run(main())
    assert seen == [(10, True), (READ_AHEAD, True), (1, False)]
    assert out.holds == [True, False] and out.sent == [("200 OK", b"ok")]
