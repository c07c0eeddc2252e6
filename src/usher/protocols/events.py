"""What the codecs emit, and the limits they enforce.

A codec turns bytes into these events and nothing else: it never writes, never closes and never
logs. The worker reads the events in order and acts on them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from usher.protocols.body import RequestBody


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds a codec holds a client to.

    ``max_head`` is uWSGI's ``buffer-size``: the largest request head (HTTP request line plus
    header section, or the uwsgi protocol's block of variables) a worker will hold. ``max_body``
    is ``limit-post`` (0 = unlimited). ``spool_threshold`` is ``post-buffering``: the largest body
    kept in memory; a longer one goes to an anonymous temporary file (0 = every non-empty body
    goes to a file, so an upload never sits in memory).
    """

    max_head: int
    max_body: int
    spool_threshold: int

    def __post_init__(self) -> None:
        # An unbounded head would let one connection hold any amount of memory before the
        # request is even known; there is no "0 = unlimited" for it, unlike limit-post.
        if self.max_head < 1:
            raise ValueError(f"max_head must be at least 1 byte, got {self.max_head}")
        if self.max_body < 0 or self.spool_threshold < 0:
            raise ValueError("max_body and spool_threshold must not be negative")


@dataclass(slots=True)
class Request:
    """One complete request: head parsed, body fully received and rewound.

    ``path`` is the raw target path, still percent-encoded, without the query; ``headers`` has
    names lower-cased and values as sent, with names containing ``_`` already dropped. ``vars``
    holds the CGI variables of a uwsgi-protocol request and is ``None`` for HTTP.
    """

    method: str
    path: bytes
    query: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    body: RequestBody
    vars: dict[str, str] | None = None
    chunked: bool = False


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


Event = Request | ProtocolError | ContinueRequested


class CodecState(enum.Enum):
    """Where a codec is between two calls; the worker picks its timeout from it."""

    IDLE = "idle"  # between requests, no byte of the next one received
    HEAD = "head"  # some bytes of a request head received
    BODY = "body"  # head complete, body still arriving
    DONE = "done"  # after an error, or when the connection may carry no more requests
