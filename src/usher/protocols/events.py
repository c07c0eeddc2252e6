"""What the codecs emit, and the limits they enforce.

A codec turns bytes into these events and nothing else: it never writes, never closes, never
logs and never stores a body (spooling an upload to a temporary file is the WSGI adapter's
business). The worker reads the events in order and acts on them.

The events of one request come in this order (h11's shape)::

    [ContinueRequested]  Request  Data*  END  [Upgraded*]

- ``ContinueRequested`` comes first when an HTTP/1.1 request sent ``Expect: 100-continue`` and its
  declared body is acceptable.
- ``Request`` is the head. ``has_body`` says whether ``Data`` may follow.
- ``Data`` events carry the body in order, each non-empty: decoded chunks of a chunked body, or
  pieces of a Content-Length body as they were received.
- ``END`` closes every request, bodiless ones too: a GET gives ``[request, END]`` in one list.
- After the ``END`` of a request with ``upgrade`` set the codec is SWITCHED, and every later byte
  of the connection comes out raw in ``Upgraded`` events, for a WebSocket (or other) handler to
  take over the stream.

A ``ProtocolError`` may come at any point, also after a ``Request`` and some ``Data`` of the same
message (a chunked body over limit-post, a malformed chunk, the client closing mid-body): that
request is then incomplete and abandoned. After a ``ProtocolError`` nothing more comes out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds a codec holds a client to.

    ``max_head`` is uWSGI's ``buffer-size``: the largest request head (HTTP request line plus
    header section, or the uwsgi protocol's block of variables) a worker will hold. ``max_body``
    is ``limit-post`` (0 = unlimited). ``max_fields`` is ``limit-request-fields``: the most
    header fields one HTTP request may carry.
    """

    max_head: int
    max_body: int
    # A head within buffer-size can still hold hundreds of tiny fields, each a list entry here
    # and an environ key later; gunicorn bounds the count at 100 by default, and so does usher.
    max_fields: int = 100

    def __post_init__(self) -> None:
        # An unbounded head would let one connection hold any amount of memory before the
        # request is even known; there is no "0 = unlimited" for it, unlike limit-post.
        if self.max_head < 1:
            raise ValueError(f"max_head must be at least 1 byte, got {self.max_head}")
        if self.max_body < 0:
            raise ValueError("max_body must not be negative")


@dataclass(slots=True)
class Request:
    """The head of one request; its body, if any, follows in ``Data`` events, then ``END``.

    ``path`` is the raw target path, still percent-encoded, without the query; ``headers`` has
    names lower-cased and values as sent, with names containing ``_`` already dropped. ``vars``
    holds the CGI variables of a uwsgi-protocol request and is ``None`` for HTTP.

    ``has_body`` is True when ``Data`` may follow (a Content-Length above 0, or a chunked body);
    a chunked body may still turn out empty. ``upgrade`` is True for a request that switches
    protocols after its ``END`` (``Upgrade`` with ``Connection: upgrade``); ``keep_alive`` is
    False for it.
    """

    method: str
    path: bytes
    query: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    vars: dict[str, str] | None = None
    chunked: bool = False
    has_body: bool = False
    upgrade: bool = False


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the current request's body, in order; never empty."""

    data: bytes


class EndOfMessage:
    """The current request, body included, is complete. Use the one instance, ``END``, and
    compare with ``is``: copying or pickling it gives ``END`` back."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"

    def __reduce__(self) -> str:
        return "END"  # pickled by name: unpickling (and copy, deepcopy) gives the one instance


END = EndOfMessage()


@dataclass(frozen=True, slots=True)
class Upgraded:
    """Raw bytes of a connection that switched protocols after an ``upgrade`` request; never
    empty. The codec parses none of them."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The codec refuses the input: answer ``status`` with a short body, then close.

    ``reason`` is meant for the operator's log (and the error body): it says what was wrong and,
    where a setting is the cause, which one to change. After this event the codec is done.
    """

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class ContinueRequested:
    """An HTTP/1.1 request sent ``Expect: 100-continue`` and its declared body is acceptable.

    The worker writes ``HTTP/1.1 100 Continue`` before the client sends the body.
    """


Event = Request | Data | EndOfMessage | Upgraded | ProtocolError | ContinueRequested


class CodecState(enum.Enum):
    """Where a codec is between two calls; the worker picks its timeout from it."""

    IDLE = "idle"  # between requests, no byte of the next one received
    HEAD = "head"  # some bytes of a request head received
    BODY = "body"  # head emitted (Request), END not yet
    DONE = "done"  # after an error, after end of stream, or when no more requests may come
    SWITCHED = "switched"  # after the END of an upgrade request: bytes come out as Upgraded
