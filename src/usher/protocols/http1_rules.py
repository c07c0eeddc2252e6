"""The HTTP/1.x codec's rules for a request head (usher.protocols.http1): framing, Host fields,
methods and request targets, and the head's version and field names read cheaply. Pure functions; a head they refuse raises `Refusal`, which the codec
turns into a ProtocolError.

Framing is never guessed. llhttp already refuses Content-Length together with Transfer-Encoding,
repeated Content-Length, malformed chunk sizes, obs-fold, whitespace before a colon and control
bytes in names and values; these rules also refuse any Transfer-Encoding other than exactly
``chunked``, Transfer-Encoding on HTTP/1.0, several Host fields, a missing Host on HTTP/1.1,
CONNECT, and the asterisk target except with OPTIONS. Each of these is a request-smuggling or
host-confusion shape when a proxy and a server disagree.
"""

from __future__ import annotations

from typing import Any, Final

import httptools

# The end of a request line, by the version it names. httptools gives the version only as a
# string it formats per call (some 2,000 instructions, 5% of a request).
_LINE_ENDS: Final = {b" HTTP/1.1\r\n": "1.1", b" HTTP/1.0\r\n": "1.0"}
_LF: Final = 0x0A
# Header names lower-cased once per spelling a client sends, not per request: a lookup of the
# name llhttp hands over costs less than lower() and gives a name whose hash is already known
# to the lookups after it. Clients choose names, so the cache is capped in count and length.
_LOWER: Final[dict[bytes, bytes]] = {}
_LOWER_MAX: Final = 512
_LOWER_NAME_MAX: Final = 64


def line_version(chunk: bytes) -> str | None:
    """The version of the request whose line starts `chunk`, once llhttp has accepted that line
    (its first LF ends it, and its last word is the version); None when the chunk does not end
    its first line that way (a leading empty line, say), for httptools to answer."""
    end = chunk.find(_LF)
    return _LINE_ENDS.get(chunk[end - 10 : end + 1]) if end >= 10 else None


def lowered_name(name: bytes) -> bytes:
    """A field name in lower case."""
    lowered = _LOWER.get(name)
    if lowered is None:
        lowered = name.lower()
        if len(_LOWER) < _LOWER_MAX and len(name) <= _LOWER_NAME_MAX:
            _LOWER[name] = lowered
    return lowered


class Refusal(Exception):
    """The head is refused: answer `status`, with `reason` for the log and the error body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def judge_framing(noted: list[tuple[bytes, bytes]], version: str) -> tuple[int, bool, bool, bool]:
    """Content-Length, chunked, 100-continue and Upgrade, from the fields that frame."""
    length = 0
    chunked = expect = upgrade = False
    for name, value in noted:
        if name == b"content-length":
            # llhttp let through only one field, of digits below 2**64; leading zeros are
            # dropped because int() refuses strings over 4300 digits.
            length = int(value.strip().lstrip(b"0") or b"0")
        elif name == b"transfer-encoding":
            # usher decodes no transfer coding but chunked; anything else in front of it
            # would hand the app bytes it cannot read, and a second field or an HTTP/1.0
            # sender is how smuggling attempts disagree with proxies about the framing.
            if chunked or value.strip().lower() != b"chunked" or version == "1.0":
                raise Refusal(400, "Transfer-Encoding must be exactly 'chunked' on HTTP/1.1")
            chunked = True
        elif name == b"expect":
            expect = value.strip().lower() == b"100-continue"
        else:
            upgrade = True
    return length, chunked, expect, upgrade


def check_hosts(hosts: int, version: str) -> None:
    """Refuse a head with several Host fields, or none on HTTP/1.1."""
    # Two Host fields, or none, is how a request gets routed by one hop to one virtual host
    # and by the next to another (RFC 9112 section 3.2 makes both a 400).
    if hosts > 1:
        raise Refusal(400, "more than one Host header")
    if version == "1.1":
        raise Refusal(400, "an HTTP/1.1 request must carry a Host header")


def rare_method(raw_method: bytes) -> str:
    """A method outside the common ones, as text; CONNECT is refused."""
    if raw_method == b"CONNECT":
        raise Refusal(400, "CONNECT is not supported: usher is not a forward proxy")
    return raw_method.decode("ascii")


def other_target(
    url: bytes, method: str, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes, bytes]:
    """Path and query of an absolute-form (``http://host/p?q``) or asterisk-form target."""
    if url == b"*":
        if method != "OPTIONS":
            raise Refusal(400, "the request target * is only for OPTIONS (RFC 9112 3.2.4)")
        return url, b""
    lowered = url[:8].lower()
    if not (lowered.startswith(b"http://") or lowered.startswith(b"https://")):
        raise Refusal(400, "the request target must be a path, an absolute URL or *")
    try:
        # Any, not httptools' URL stub: its fields are None when absent (a URL without a port or
        # path), which the stub does not say and which compiled code would refuse on reading.
        parsed: Any = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        raise Refusal(400, "the request target is not a valid URL") from None
    # RFC 9112 section 3.2.2: the target's authority replaces any Host field.
    host = b"[%s]" % parsed.host if b":" in parsed.host else parsed.host
    authority = host if parsed.port is None else b"%s:%d" % (host, parsed.port)
    headers[:] = [field for field in headers if field[0] != b"host"]
    headers.append((b"host", authority))
    return parsed.path or b"/", parsed.query or b""
