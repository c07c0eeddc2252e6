"""Write the PROXY protocol corpus: the first bytes of connections from balancers, each a PROXY
header (or not) and the start of an HTTP request. Rerun after editing CASES; a test fails when the
.bin files are stale. Each case's expectation is in expected.json."""

import socket
import struct
from pathlib import Path

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(command: int, family: int, body: bytes) -> bytes:
    return SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(body)) + body


def inet4(src: str, dst: str, sport: int, dport: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


def inet6(src: str, dst: str, sport: int, dport: int) -> bytes:
    pton = socket.inet_pton
    return (
        pton(socket.AF_INET6, src) + pton(socket.AF_INET6, dst) + struct.pack("!HH", sport, dport)
    )


CASES = {
    "v1_tcp4": b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n" + REQUEST,
    "v1_tcp6": b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 80\r\n" + REQUEST,
    "v1_unknown": b"PROXY UNKNOWN\r\n" + REQUEST,
    "v1_unknown_with_addresses": b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\n" + REQUEST,
    "v1_header_only": b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n",
    "v2_tcp4": v2(1, 0x11, inet4("203.0.113.9", "192.0.2.1", 61000, 443)) + REQUEST,
    "v2_tcp6": v2(1, 0x21, inet6("2001:db8::9", "2001:db8::1", 1234, 80)) + REQUEST,
    "v2_tcp4_with_tlv": v2(
        1, 0x11, inet4("198.51.100.3", "192.0.2.1", 5000, 80) + b"\x05\x00\x03abc"
    )
    + REQUEST,
    "v2_local": v2(0, 0x00, b"") + REQUEST,
    "v2_unix": v2(1, 0x31, b"\x00" * 216) + REQUEST,
    "no_header": REQUEST,
    "v1_missing_field": b"PROXY TCP4 203.0.113.7 192.0.2.1 56324\r\n" + REQUEST,
    "v1_bad_address": b"PROXY TCP4 203.0.113.700 192.0.2.1 56324 443\r\n" + REQUEST,
    "v1_family_mismatch": b"PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n" + REQUEST,
    "v1_bad_port": b"PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n" + REQUEST,
    "v1_leading_zero_port": b"PROXY TCP4 203.0.113.7 192.0.2.1 080 443\r\n" + REQUEST,
    "v1_too_long": b"PROXY TCP4 " + b"1" * 120 + b"\r\n" + REQUEST,
    "v1_bare_lf": b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\n" + REQUEST,
    "v2_bad_version": SIGNATURE + b"\x11\x11\x00\x0c" + inet4("1.2.3.4", "5.6.7.8", 1, 2) + REQUEST,
    "v2_bad_command": SIGNATURE + b"\x22\x11\x00\x0c" + inet4("1.2.3.4", "5.6.7.8", 1, 2) + REQUEST,
    "v2_oversized": SIGNATURE + b"\x21\x11\xff\xff" + b"\x00" * 64,
    "v2_short_addresses": v2(1, 0x11, b"\x01\x02\x03\x04") + REQUEST,
    "v2_truncated": v2(1, 0x11, inet4("203.0.113.9", "192.0.2.1", 61000, 443))[:20],
}

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for name, data in CASES.items():
        (here / f"{name}.bin").write_bytes(data)
