"""The WebSocket opening handshake (RFC 6455 section 4), judged from a request the HTTP codec
already parsed: a second HTTP parser would read the same head twice.

A request that is not a valid opening handshake gets a `Refused` with its status: 400 for a
missing or malformed key or a method other than GET, 426 with the version served for a version
other than 13 (section 4.4). `accept_response` is the 101 that completes a valid one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from usher.protocols.events import Request

# RFC 6455 section 1.3: the GUID every server appends to the client's key.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True, slots=True)
class Handshake:
    """A valid opening handshake: the client's key and the subprotocols it offers, in order."""

    key: bytes
    subprotocols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """Not a valid opening handshake: answer `status` (with `headers`) and close."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def is_websocket(request: Request) -> bool:
    """An upgrade request that asks for the websocket protocol (RFC 6455 section 4.2.1)."""
    if not request.upgrade:
        return False
    for name, value in request.headers:
        if name == b"upgrade" and b"websocket" in _tokens(value):
            return True
    return False


def judge_handshake(request: Request) -> Handshake | Refused:
    """Check a websocket upgrade request's method and fields (RFC 6455 section 4.2.1)."""
    if request.method != "GET":
        return Refused(400, "a WebSocket opening handshake must be a GET")
    key = b""
    version = b""
    offered: list[str] = []
    for name, value in request.headers:
        if name == b"sec-websocket-key":
            key = value.strip()
        elif name == b"sec-websocket-version":
            version = value.strip()
        elif name == b"sec-websocket-protocol":
            offered.extend(token.decode("latin-1") for token in _tokens(value, lower=False))
    if version != b"13":
        # Section 4.4: say which version is served, so the client can retry with it.
        return Refused(426, "unsupported Sec-WebSocket-Version", (("Sec-WebSocket-Version", "13"),))
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        return Refused(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return Handshake(key, tuple(offered))


def _tokens(value: bytes, *, lower: bool = True) -> list[bytes]:
    items = (token.strip() for token in value.split(b","))
    return [token.lower() if lower else token for token in items if token]


def accept_key(key: bytes) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest()).decode("ascii")


def accept_response(
    handshake: Handshake, subprotocol: str | None, headers: list[tuple[bytes, bytes]]
) -> bytes:
    """The 101 response that completes the handshake, with the app's extra header fields."""
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + accept_key(handshake.key).encode("ascii"),
    ]
    if subprotocol is not None:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode("latin-1"))
    for name, value in headers:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value:
            # A field with a line break would let the app (or what it echoes) inject a header.
            raise ValueError(f"line break in a response header field: {name!r}")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"
