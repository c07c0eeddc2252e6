"""What the front passes on, both ways: pure functions over header lists.

Toward the upstream (RFC 9110 section 7.6.1, and nginx's proxy module for the rest):

- hop-by-hop fields belong to one connection and are dropped: Connection, Keep-Alive,
  Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization, and every field
  a Connection header names (a client naming X-Forwarded-For there must not make the front drop
  its own);
- X-Forwarded-For: the client's list with the peer's address appended (nginx's
  `$proxy_add_x_forwarded_for`);
- X-Real-IP and X-Forwarded-Proto are the front's own: a client's are dropped, unless the peer
  is a trusted proxy (`set_real_ip_from`), whose X-Forwarded-Proto is kept and whose
  X-Forwarded-For gives the real client (the rightmost address that is not a trusted proxy);
- the body is sent buffered with its Content-Length, whatever framing the client used.

Toward the client: the upstream's hop-by-hop fields, Date and Server are dropped (the front's
responder writes its own, as nginx hides them), and its Content-Length becomes the response's
declared length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from usher.front.model import RealIp

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
# The front's own fields, never taken from an untrusted client.
OWN: Final = frozenset({b"x-real-ip", b"x-forwarded-proto", b"x-forwarded-for", b"content-length"})
# Dropped from responses: the responder frames the body and writes its own Date and Server.
RESPONSE_DROPPED: Final = HOP_BY_HOP | {b"date", b"server", b"content-length"}
REQUEST_DROPPED: Final = HOP_BY_HOP | OWN


def connection_named(headers: Sequence[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The field names a Connection header lists (besides the options close/keep-alive)."""
    named: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return frozenset(named)


def real_client(peer: str, forwarded_for: bytes, real_ip: RealIp) -> str:
    """The client's address: the peer's, or past trusted proxies the rightmost address in
    X-Forwarded-For that is not one of them (ngx_http_realip's recursive form)."""
    if not real_ip.trusts(peer) or not forwarded_for:
        return peer
    client = peer
    for item in reversed(forwarded_for.split(b",")):
        address = item.strip().decode("latin-1")
        if not address:
            continue
        client = address
        if not real_ip.trusts(address):
            break
    return client


def upstream_headers(
    headers: Sequence[tuple[bytes, bytes]],
    *,
    peer: str,
    scheme: str,
    real_ip: RealIp,
    upgrade: bytes = b"",
) -> tuple[Headers, str]:
    """The request's headers for the upstream (without Content-Length), and the real client
    address. `upgrade` is the protocol a tunnel asks for (b"websocket"), or b"" for none."""
    trusted = real_ip.trusts(peer)
    forwarded: list[bytes] = []
    proto = b""
    real_header = real_ip.real_ip_header.encode("latin-1")
    real_value = b""
    out: Headers = []
    connection = False
    for name, value in headers:
        if name == b"x-forwarded-for":
            forwarded.append(value)
        elif name == b"x-forwarded-proto" and trusted and not proto:
            proto = value
        if name == real_header and not real_value:
            real_value = value
        if name not in REQUEST_DROPPED:
            out.append((name, value))
        elif name == b"connection":
            connection = True
    if connection:  # rare: the fields it names are dropped too (one pass for the others)
        named = connection_named(headers)
        out = [(name, value) for name, value in out if name not in named]
    chain = b", ".join(forwarded)
    client = real_client(peer, chain if real_header == b"x-forwarded-for" else real_value, real_ip)
    address = peer.encode("latin-1")
    out.append((b"x-forwarded-for", chain + b", " + address if chain else address))
    out.append((b"x-real-ip", client.encode("latin-1")))
    out.append((b"x-forwarded-proto", proto or scheme.encode("latin-1")))
    if upgrade:
        out.append((b"connection", b"upgrade"))
        out.append((b"upgrade", upgrade))
    return out, client


def response_headers(
    headers: Sequence[tuple[bytes, bytes]], *, switching: bool = False
) -> list[tuple[str, str]]:
    """The upstream response's headers for the client, as the responder takes them."""
    out = []
    connection = False
    for name, value in headers:
        if name in RESPONSE_DROPPED:
            if name == b"connection":
                connection = True
            if not (switching and name in (b"upgrade", b"connection")):
                continue
        out.append((name.decode("latin-1"), value.decode("latin-1")))
    if connection:  # rare: the fields it names are dropped too
        named = connection_named(headers)
        keep = (b"upgrade", b"connection") if switching else ()
        out = [
            (name, value)
            for name, value in out
            if name.encode("latin-1") not in named or name.encode("latin-1") in keep
        ]
    return out
