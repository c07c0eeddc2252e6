"""Response bytes: the status line and header section, chunk framing, canned answers.

Pure functions shared by both listeners (a uwsgi-protocol request is answered in plain HTTP too).

Connection rule: the status line is always ``HTTP/1.1`` (a server answers with the highest
minor version it speaks, and HTTP/1.0 clients accept it). A connection that will close says
``Connection: close``; an HTTP/1.0 connection that stays open says ``Connection: keep-alive``,
because 1.0 closes by default. Whether it stays open is the caller's decision: keep an HTTP/1.0
connection alive only when the client asked for it (``Request.keep_alive`` already says so) and
the response length is known, since chunked framing does not exist in HTTP/1.0.
"""

from __future__ import annotations

import time
from typing import Final

CONTINUE_100: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK: Final = b"0\r\n\r\n"

# The statuses usher answers by itself. A table rather than http.HTTPStatus: that enum costs every
# worker over half a MiB of memory for a few strings.
_ERROR_PHRASES: Final = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}

_DAYS: Final = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS: Final = (
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun",
    b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
)  # fmt: skip


def encode_head(
    status: str,
    headers: list[tuple[str, str]],
    *,
    http_version: str,
    keep_alive: bool,
    chunked: bool,
    date: bytes,
    server: bytes,
) -> bytes:
    """The status line and header section, ending with the blank line, as one bytes object.

    ``status`` is WSGI's ``"200 OK"``; ``headers`` are the app's, as latin-1 strings, written in
    order. ``Date`` and ``Server`` are added unless the app set them, then
    ``Transfer-Encoding: chunked`` and the ``Connection`` field the module docstring describes.
    A CR or LF in the status or any header raises ValueError (response splitting).
    """
    template = head_template(
        status,
        headers,
        http_version=http_version,
        keep_alive=keep_alive,
        chunked=chunked,
        server=server,
    )
    return template.render(date)


class HeadTemplate:
    """A response head with a place for the Date header, which changes once a second.

    ``render(date)`` gives the same bytes as ``encode_head`` with that date; the worker keeps
    templates of recurring heads so that a repeated response costs one concatenation.
    """

    __slots__ = ("after", "before")

    def __init__(self, before: bytes, after: bytes | None) -> None:
        self.before = before
        self.after = after  # None: the app set its own Date, nothing goes between

    def render(self, date: bytes) -> bytes:
        after = self.after
        if after is None:
            return self.before
        return self.before + date + after


def head_template(
    status: str,
    headers: list[tuple[str, str]],
    *,
    http_version: str,
    keep_alive: bool,
    chunked: bool,
    server: bytes | None,
) -> HeadTemplate:
    """``encode_head`` without the date: the same rules, the same errors. With `server` None
    the head is for a front server (the uwsgi protocol): the status and the given headers only,
    since the front server adds Date and Server and the connection's end ends the body."""
    lines = ["HTTP/1.1 ", status]
    for name, value in headers:
        lines += ("\r\n", name, ": ", value)
    text = "".join(lines)
    # The loop put exactly one CR LF before each header; any other CR or LF came from the app.
    separators = len(headers)
    if text.count("\n") != separators or text.count("\r") != separators:
        raise ValueError(f"CR or LF in a response status or header: {_first_bad(status, headers)}")
    if server is None:
        return HeadTemplate(text.encode("latin-1") + b"\r\n\r\n", None)
    lowered = text.lower()
    before = text.encode("latin-1")
    dated = "\r\ndate:" not in lowered
    if dated:
        before += b"\r\nDate: "
    parts: list[bytes] = []
    if "\r\nserver:" not in lowered:
        parts += (b"\r\nServer: ", server)
    if chunked:
        if http_version == "1.0":
            raise ValueError("chunked framing does not exist in HTTP/1.0: close instead")
        parts.append(b"\r\nTransfer-Encoding: chunked")
    if not keep_alive:
        parts.append(b"\r\nConnection: close")
    elif http_version == "1.0":
        parts.append(b"\r\nConnection: keep-alive")
    parts.append(b"\r\n\r\n")
    after = b"".join(parts)
    if dated:
        return HeadTemplate(before, after)
    return HeadTemplate(before + after, None)


def _first_bad(status: str, headers: list[tuple[str, str]]) -> str:
    for line in (status, *(f"{name}: {value}" for name, value in headers)):
        if "\r" in line or "\n" in line:
            return repr(line)
    return "?"


def encode_chunk(data: bytes) -> bytes:
    """``data`` framed as one chunk; empty data gives ``b""`` (an empty chunk would end the body)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_response(status: int, reason: str, *, date: bytes, server: bytes) -> bytes:
    """A complete short text/plain response that closes the connection."""
    phrase = _ERROR_PHRASES.get(status, "Error")
    body = f"{status} {phrase}\n\n{reason}\n".encode(errors="replace")
    head = encode_head(
        f"{status} {phrase}",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        http_version="1.1",
        keep_alive=False,
        chunked=False,
        date=date,
        server=server,
    )
    return head + body


def format_date(ts: float) -> bytes:
    """``ts`` (seconds since the epoch) as an IMF-fixdate: ``b"Sun, 06 Nov 1994 08:49:37 GMT"``.

    Written out rather than through ``strftime``, whose day and month names follow the locale.
    """
    t = time.gmtime(ts)
    return b"%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAYS[t.tm_wday],
        t.tm_mday,
        _MONTHS[t.tm_mon - 1],
        t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
    )
