"""The HTTP/1.x request codec: bytes in, events out, over httptools (llhttp in strict mode).

Rules this codec holds to:

- One ``HttpCodec`` and one llhttp parser per connection, reused by every keep-alive request.
  Pipelined requests come out in order; a request split across reads at any byte boundary
  gives the same events, except that body bytes come out in as many ``Data`` pieces as they
  arrived in.
- Events stream as h11's do (usher.protocols.events): the ``Request`` (the head) as soon as the
  head is complete and acceptable, then the body in ``Data`` pieces as it arrives (chunked
  bodies decoded), then ``END``; a bodiless request gives ``[request, END]`` in one list.
  ``Expect: 100-continue`` (HTTP/1.1, with a body whose declared length is acceptable) adds a
  ``ContinueRequested`` before the ``Request``. Nothing is stored here: the body's bytes are
  passed on as llhttp hands them over, and buffering or spooling them is the adapter's business.
- Limits: the head is held to buffer-size (431, or 400 for chunk extensions and trailers past
  their allowance); a Content-Length over limit-post is refused (413) before any ``Request``,
  and a chunked body as soon as its bytes cross it, so no ``Data`` beyond limit-post comes out.
  A ``ProtocolError`` may thus follow the ``Request`` and some ``Data`` of its message.
- Framing is never guessed: llhttp's strict checks, then usher.protocols.http1_rules (which
  says why each refusal is a smuggling or host-confusion shape).
- Conformance (RFC 9112, RFC 9110): at most one empty line before a request line (section 2.2;
  more is a 400: checked where a read begins, since llhttp skips them without saying where);
  the asterisk form ``*`` only with OPTIONS (section 3.2.4); trailing spaces and tabs are not
  part of a field value (RFC 9110 section 5.5); more header fields than limit-request-fields is
  a 431.
- Header names containing ``_`` are dropped, as nginx does: in the WSGI environ ``X_Forwarded_For``
  and ``X-Forwarded-For`` would both become ``HTTP_X_FORWARDED_FOR`` and a client could spoof the
  proxy's header. Trailer fields of chunked bodies are dropped too.
- After a ``ProtocolError``, after end of stream, or after a request that does not keep the
  connection alive, the codec is DONE: later bytes are ignored and no further event comes out.
- An upgrade request (``Upgrade`` with ``Connection: upgrade``) comes out with ``upgrade=True``
  and ``keep_alive=False``, its Content-Length body (chunked is refused) as ``Data``, then ``END``.
  The codec is then SWITCHED: every later byte comes out raw in ``Upgraded`` events, so a
  WebSocket handler takes the stream over without a second parser.
"""

from __future__ import annotations

from typing import Final, NoReturn

import httptools

from usher.protocols.events import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    Event,
    Limits,
    ProtocolError,
    Request,
    Upgraded,
)
from usher.protocols.http1_rules import (
    Refusal,
    check_hosts,
    judge_framing,
    line_version,
    lowered_name,
    other_target,
    rare_method,
)

# Module-level names: the hot path reads locals and globals, not enum class attributes.
_IDLE: Final = CodecState.IDLE
_HEAD: Final = CodecState.HEAD
_BODY: Final = CodecState.BODY
_DONE: Final = CodecState.DONE
_SWITCHED: Final = CodecState.SWITCHED

# Fields that decide framing or routing: noted in on_header, judged once the head is complete.
_NOTED: Final = frozenset((b"host", b"content-length", b"transfer-encoding", b"expect", b"upgrade"))
_HOST: Final = b"host"
# Byte values: `int in bytes` is a plain memchr, several times cheaper than `b"_" in bytes`.
_UNDERSCORE, _SLASH, _HASH, _QUESTION = b"_/#?"
_BLANK: Final = b"\r\n"  # the bytes of an empty line
_OWS: Final = b" \t"  # optional whitespace around a field value

_METHODS: Final = {
    m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
}
_VERSIONS: Final = {"1.1": "1.1", "1.0": "1.0"}

# A chunk's size line and the CRLF after its data take about this many bytes (16 hex digits at
# most, then CRLF, then CRLF). Bytes of chunk framing beyond this allowance (extensions,
# trailers) are charged against buffer-size, because httptools holds a trailer field in memory
# until it ends: without the charge one endless trailer would grow a worker without bound.
_CHUNK_FRAMING: Final = 24


class _Refused(Exception):
    """Raised inside a parser callback to stop llhttp; the ProtocolError is already recorded."""


class HttpCodec:
    """Parse HTTP/1.0 and HTTP/1.1 requests from one connection into events.

    Feed every received chunk to ``receive_data`` and the peer's end of stream to
    ``receive_eof``; each returns the events the bytes completed, in order.
    """

    __slots__ = (
        "_blank_lines",
        "_dropped",
        "_events",
        "_exact",
        "_framing",
        "_head_bytes",
        "_headers",
        "_hosts",
        "_line",
        "_max_body",
        "_max_fields",
        "_max_head",
        "_noted",
        "_parser",
        "_raw_left",
        "_received",
        "_request",
        "_state",
        "_trailers",
        "_url",
    )

    def __init__(self, limits: Limits) -> None:
        self._max_head = limits.max_head
        self._max_body = limits.max_body
        self._max_fields = limits.max_fields
        self._parser = httptools.HttpRequestParser(self)
        self._state = _IDLE
        self._events: list[Event] = []
        # Raw bytes of the current head counted so far, and whether the current feed's bytes all
        # belong to it (False once a message completed inside the feed: pipelining).
        self._head_bytes = 0
        self._exact = True
        self._line: bytes | None = None  # the fed chunk when a request line starts it
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._noted: list[tuple[bytes, bytes]] | None = None
        self._hosts = 0
        self._dropped = 0
        self._blank_lines = 0  # empty lines seen before the next request line
        self._request: Request | None = None
        self._received = 0  # body bytes passed on, held to limit-post for chunked bodies
        self._framing = 0
        self._trailers = 0
        # Body bytes of an Upgrade request still to read: llhttp hands the stream over after the
        # head of such a request, so its Content-Length body is counted here instead.
        self._raw_left = 0

    @property
    def state(self) -> CodecState:
        """IDLE, HEAD, BODY, DONE or SWITCHED: what the connection is waiting for."""
        return self._state

    # ----------------------------------------------------------------------------------------
    # Input

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received bytes; return every event they complete, in order."""
        state = self._state
        if state is _DONE:
            return []
        events: list[Event] = []
        self._events = events
        if state is _IDLE and data and data[0] in _BLANK:
            self._count_blank_lines(data)
            if self._state is _DONE:
                return events
        if self._raw_left or state is _SWITCHED:
            self._receive_raw(data)
        elif state is not _BODY and len(data) > self._max_head - self._head_bytes:
            self._feed_bounded(data)
        else:
            self._feed(data)
        return events

    def receive_eof(self) -> list[Event]:
        """The peer closed its sending side: a request cut short is an error, else nothing.

        The codec is DONE afterwards, also when it was SWITCHED.
        """
        events: list[Event] = []
        self._events = events
        state = self._state
        if state is _HEAD or state is _BODY:
            self._fail(400, "the client closed the connection in the middle of a request")
        self._state = _DONE
        return events

    def _count_blank_lines(self, data: bytes) -> None:
        # RFC 9112 section 2.2: a server ignores at least one empty line before a request line;
        # usher ignores exactly one, as the RFC's robustness allowance intends, not a stream.
        leading = len(data) - len(data.lstrip(_BLANK))
        self._blank_lines += data.count(b"\n", 0, leading)
        if self._blank_lines > 1:
            self._fail(400, "more than one empty line before the request line")

    def _feed(self, chunk: bytes | memoryview) -> None:
        before = self._state
        self._exact = True
        # Between requests, the next one starts this chunk (after one empty line at most, which
        # on_headers_complete tells apart).
        self._line = chunk if before is _IDLE and type(chunk) is bytes else None
        try:
            self._parser.feed_data(chunk)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgraded(chunk, upgrade.args[0])
        except httptools.HttpParserError as exc:
            self._parse_failed(exc)
        state = self._state
        if state is _HEAD:
            self._count_head(len(chunk))
        elif state is _BODY and before is _BODY and self._exact:
            # Every byte of this feed belonged to the current body: what on_body did not
            # receive was chunk framing.
            self._framing += len(chunk)
            if self._framing > 0:
                self._fail(400, self._framing_too_large())

    def _feed_bounded(self, data: bytes) -> None:
        """Feed a chunk that could carry a head past ``max_head``, never past it."""
        # The head is fed at most its remaining budget at a time, so a head that has not ended
        # within buffer-size bytes is caught at exactly the byte that crosses it.
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state is _DONE:
                return
            if self._raw_left or state is _SWITCHED:
                self._receive_raw(view[pos:])
                return
            stop = end
            if state is not _BODY:
                budget = self._max_head - self._head_bytes
                if budget <= 0:
                    self._fail(431, self._head_too_large())
                    return
                stop = min(end, pos + budget)
            self._feed(view[pos:stop])
            pos = stop

    def _count_head(self, fed: int) -> None:
        # This is uWSGI's buffer-size: the whole request line and header section must fit in
        # it. Counting raw bytes (not parsed ones) also bounds a header section that never ends
        # and whitespace llhttp skips.
        if self._exact:
            self._head_bytes += fed
            return
        # The head began after a pipelined request inside this chunk, at an offset llhttp does
        # not report: charge what is known of it (a lower bound), then count raw bytes again.
        self._head_bytes = self._known_head_size()
        if self._head_bytes > self._max_head:
            self._fail(431, self._head_too_large())

    def _known_head_size(self) -> int:
        fields = sum(len(name) + len(value) + 3 for name, value in self._headers)
        return len(self._url) + fields + self._dropped

    def _head_too_large(self) -> str:
        return (
            f"request head exceeds buffer-size ({self._max_head} bytes): raise buffer-size "
            "(e.g. buffer-size = 32768 in the ini, or --buffer-size 32768) to accept larger "
            "headers"
        )

    def _framing_too_large(self) -> str:
        return f"chunk extensions or trailer fields exceed buffer-size ({self._max_head} bytes)"

    def _parse_failed(self, exc: httptools.HttpParserError) -> None:
        if self._state is _DONE:
            # Either a callback refused the request (the event is recorded) or llhttp refused
            # bytes after a request that closes the connection, which are ignored.
            return
        if isinstance(exc, httptools.HttpParserCallbackError) and exc.__context__ is not None:
            raise exc  # a fault in this codec, not in the request: let the worker report it
        self._fail(400, f"malformed request: {exc}")

    def _upgraded(self, chunk: bytes | memoryview, offset: int) -> None:
        # llhttp stops at the end of an upgrade request's head; the rest of the read is the
        # request's body (if any), then the new protocol's bytes.
        if self._raw_left or self._state is _SWITCHED:
            self._receive_raw(chunk[offset:])

    def _receive_raw(self, data: bytes | memoryview) -> None:
        """Bytes past llhttp: an upgrade request's body, then raw Upgraded bytes."""
        left = self._raw_left
        if left:
            piece = data[:left]  # `data` itself when it is bytes and no longer than `left`
            if not piece:
                return
            self._events.append(Data(bytes(piece)))  # bytes() of bytes is the same object
            left -= len(piece)
            self._raw_left = left
            if left:
                return
            self.on_message_complete()  # END; the codec is SWITCHED
            data = data[len(piece) :]
        if data:
            self._events.append(Upgraded(bytes(data)))

    # ----------------------------------------------------------------------------------------
    # llhttp callbacks (called by httptools from inside feed_data)

    def on_message_begin(self) -> None:
        self._state = _HEAD
        self._url = b""
        self._headers = []
        self._noted = None
        self._hosts = 0
        self._dropped = 0
        self._blank_lines = 0

    def on_url(self, url: bytes) -> None:
        self._url += url  # llhttp may deliver the target in pieces across reads

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._state is _BODY:
            # A trailer field: never merged into the head the app sees, but held to buffer-size
            # like a head (the raw count in _feed only sees reads that end inside the body).
            self._trailers += len(name) + len(value) + 3
            if self._trailers > self._max_head:
                self._refuse(400, self._framing_too_large())
            return
        name = lowered_name(name)
        if value and value[-1] in _OWS:
            value = value.rstrip(_OWS)
        if _UNDERSCORE in name:
            self._dropped += len(name) + len(value) + 3
            return
        if name in _NOTED:
            if name == _HOST:
                self._hosts += 1
            elif self._noted is None:
                self._noted = [(name, value)]
            else:
                self._noted.append((name, value))
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        try:
            parser = self._parser
            version = None
            line = self._line
            if line is not None:
                # A pipelined request after it, a head over several reads or a leading empty
                # line asks httptools instead.
                self._line = None
                version = line_version(line)
            if version is None:
                version = _VERSIONS.get(parser.get_http_version())
            if version is None:
                self._refuse(
                    505,
                    f"HTTP/{parser.get_http_version()} is not supported: "
                    "usher speaks HTTP/1.0 and HTTP/1.1",
                )
            raw_method = parser.get_method()
            method = _METHODS.get(raw_method) or rare_method(raw_method)
            if not self._exact:
                self._check_pipelined_head(len(raw_method))
            if self._hosts != 1:
                check_hosts(self._hosts, version)
            # Counted here, not per field: buffer-size already bounds the memory a head holds, and
            # the count bounds the work each kept field costs later (environ keys, the app's
            # lookups); dropped fields (names with `_`) cost nothing more and are not counted.
            if len(self._headers) > self._max_fields:
                self._refuse(
                    431,
                    f"more than {self._max_fields} header fields: raise limit-request-fields to "
                    "accept more",
                )
            keep_alive = parser.should_keep_alive()
            length = 0
            chunked = expect = upgrade = False
            if self._noted is not None:
                length, chunked, expect, upgrade = judge_framing(self._noted, version)
            url = self._url
            if url and url[0] == _SLASH:
                if _HASH in url:
                    url = url[: url.find(_HASH)]  # a fragment is never part of a request target
                if _QUESTION in url:
                    mark = url.find(_QUESTION)
                    path, query = url[:mark], url[mark + 1 :]
                else:
                    path, query = url, b""
            else:
                path, query = other_target(url, method, self._headers)
            has_body = False
            if length or chunked:
                if length and self._max_body and length > self._max_body:
                    self._refuse(
                        413,
                        f"request body of {length} bytes exceeds limit-post ({self._max_body} bytes)",
                    )
                has_body = True
                self._received = 0
                self._framing = -self._max_head
                self._trailers = 0
                if expect and version == "1.1":
                    self._events.append(ContinueRequested())
            if upgrade:
                upgrade = parser.should_upgrade()
                if upgrade:
                    keep_alive = False
                    if chunked:
                        self._refuse(400, "a chunked body on an Upgrade request is not supported")
                    self._raw_left = length
            headers = self._headers
            request = self._request = Request(
                method, path, query, version, headers, keep_alive, None, chunked, has_body, upgrade
            )
            self._events.append(request)
            self._state = _BODY
        except Refusal as refusal:  # a rule of usher.protocols.http1_rules refused the head
            self._refuse(refusal.status, refusal.reason)

    def on_body(self, data: bytes) -> None:
        # llhttp hands over a fresh bytes object: passed on as it is, never copied.
        self._framing -= len(data)
        if self._max_body:
            # Only a chunked body can get here past limit-post (a Content-Length over it was
            # refused at the head): refuse before passing on the bytes that cross it.
            self._received += len(data)
            if self._received > self._max_body:
                self._refuse(
                    413, f"chunked request body exceeds limit-post ({self._max_body} bytes)"
                )
        self._events.append(Data(data))

    def on_chunk_header(self) -> None:
        self._framing -= _CHUNK_FRAMING

    def on_message_complete(self) -> None:
        if self._raw_left:
            return  # an Upgrade request's body follows outside llhttp (_receive_raw)
        request = self._request
        assert request is not None
        self._events.append(END)
        self._request = None
        self._head_bytes = 0
        self._exact = False
        if request.keep_alive:
            self._state = _IDLE
        else:
            self._state = _SWITCHED if request.upgrade else _DONE

    # ----------------------------------------------------------------------------------------
    # Helpers

    def _check_pipelined_head(self, method_length: int) -> None:
        # A request line is method SP target SP HTTP/x.y CRLF; the head ends with CRLF.
        size = method_length + 12 + self._known_head_size() + 2
        if size > self._max_head:
            self._refuse(431, self._head_too_large())

    def _fail(self, status: int, reason: str) -> None:
        """Record a ProtocolError and end the codec; a request under way is abandoned."""
        self._events.append(ProtocolError(status, reason))
        self._state = _DONE
        self._raw_left = 0
        self._request = None

    def _refuse(self, status: int, reason: str) -> NoReturn:
        self._fail(status, reason)
        raise _Refused(reason)
