"""The ASGI WebSocket exchange in process, over a recording tunnel: flow control both ways, the
keepalive and close deadlines on the worker's tick, the 1001 of a stopping worker, and how the
app's end closes the connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.ws_frames import CLOSE, PING, PONG, TEXT, frame, parse_server_frames
from usher.adapters.asgi import AsgiHandler
from usher.adapters.asgi_websocket import (
    QUEUED_MAX,
    WebSocketExchange,
    WebSocketHandler,
    WebSocketLimits,
)
from usher.adapters.base import TunnelEnd
from usher.protocols.events import Request

HEADERS = [
    (b"host", b"t"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
]
UPGRADE = Request("GET", b"/ws", b"", "1.1", HEADERS, False, upgrade=True)
LIMITS = WebSocketLimits(max_message=1024, ping_every=10.0, pong_within=3.0, close_within=5.0)


class RecordingTunnel:
    def __init__(self) -> None:
        self.paused = False
        self.written = b""
        self.calls: list[str] = []
        self.why = ""

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.calls.append("close")

    def abort(self, why: str = "") -> None:
        self.calls.append("abort")
        self.why = why

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def frames(self) -> list[tuple[int, bytes]]:
        frames, rest = parse_server_frames(self.written.split(b"\r\n\r\n", 1)[1])
        assert not rest
        return [(f.opcode, f.payload) for f in frames]


class SwitchingRecorder:
    """A responder that can switch: it hands out the recording tunnel."""

    def __init__(self) -> None:
        self.paused = self.threaded = self.quiet = False
        self.tunnel = RecordingTunnel()
        self.whole: list[tuple[str, bytes]] = []

    @property
    def peer(self) -> tuple[str, str]:
        return ("192.0.2.7", "5000")

    def switch(self, head: bytes, end: TunnelEnd) -> RecordingTunnel:
        self.tunnel.write(head)
        return self.tunnel

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.whole.append((status, body))

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        raise AssertionError("a WebSocket exchange answers whole or switches")

    def send_body(self, data: bytes) -> None:
        raise AssertionError("a WebSocket exchange answers whole or switches")

    def send_file(self, fd: int, offset: int, count: int) -> None:
        raise AssertionError("a WebSocket exchange answers whole or switches")

    def finish(self) -> None:
        raise AssertionError("a WebSocket exchange answers whole or switches")

    def abort(self) -> None:
        raise AssertionError("a WebSocket exchange answers whole or switches")


App = Callable[[Any, Any, Any], Awaitable[None]]
Drive = Callable[[WebSocketExchange, SwitchingRecorder], Awaitable[None]]


def run(app: App, drive: Drive) -> tuple[SwitchingRecorder, list[BaseException]]:
    """Begin an upgrade with `app`, then let `drive` act as the worker."""
    errors: list[BaseException] = []

    async def main() -> SwitchingRecorder:
        loop = asyncio.get_running_loop()
        http = AsgiHandler(app, ("t", 80), loop=loop, report=lambda r, e: errors.append(e))
        http.upgrades = WebSocketHandler(http, LIMITS)
        out = SwitchingRecorder()
        exchange = http.begin(UPGRADE, out)
        assert isinstance(exchange, WebSocketExchange)
        exchange.receive_end()
        await settle()
        await drive(exchange, out)
        await settle()
        return out

    return asyncio.run(main()), errors


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def accept_and_wait(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await asyncio.Event().wait()  # reads nothing


def test_reading_pauses_while_messages_wait_for_the_app_and_resumes_as_it_takes_them() -> None:
    taken: list[Any] = []
    go = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await go.wait()
        while len(taken) < QUEUED_MAX + 4:
            taken.append(await receive())

    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        exchange.tunnel_data(b"".join(frame(TEXT, b"%d" % n) for n in range(QUEUED_MAX + 4)))
        assert out.tunnel.calls == ["pause"]
        go.set()
        await settle()
        assert out.tunnel.calls == ["pause", "resume"]

    run(app, drive)
    assert [m["text"] for m in taken] == [str(n) for n in range(QUEUED_MAX + 4)]


def test_send_waits_while_the_client_is_not_reading() -> None:
    sent: list[str] = []
    go = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await go.wait()
        for text in ("one", "two"):
            await send({"type": "websocket.send", "text": text})
            sent.append(text)

    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        out.tunnel.paused = True
        go.set()
        await settle()
        assert sent == []  # "one" is written; the app waits for the drain before going on
        out.tunnel.paused = False
        exchange.tunnel_resumed()
        await settle()
        assert sent == ["one", "two"]

    out, _ = run(app, drive)
    assert out.tunnel.frames()[:2] == [(TEXT, b"one"), (TEXT, b"two")]


def test_pings_on_the_tick_and_a_missing_pong_drops_the_connection() -> None:
    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        start = exchange.ping_sent_at
        exchange.tunnel_tick(start + 5, False)
        assert out.tunnel.frames() == []
        exchange.tunnel_tick(start + 10, False)
        assert out.tunnel.frames() == [(PING, b"")]
        exchange.tunnel_data(frame(PONG))
        exchange.tunnel_tick(start + 14, False)
        assert "abort" not in out.tunnel.calls  # answered in time
        exchange.tunnel_tick(start + 20, False)
        assert out.tunnel.frames() == [(PING, b""), (PING, b"")]
        exchange.tunnel_tick(start + 23.5, False)
        assert out.tunnel.calls == ["abort"]
        assert out.tunnel.why == "no WebSocket pong within 3 s"

    run(accept_and_wait, drive)


def test_a_stopping_worker_closes_with_1001_and_gives_up_on_a_silent_peer() -> None:
    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        exchange.tunnel_tick(exchange.ping_sent_at + 1, True)
        assert out.tunnel.frames() == [(CLOSE, b"\x03\xe9server stopping")]
        sent_at = exchange.close_sent_at
        exchange.tunnel_tick(sent_at + 4, True)
        assert out.tunnel.calls == []
        exchange.tunnel_tick(sent_at + 6, True)
        assert out.tunnel.calls == ["abort"]

    run(accept_and_wait, drive)


def test_the_peer_answering_a_close_ends_it_and_the_app_hears_the_code() -> None:
    heard: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4001})
        heard.append(await receive())

    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        exchange.tunnel_data(frame(CLOSE, b"\x0f\xa1"))

    out, _ = run(app, drive)
    assert out.tunnel.frames() == [(CLOSE, b"\x0f\xa1")]  # one close frame: usher's
    assert out.tunnel.calls == ["close"]
    assert heard == [{"type": "websocket.disconnect", "code": 4001, "reason": ""}]


def test_the_apps_end_closes_1000_or_1011() -> None:
    async def returns(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    async def raises(scope: Any, receive: Any, send: Any) -> None:
        await returns(scope, receive, send)
        raise ValueError("after the accept")

    async def nothing(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        pass

    out, errors = run(returns, nothing)
    assert out.tunnel.frames() == [(CLOSE, b"\x03\xe8")] and not errors
    out, errors = run(raises, nothing)
    assert out.tunnel.frames() == [(CLOSE, b"\x03\xf3")]
    assert [str(e) for e in errors] == ["after the accept"]


def test_a_client_gone_before_the_accept_is_a_1006_disconnect() -> None:
    heard: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        heard.append(await receive())
        await asyncio.sleep(0)
        heard.append(await receive())

    async def drive(exchange: WebSocketExchange, out: SwitchingRecorder) -> None:
        exchange.release()

    run(app, drive)
    assert heard == [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1006, "reason": ""},
    ]
