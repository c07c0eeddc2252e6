"""The PROXY protocol header (HAProxy's spec, versions 1 and 2), sans-I/O.

A load balancer that speaks it (HAProxy `send-proxy`, AWS NLB, GCP TCP proxy, nginx
`proxy_protocol on`) opens each connection with one header naming the client it relays; the HTTP
request follows. `ProxyHeaderReader.receive_data` takes the connection's first bytes, in pieces
of any size, and returns None until it has the whole header, then a `ProxyHeader` (with the bytes
after it in `rest`) or a `ProtocolError` (400: answer and close).

Rules, from the spec:
- A connection on a listener that expects the header and does not start with it is refused: a
  client that could skip the header could also claim any address in one.
- Version 1 is one text line, `PROXY TCP4|TCP6 SRC DST SPORT DPORT\\r\\n` or `PROXY UNKNOWN...`,
  at most 107 bytes.
- Version 2 is a 16-byte binary prefix (signature, version and command, family, length) and that
  many bytes of addresses and TLVs. LOCAL (a balancer's own health check) and the UNSPEC or unix
  families carry no client: the socket's peer stays.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

from usher.protocols.events import ProtocolError

V1_PREFIX: Final = b"PROXY "
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
# The spec's bound for a version 1 line, CRLF included: a longer one is not a PROXY header.
V1_MAX: Final = 107
# Version 2's length field allows 64 KiB of TLVs. Balancers send tens of bytes (AWS NLB's VPC
# endpoint id, a TLS summary); 2 KiB leaves room for those and bounds what a connection may make
# a worker hold before its request is even known.
V2_MAX_BODY: Final = 2048

_V2_HEAD: Final = struct.Struct("!12sBBH")
_V2_INET: Final = struct.Struct("!4s4sHH")
_V2_INET6: Final = struct.Struct("!16s16sHH")


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete header: the relayed client (address, port), or None to keep the socket's peer;
    `rest` is what followed the header (the start of the request)."""

    client: tuple[str, str] | None
    rest: bytes


def _refuse(reason: str) -> ProtocolError:
    return ProtocolError(400, f"bad PROXY protocol header: {reason}")


class ProxyHeaderReader:
    """Reads the one PROXY header at the start of a connection."""

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = b""

    def receive_data(self, data: bytes) -> ProxyHeader | ProtocolError | None:
        """Add the connection's next bytes; None while the header is incomplete."""
        buffer = self.buffer + data
        self.buffer = buffer
        # Which version: decided as soon as the bytes received can only be one or neither.
        known = min(len(buffer), len(V2_SIGNATURE))
        if buffer[:known] == V2_SIGNATURE[:known]:
            return _read_v2(buffer) if known == len(V2_SIGNATURE) else None
        known = min(len(buffer), len(V1_PREFIX))
        if buffer[:known] == V1_PREFIX[:known]:
            return _read_v1(buffer) if known == len(V1_PREFIX) else None
        return _refuse("the connection does not start with one (http-enable-proxy-protocol is on)")


def _read_v1(buffer: bytes) -> ProxyHeader | ProtocolError | None:
    end = buffer.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        return _refuse("version 1 line longer than 107 bytes") if len(buffer) >= V1_MAX else None
    line, rest = buffer[:end], buffer[end + 2 :]
    fields = line.split(b" ")
    if len(fields) >= 2 and fields[1] == b"UNKNOWN":
        return ProxyHeader(None, rest)
    if len(fields) != 6 or fields[1] not in (b"TCP4", b"TCP6"):
        return _refuse("version 1 needs PROXY TCP4|TCP6 SRC DST SPORT DPORT")
    try:
        source = ipaddress.ip_address(fields[2].decode("ascii"))
        ipaddress.ip_address(fields[3].decode("ascii"))
        ports = [_port(fields[4]), _port(fields[5])]
    except (ValueError, UnicodeDecodeError):
        return _refuse("version 1 addresses or ports are malformed")
    if source.version != (4 if fields[1] == b"TCP4" else 6):
        return _refuse("version 1 address family does not match its addresses")
    return ProxyHeader((str(source), str(ports[0])), rest)


def _port(text: bytes) -> int:
    # Decimal without sign or leading zeros, 0-65535, as the spec writes ports.
    if not text.isdigit() or (len(text) > 1 and text[:1] == b"0"):
        raise ValueError(text)
    number = int(text)
    if number > 65535:
        raise ValueError(text)
    return number


def _read_v2(buffer: bytes) -> ProxyHeader | ProtocolError | None:
    if len(buffer) < _V2_HEAD.size:
        return None
    _, version_command, family, length = _V2_HEAD.unpack_from(buffer)
    if version_command >> 4 != 2 or version_command & 0x0F > 1:
        return _refuse("version 2 with an unknown version or command")
    if length > V2_MAX_BODY:
        return _refuse(f"version 2 header of {length} bytes (at most {V2_MAX_BODY})")
    end = _V2_HEAD.size + length
    if len(buffer) < end:
        return None
    body, rest = buffer[_V2_HEAD.size : end], buffer[end:]
    if version_command & 0x0F == 0:  # LOCAL: the balancer's own connection
        return ProxyHeader(None, rest)
    address_family = family >> 4
    if address_family == 1:
        layout = _V2_INET
    elif address_family == 2:
        layout = _V2_INET6
    else:  # UNSPEC or unix: no client address to report
        return ProxyHeader(None, rest)
    if len(body) < layout.size:
        return _refuse("version 2 addresses are shorter than their family needs")
    source, _, source_port, _ = layout.unpack_from(body)
    return ProxyHeader((str(ipaddress.ip_address(source)), str(source_port)), rest)
