"""The ASGI handler (ASGI 3.0, HTTP): a request's scope, its body as `http.request` messages, and
the app's `http.response.*` messages through the worker's responder (usher.adapters.base).

The app runs as a task on the worker's own event loop, the loop its connections are served on:
an ASGI handler runs coroutines there (`runs_coroutines`), so the worker's WSGI handlers, if any,
hide the running loop only around their own calls (WsgiHandler.serving).

Rules this handler holds to:

- A request without a body is handed to the app once complete (`receive_end`). With a body, the
  app starts at the head and streams it: each piece as it came is one `http.request` message,
  `more_body` true until the body's end. While more than READ_AHEAD bytes wait for the app,
  the carrier stops reading from the client (`Responder.hold_reading`), so a large upload is
  paced by the app, never held whole. An app may answer before the body has ended; the carrier
  then reads the rest and drops it.
- A response whose first body message is also its last (`more_body` false) goes out with one
  `send_whole`, the responder's one-write path; a longer one as a head and pieces, the task
  waiting while the responder is paused (backpressure).
- After the response is complete, or once the carrier has let go of the request (its client went
  away), `receive()` answers `http.disconnect` and `send()` raises, as the ASGI spec allows.
- An exception from the app before its response started is a 500; after, the connection is
  dropped. Either way it is reported once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from usher.adapters.asgi_scope import ScopeFrame
from usher.adapters.base import Exchange, Handler, Responder
from usher.protocols.events import Request, unescaped_path
from usher.protocols.websocket_handshake import is_websocket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Report = Callable[[Request, BaseException], None]

ASGI = {"version": "3.0", "spec_version": "2.3"}
_DISCONNECT: Message = {"type": "http.disconnect"}

# How much of a request body may wait for the app before reading stops: a socket read or two,
# as uvicorn's 64 KiB high-water mark for request bodies.
READ_AHEAD = 64 * 1024


class AsgiHandler:
    """A listener's ASGI app: the server address it reports, the loop it runs on."""

    __slots__ = ("app", "frame", "loop", "report", "server", "state", "upgrades")

    runs_coroutines = True  # (usher.adapters.base.Handler)

    def __init__(
        self,
        app: AsgiApp,
        server: tuple[str, int | None],
        *,
        loop: asyncio.AbstractEventLoop,
        report: Report,
        state: dict[str, Any] | None = None,
        frame: ScopeFrame | None = None,
    ) -> None:
        self.app = app
        self.server = server
        self.loop = loop
        self.report = report
        # The lifespan's state (usher.adapters.lifespan), copied into each request's scope.
        self.state = state
        self.frame = frame  # root-path, proxy headers (usher.adapters.asgi_scope)
        # What takes upgrade requests (usher.adapters.asgi_websocket), set when WebSockets are on.
        self.upgrades: Handler | None = None

    def serving(self, loop_shared: bool) -> None:
        """Nothing to do: the app's tasks need the loop as it is, visible and running."""

    def begin(self, request: Request, responder: Responder) -> Exchange:
        """Take a request whose head has been read (usher.adapters.base.Handler)."""
        if request.upgrade and self.upgrades is not None and is_websocket(request):
            return self.upgrades.begin(request, responder)
        exchange = AsgiExchange(self, request, responder)
        if request.has_body:
            exchange.start()  # the app streams the body as it comes
        return exchange


def http_scope(request: Request, server: tuple[str, int | None], peer: tuple[str, str]) -> Scope:
    """The HTTP connection scope of a request, over HTTP or from a uwsgi packet's variables."""
    variables = request.vars
    path = request.path
    scheme = "http"
    root_path = ""
    client: tuple[str, int] | None = None
    if variables is None:
        headers = list(request.headers)  # a copy: apps and middleware may edit theirs
        if peer[0]:
            client = (peer[0], int(peer[1] or 0))
    else:
        headers = _headers_of(variables)
        if variables.get("HTTPS", "").lower() in ("on", "1") or (
            variables.get("REQUEST_SCHEME") == "https"
        ):
            scheme = "https"
        root_path = variables.get("SCRIPT_NAME", "")
        # The front server's name and port, as the WSGI environ has them: what the client asked.
        name, port = variables.get("SERVER_NAME"), variables.get("SERVER_PORT", "")
        if name:
            server = (name, int(port) if port.isdigit() else None)
        address = variables.get("REMOTE_ADDR")
        if address:
            client = (address, int(variables.get("REMOTE_PORT") or 0))
    return {
        "type": "http",
        "asgi": ASGI,
        "http_version": request.http_version,
        "method": request.method,
        "scheme": scheme,
        "path": unescaped_path(path).decode("utf-8", "replace"),
        "raw_path": path,
        "query_string": request.query,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
        "state": {},
    }


def _headers_of(variables: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The request's header fields from CGI variables (HTTP_X_Y: x-y; CONTENT_TYPE and
    CONTENT_LENGTH when the front server sent them non-empty)."""
    headers = []
    for key, value in variables.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.lower().replace("_", "-")
        else:
            continue
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    return headers


class AsgiExchange:
    """One request to an ASGI app: its body's pieces, the app's task and its messages."""

    __slots__ = (
        "_drained",
        "_task",
        "_waiter",
        "body",
        "buffered",
        "done",
        "ended",
        "handler",
        "headers",
        "held",
        "out",
        "read",
        "request",
        "started",
        "status",
    )

    def __init__(self, handler: AsgiHandler, request: Request, out: Responder) -> None:
        self.handler = handler
        self.request = request
        self.out = out
        self.body: deque[bytes] = deque()
        self.buffered = 0  # bytes of `body`
        self.held = False  # the carrier stopped reading for us (READ_AHEAD)
        self.ended = False  # the request is complete: no more pieces will come
        self.read = False  # the app was handed the body's last message
        self.started = False  # http.response.start received and sent
        self.done = False  # the response is complete, or the carrier let go
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self._waiter: asyncio.Future[None] | None = None  # receive() waiting for news
        self._drained: asyncio.Future[None] | None = None
        # The app's task: the loop keeps only a weak reference to a task, so the exchange holds it.
        self._task: asyncio.Task[None] | None = None

    # -- from the carrier ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the app as a task on the loop."""
        self._task = self.handler.loop.create_task(self._run())

    def receive_data(self, data: bytes) -> None:
        self.body.append(data)
        self.buffered += len(data)
        if self.buffered > READ_AHEAD and not self.held:
            self.held = True
            self.out.hold_reading(True)
        self._wake()

    def receive_end(self) -> None:
        """The request is complete: start the app if it has not started."""
        self.ended = True
        if self._task is None:
            self.start()
        else:
            self._wake()

    def resume(self) -> None:
        """The responder drained: a task waiting to send more goes on."""
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def release(self) -> None:
        """The carrier is done: a task still running hears http.disconnect and may not send."""
        self.done = True
        self.body.clear()
        self.buffered = 0
        self.resume()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the app -------------------------------------------------------------------------------

    async def _run(self) -> None:
        handler = self.handler
        scope = http_scope(self.request, handler.server, self.out.peer)
        if handler.state:
            scope["state"] = handler.state.copy()
        if handler.frame is not None:
            handler.frame.apply(scope)
        try:
            await handler.app(scope, self.receive, self.send)
        except Exception as exc:
            self._failed(exc)
            return
        if not self.done:
            # The app returned without finishing its response: it is cut short.
            if self.started:
                self.out.abort()
            else:
                self._failed(RuntimeError("the ASGI app returned without sending a response"))

    def _failed(self, exc: BaseException) -> None:
        self.handler.report(self.request, exc)
        if self.done:
            return
        self.done = True
        if self.started:
            self.out.abort()
            return
        body = b"Internal Server Error\n"
        self.out.send_whole("500 Internal Server Error", [("Content-Type", "text/plain")], body)

    async def receive(self) -> Message:
        """The next `http.request` message, or `http.disconnect` once the request is over."""
        while not self.done:
            body = self.body
            if body:
                data = body.popleft()
                self.buffered -= len(data)
                if self.held and not body:
                    self.held = False
                    self.out.hold_reading(False)
                more = bool(body) or not self.ended
                self.read = not more
                return {"type": "http.request", "body": data, "more_body": more}
            if self.ended and not self.read:
                self.read = True  # the end after the last piece, or a request without a body
                return {"type": "http.request", "body": b"", "more_body": False}
            # Wait for a piece, the body's end, or (once it is all read) the carrier letting go.
            self._waiter = self.handler.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return _DISCONNECT

    async def send(self, message: Message) -> None:
        """Carry out one of the app's `http.response.*` messages."""
        if self.done:
            raise OSError("the response is complete or the client went away")
        kind = message["type"]
        if kind == "http.response.start":
            if self.started or self.status:
                raise RuntimeError("http.response.start sent twice")
            self.status = _status_line(message["status"])
            self.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an HTTP connection")
        if not self.status:
            raise RuntimeError("http.response.body sent before http.response.start")
        await self._send_body(bytes(message.get("body", b"")), bool(message.get("more_body")))

    async def _send_body(self, data: bytes, more: bool) -> None:
        out = self.out
        if not self.started:
            self.started = True
            if not more:
                self.done = True
                out.send_whole(self.status, self.headers, data)
                return
            out.send_head(self.status, self.headers, None)
        if data:
            out.send_body(data)
        if not more:
            self.done = True
            out.finish()
            return
        if out.paused:
            self._drained = self.handler.loop.create_future()
            await self._drained
            self._drained = None


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"{int(status)} Unknown"
