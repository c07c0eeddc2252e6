"""WebSockets for ASGI apps: the `websocket` scope and its messages over usher's WebSocket codec
(usher.protocols.websocket), on the connection the worker hands over after the 101
(usher.adapters.base.Tunnel).

The life of one WebSocket, as the ASGI spec (2.3) has it:

- The upgrade request's head arrives like any request's; once it is complete the handshake is
  checked (400 or 426 without calling the app when it is not a valid one), and the app's task
  starts with the `websocket` scope. Its first `receive()` is `websocket.connect`.
- `websocket.accept` writes the 101 (with the chosen subprotocol and the app's headers) and the
  connection switches; `websocket.close` before it is a 403, as is an app that returns without
  accepting. An exception before the accept is a 500, after it a 1011 close.
- Messages come to `receive()` whole, in order. While more than `QUEUED_MAX` wait for the app,
  reading stops: a peer cannot queue unbounded work behind a slow app. `send()` waits while the
  client does not read (backpressure).
- Close: either side's close frame is answered (the codec echoes the peer's), and the app hears
  `websocket.disconnect` with the peer's code (1006 when the connection dropped without one).
  usher closes the TCP connection once the close handshake is done, or `close_within` seconds
  after its own close frame when the peer never answers.
- Keepalive: a ping every `ping_every` seconds; no pong within `pong_within` seconds of it drops
  the connection (uWSGI's websockets-ping-freq and websockets-pong-tolerance).
- A gracefully stopping worker closes every WebSocket with 1001 (going away).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from usher.adapters.asgi import AsgiHandler, Message, http_scope
from usher.adapters.base import Responder, Switching, Tunnel
from usher.protocols.events import Request
from usher.protocols.websocket import (
    ABNORMAL,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL,
    PONG,
    Closed,
    Received,
    WebSocketCodec,
)
from usher.protocols.websocket_handshake import (
    Handshake,
    Refused,
    accept_response,
    judge_handshake,
)

# Messages read from the peer and not yet taken by the app, past which reading pauses. A
# handful keeps a burst flowing without a stop and start per message; the codec's own buffer
# holds at most one read (64 KiB) more.
QUEUED_MAX = 16

CONNECTING = 0  # the handshake's request is in; no 101 yet
OPEN = 1  # accepted: messages both ways
CLOSING = 2  # usher's close frame is out, waiting for the peer's
CLOSED = 3  # the close handshake is done, or the connection is gone

_CONNECT: Message = {"type": "websocket.connect"}


class ConnectionClosed(OSError):
    """`send()` after the WebSocket closed (the ASGI spec asks for an OSError)."""


@dataclass(frozen=True, slots=True)
class WebSocketLimits:
    """The bounds of every WebSocket on a listener (the websockets-* options)."""

    max_message: int = 1024 * 1024  # bytes, 0 = unbounded (websockets-max-size, uWSGI's 1 MiB)
    ping_every: float = 30.0  # seconds, 0 = no pings (websockets-ping-freq)
    pong_within: float = 3.0  # seconds (websockets-pong-tolerance)
    # A peer that never answers usher's close frame is dropped after this; uvicorn's and
    # websockets' close timeout is 10 s, a stopping worker should not wait that long.
    close_within: float = 5.0


class WebSocketHandler:
    """An ASGI listener's WebSocket upgrade requests (usher.adapters.asgi.AsgiHandler.upgrades;
    another upgrade is a plain HTTP request to the app)."""

    __slots__ = ("http", "limits")

    runs_coroutines = True  # (usher.adapters.base.Handler)

    def __init__(self, http: AsgiHandler, limits: WebSocketLimits) -> None:
        self.http = http
        self.limits = limits

    def serving(self, loop_shared: bool) -> None:
        """Nothing to do: the app's tasks run on the loop as it is."""

    def begin(self, request: Request, responder: Responder) -> WebSocketExchange:
        """Take a WebSocket upgrade request (usher.adapters.base.Handler)."""
        return WebSocketExchange(self, request, responder)


def websocket_scope(
    request: Request, http: AsgiHandler, peer: tuple[str, str], handshake: Handshake
) -> dict[str, Any]:
    """The websocket connection scope: the HTTP scope's keys, less `method`, with ws/wss and the
    offered subprotocols."""
    scope = dict(http_scope(request, http.server, peer))
    if http.state:
        scope["state"] = http.state.copy()  # the lifespan's (usher.adapters.lifespan)
    if http.frame is not None:
        http.frame.apply(scope)  # root-path, proxy headers: before the scheme becomes ws/wss
    del scope["method"]
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if scope["scheme"] in ("https", "wss") else "ws"
    scope["subprotocols"] = list(handshake.subprotocols)
    return scope


class WebSocketExchange:
    """One WebSocket: the handshake's request, then the tunnel's bytes, to and from the app."""

    __slots__ = (
        "_drained",
        "_task",
        "_waiter",
        "close_sent_at",
        "codec",
        "connected",
        "disconnect",
        "handler",
        "handshake",
        "inbox",
        "out",
        "phase",
        "ping_sent_at",
        "pong_due",
        "request",
        "tunnel",
    )

    def __init__(self, handler: WebSocketHandler, request: Request, out: Responder) -> None:
        self.handler = handler
        self.request = request
        self.out = out
        self.phase = CONNECTING
        self.handshake: Handshake | None = None
        self.codec: WebSocketCodec | None = None
        self.tunnel: Tunnel | None = None
        # Made when a message waits, dropped when the app has taken them all: an empty deque
        # is 600 bytes, and most WebSockets are idle most of the time.
        self.inbox: deque[Message] | None = None
        self.connected = False  # websocket.connect was handed to the app
        self.disconnect: Message | None = None  # set once the connection is over
        self.close_sent_at = 0.0
        self.ping_sent_at = 0.0
        self.pong_due = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps a weak reference

    # -- from the HTTP carrier (usher.adapters.base.Exchange) -----------------------------------

    def receive_data(self, data: bytes) -> None:
        """A handshake has no body worth keeping (RFC 6455 section 4.1: a GET)."""

    def receive_end(self) -> None:
        judged = judge_handshake(self.request)
        if isinstance(judged, Refused):
            self._refuse(judged)
            return
        if not isinstance(self.out, Switching):
            self._refuse(Refused(400, "this listener cannot switch protocols"))
            return
        self.handshake = judged
        self.ping_sent_at = self.handler.http.loop.time()
        self._task = self.handler.http.loop.create_task(self._run(judged))

    def resume(self) -> None:
        """The HTTP responder drained: only a refusal goes out through it, whole."""

    def release(self) -> None:
        """The HTTP carrier let go before the switch (refused, or the client left)."""
        if self.phase == CONNECTING:
            self._gone(ABNORMAL, "")

    def _refuse(self, refused: Refused) -> None:
        self.phase = CLOSED
        body = f"{refused.reason}\n".encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), *refused.headers]
        self.out.send_whole(_STATUS[refused.status], headers, body)

    # -- from the tunnel (usher.adapters.base.TunnelEnd) ----------------------------------------

    def tunnel_data(self, data: bytes) -> None:
        codec = self.codec
        tunnel = self.tunnel
        if codec is None or tunnel is None:
            return
        events = codec.receive_data(data)
        reply = codec.data_to_send()
        if reply:
            tunnel.write(reply)
        inbox = self.inbox
        for event in events:
            if type(event) is Received:
                if inbox is None:
                    inbox = self.inbox = deque()
                data_ = event.data
                if type(data_) is str:
                    inbox.append({"type": "websocket.receive", "text": data_})
                else:
                    inbox.append({"type": "websocket.receive", "bytes": data_})
            elif event is PONG:
                self.pong_due = False
            elif type(event) is Closed:
                # The close handshake is complete (the codec answered the peer's frame, or the
                # peer answered ours): the server closes the TCP connection (section 7.1.1).
                self._gone(event.code, event.reason)
                tunnel.close()
        if inbox is not None and len(inbox) > QUEUED_MAX:
            tunnel.pause_reading()
        self._wake()

    def tunnel_resumed(self) -> None:
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def tunnel_lost(self) -> None:
        self._gone(ABNORMAL, "")
        self.tunnel_resumed()
        # The tunnel and this exchange point at each other: let go, so both are freed at once
        # by reference counting rather than by a later run of the cyclic GC.
        self.tunnel = None

    def tunnel_tick(self, now: float, stopping: bool) -> None:
        tunnel = self.tunnel
        if tunnel is None:
            return
        phase = self.phase
        if phase == OPEN and stopping:
            self._send_close(GOING_AWAY, "server stopping")
        elif phase == CLOSING:
            if now - self.close_sent_at > self.handler.limits.close_within:
                tunnel.abort("WebSocket close not answered")
        elif phase == OPEN:
            self._keepalive(tunnel, now)

    def _keepalive(self, tunnel: Tunnel, now: float) -> None:
        limits = self.handler.limits
        if not limits.ping_every:
            return
        since = now - self.ping_sent_at
        if self.pong_due:
            if since > limits.pong_within:
                # No pong in time: the peer, or the path to it, is gone.
                tunnel.abort(f"no WebSocket pong within {limits.pong_within:g} s")
        elif since >= limits.ping_every:
            assert self.codec is not None
            self.ping_sent_at = now
            self.pong_due = True
            tunnel.write(self.codec.send_ping())

    # -- the app --------------------------------------------------------------------------------

    async def _run(self, handshake: Handshake) -> None:
        http = self.handler.http
        scope = websocket_scope(self.request, http, self.out.peer, handshake)
        try:
            await http.app(scope, self.receive, self.send)
        except Exception as exc:
            http.report(self.request, exc)
            if self.phase == CONNECTING:
                self._refuse(Refused(500, "Internal Server Error"))
            else:
                self._send_close(INTERNAL_ERROR, "")
            return
        if self.phase == CONNECTING:
            self._refuse(Refused(403, "Forbidden"))  # returned without accepting
        elif self.phase == OPEN:
            self._send_close(NORMAL, "")

    async def receive(self) -> Message:
        """websocket.connect, then each message, then websocket.disconnect."""
        if not self.connected:
            self.connected = True
            return _CONNECT
        while True:
            inbox = self.inbox
            if inbox:
                message = inbox.popleft()
                if not inbox:
                    self.inbox = None
                elif len(inbox) == QUEUED_MAX and self.tunnel is not None:
                    self.tunnel.resume_reading()
                return message
            if self.disconnect is not None:
                return self.disconnect
            self._waiter = waiter = self.handler.http.loop.create_future()
            await waiter

    async def send(self, message: Message) -> None:
        """Carry out one of the app's websocket.* messages."""
        kind = message["type"]
        if kind == "websocket.send":
            await self._send_message(message)
        elif kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            if self.phase == CONNECTING:
                self._refuse(Refused(403, "Forbidden"))
            elif self.phase == OPEN:
                self._send_close(int(message.get("code") or NORMAL), message.get("reason") or "")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on a WebSocket")

    def _accept(self, message: Message) -> None:
        if self.phase != CONNECTING or self.handshake is None:
            if self.disconnect is not None:
                raise ConnectionClosed("the WebSocket is closed")
            raise RuntimeError("websocket.accept sent twice")
        headers = [(bytes(name), bytes(value)) for name, value in message.get("headers") or ()]
        head = accept_response(self.handshake, message.get("subprotocol"), headers)
        self.codec = WebSocketCodec(self.handler.limits.max_message)
        out = self.out
        assert isinstance(out, Switching)
        self.handshake = None  # needed no more: an idle WebSocket keeps what it must only
        self.tunnel = out.switch(head, self)
        if self.tunnel is None:
            self._gone(ABNORMAL, "")
            return
        self.phase = OPEN

    async def _send_message(self, message: Message) -> None:
        if self.phase != OPEN:
            if self.phase == CONNECTING:
                raise RuntimeError("websocket.send before websocket.accept")
            raise ConnectionClosed("the WebSocket is closed")
        text = message.get("text")
        data = text if text is not None else message.get("bytes")
        if data is None:
            raise RuntimeError("websocket.send needs text or bytes")
        codec = self.codec
        tunnel = self.tunnel
        assert codec is not None and tunnel is not None
        tunnel.write(codec.send_message(data))
        if tunnel.paused:
            self._drained = drained = self.handler.http.loop.create_future()
            await drained
            self._drained = None

    def _send_close(self, code: int, reason: str) -> None:
        codec = self.codec
        tunnel = self.tunnel
        if codec is None or tunnel is None:
            return
        tunnel.write(codec.send_close(code, reason))
        self.phase = CLOSING
        self.close_sent_at = self.handler.http.loop.time()

    def _gone(self, code: int, reason: str) -> None:
        if self.disconnect is None:
            self.disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.phase = CLOSED
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


_STATUS = {
    400: "400 Bad Request",
    403: "403 Forbidden",
    426: "426 Upgrade Required",
    500: "500 Internal Server Error",
}
