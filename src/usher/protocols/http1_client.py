"""The HTTP/1.1 client codec of the front: request heads out, response events in, over httptools.

Rules this codec holds to:

- One ``HttpClientCodec`` per upstream connection; ``expect(method)`` before each request says
  what the response answers (a HEAD's has no body, whatever its Content-Length says).
- Events: a ``Response`` (the head) as soon as it is complete, the body in ``Data`` pieces as
  they arrive (chunked bodies decoded), then ``END``. Interim responses (100, 103) are skipped: the
  front sends no ``Expect`` and passes no early hints. A 101 ends with ``END`` at its head and
  every later byte comes out raw in ``Upgraded`` events (a WebSocket tunnel).
- A body framed by neither Content-Length nor chunked runs to the end of the stream:
  ``receive_eof`` then ends it. A stream that ends anywhere else, bytes llhttp refuses, or a head
  past ``max_head`` give one ``ResponseError``, after which the codec is done and the connection
  must be closed.
- ``keep_alive`` on the ``Response`` says whether the connection may carry another request once
  the ``END`` is out (llhttp's verdict: HTTP/1.1 without ``Connection: close``).

Nothing is stored but the head's fields while it is read: bodies are passed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httptools

from usher.protocols.events import END, Data, EndOfMessage, Upgraded


@dataclass(slots=True, init=False)
class Response:
    """The head of an upstream's response; header names lower-cased, values as sent."""

    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    content_length: int | None  # None: chunked, to the end of the stream, or no body
    chunked: bool

    # Written out for the compiled form, as events.Request's is (one per proxied response).
    def __init__(
        self,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        content_length: int | None,
        chunked: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked


@dataclass(frozen=True, slots=True)
class ResponseError:
    """The upstream's bytes cannot be a response (or the stream ended early); close it."""

    reason: str


ClientEvent = Response | Data | EndOfMessage | Upgraded | ResponseError

# The most header bytes a response head may take before it is refused (nginx's
# proxy_buffer_size is a page, 4 or 8 KiB; app frameworks' cookie-laden heads pass 8 KiB, so 64
# KiB bounds a broken upstream's memory without refusing a real one).
MAX_RESPONSE_HEAD: Final = 64 * 1024


class HttpClientCodec:
    """Reads the responses of one upstream connection, one per `expect` call."""

    __slots__ = (
        "_done",
        "_events",
        "_head_bytes",
        "_head_only",
        "_headers",
        "_in_body",
        "_name",
        "_parser",
        "_reason",
        "_switched",
        "_to_eof",
        "max_head",
    )

    def __init__(self, max_head: int = MAX_RESPONSE_HEAD) -> None:
        self.max_head = max_head
        self._parser: httptools.HttpResponseParser | None = None
        self._events: list[ClientEvent] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._name = b""
        self._reason = b""
        self._head_bytes = 0
        self._head_only = False
        self._switched = False
        self._done = True
        self._in_body = False
        self._to_eof = False

    def expect(self, method: str) -> None:
        """A request was sent: read its response next."""
        if self._parser is None:
            # llhttp goes on to the next message of a kept-alive connection by itself; a new
            # parser is needed only at the start, and after a HEAD's answer (see below).
            self._parser = httptools.HttpResponseParser(self)
        self._head_only = method == "HEAD"
        self._headers = []
        self._reason = b""
        self._head_bytes = 0
        self._done = False
        self._in_body = False
        self._to_eof = False

    @property
    def idle(self) -> bool:
        """Whether the last response is complete (the connection may carry another request)."""
        return self._done

    def receive_data(self, data: bytes) -> list[ClientEvent]:
        """Bytes from the upstream; the events they complete."""
        if self._switched:
            return [Upgraded(data)] if data else []
        parser = self._parser
        if parser is None or self._done:
            # Bytes nobody asked for: an upstream that answers twice cannot be trusted again.
            return [ResponseError("upstream sent bytes after its response")] if data else []
        events: list[ClientEvent] = []
        self._events = events
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args else len(data)
            rest = data[offset:] if isinstance(offset, int) else b""
            if self._switched and rest:
                events.append(Upgraded(rest))
        except httptools.HttpParserError as exc:
            self._fail(f"bad response from upstream: {exc}")
        if not self._in_body and not self._done and self._parser is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head:
                self._fail(f"response head over {self.max_head} bytes")
        return events

    def receive_eof(self) -> list[ClientEvent]:
        """The upstream closed its side."""
        if self._switched or self._done:
            return []
        if self._to_eof:
            self._done = True
            return [END]
        self._done = True
        return [ResponseError("upstream closed the connection before its response was complete")]

    def _fail(self, reason: str) -> None:
        self._events.append(ResponseError(reason))
        self._done = True
        self._parser = None

    # -- httptools callbacks -------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._headers = []  # an interim response: the real one follows
            self._reason = b""
            return
        length: int | None = None
        chunked = False
        for name, value in self._headers:
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and value.lower().endswith(b"chunked"):
                chunked = True
        bodiless = self._head_only or status in (101, 204, 304)
        keep_alive = parser.should_keep_alive() and status != 101
        self._events.append(
            Response(status, self._reason, self._headers, keep_alive, length, chunked)
        )
        self._in_body = True
        if status == 101:
            self._switched = True
            self._done = True
            self._events.append(END)
        elif bodiless:
            # llhttp cannot be told that a response answers HEAD: the message ends here, and the
            # next one gets a fresh parser (expect()).
            self._done = True
            self._parser = None
            self._events.append(END)
        else:
            self._to_eof = length is None and not chunked

    def on_body(self, body: bytes) -> None:
        if not self._done:
            self._events.append(Data(body))

    def on_message_complete(self) -> None:
        if self._parser is None or self._done:
            return
        if self._in_body:
            self._done = True
            self._events.append(END)


def encode_request_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """An HTTP/1.1 request head; `headers` are written as given (the caller frames the body)."""
    lines = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)
