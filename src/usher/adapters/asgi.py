"""The ASGI handler (ASGI 3.0, HTTP): a request's scope, its body as `http.request` messages, and
the app's `http.response.*` messages through the worker's responder (usher.adapters.base).

The app runs as a task on the worker's own event loop, the loop its connections are served on:
an ASGI handler runs coroutines there (`runs_coroutines`), so the worker's WSGI handlers, if any,
hide the running loop only around their own calls (WsgiHandler.serving).

Rules this handler holds to:

- The app is called once the request is complete (`receive_end`), as the WSGI handler does: a
  slow client never holds a task, and the body is bounded by limit-post before the app sees it.
  Its pieces are kept as they came and handed out one `http.request` message each.
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
from urllib.parse import unquote_to_bytes

from usher.adapters.base import Exchange, Handler, Responder
from usher.protocols.events import Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Report = Callable[[Request, BaseException], None]

ASGI = {"version": "3.0", "spec_version": "2.3"}
_DISCONNECT: Message = {"type": "http.disconnect"}


class AsgiHandler:
    """A listener's ASGI app: the server address it reports, the loop it runs on."""

    __slots__ = ("app", "loop", "report", "server", "upgrades")

    runs_coroutines = True  # (usher.adapters.base.Handler)

    def __init__(
        self,
        app: AsgiApp,
        server: tuple[str, int | None],
        *,
        loop: asyncio.AbstractEventLoop,
        report: Report,
    ) -> None:
        self.app = app
        self.server = server
        self.loop = loop
        self.report = report
        # What takes upgrade requests (usher.adapters.asgi_websocket), set when WebSockets are on.
        self.upgrades: Handler | None = None

    def serving(self, loop_shared: bool) -> None:
        """Nothing to do: the app's tasks need the loop as it is, visible and running."""

    def begin(self, request: Request, responder: Responder) -> Exchange:
        """Take a request whose head has been read (usher.adapters.base.Handler)."""
        if request.upgrade and self.upgrades is not None:
            return self.upgrades.begin(request, responder)
        return AsgiExchange(self, request, responder)


def http_scope(request: Request, server: tuple[str, int | None], peer: tuple[str, str]) -> Scope:
    """The HTTP connection scope of a request, over HTTP or from a uwsgi packet's variables."""
    variables = request.vars
    path = request.path
    scheme = "http"
    root_path = ""
    client: tuple[str, int] | None = None
    if variables is None:
        headers = [(name, value) for name, value in request.headers]
        if peer[0]:
            client = (peer[0], int(peer[1] or 0))
    else:
        headers = _headers_of(variables)
        if variables.get("HTTPS", "").lower() in ("on", "1") or (
            variables.get("REQUEST_SCHEME") == "https"
        ):
            scheme = "https"
        root_path = variables.get("SCRIPT_NAME", "")
        address = variables.get("REMOTE_ADDR")
        if address:
            client = (address, int(variables.get("REMOTE_PORT") or 0))
    return {
        "type": "http",
        "asgi": ASGI,
        "http_version": request.http_version,
        "method": request.method,
        "scheme": scheme,
        "path": (unquote_to_bytes(path) if b"%" in path else path).decode("utf-8", "replace"),
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
        "_received",
        "_task",
        "body",
        "done",
        "handler",
        "headers",
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
        self.read = False  # the app was handed the body's last message
        self.started = False  # http.response.start received and sent
        self.done = False  # the response is complete, or the carrier let go
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self._received: asyncio.Event | None = None
        self._drained: asyncio.Future[None] | None = None
        # The app's task: the loop keeps only a weak reference to a task, so the exchange holds it.
        self._task: asyncio.Task[None] | None = None

    # -- from the carrier ----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self.body.append(data)

    def receive_end(self) -> None:
        """The request is complete: start the app as a task on the loop."""
        self._task = self.handler.loop.create_task(self._run())

    def resume(self) -> None:
        """The responder drained: a task waiting to send more goes on."""
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def release(self) -> None:
        """The carrier is done: a task still running hears http.disconnect and may not send."""
        self.done = True
        self.body.clear()
        self.resume()
        if self._received is not None:
            self._received.set()

    # -- the app -------------------------------------------------------------------------------

    async def _run(self) -> None:
        handler = self.handler
        scope = http_scope(self.request, handler.server, self.out.peer)
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
        body = self.body
        if body:
            data = body.popleft()
            self.read = not body
            return {"type": "http.request", "body": data, "more_body": bool(body)}
        if not self.read and not self.done:
            self.read = True  # a request without a body: one empty message
            return {"type": "http.request", "body": b"", "more_body": False}
        if not self.done:
            # Nothing more will come for this request: wait until the carrier lets go of it.
            if self._received is None:
                self._received = asyncio.Event()
            await self._received.wait()
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
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
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
