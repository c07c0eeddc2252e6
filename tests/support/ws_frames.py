"""WebSocket frames as a client writes them (masked, any bits set) and as a server's are read,
for tests that must send what no well-behaved client library would."""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0

_MASK = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """One frame from a client: masked unless told otherwise, `rsv` in 0..7 (RSV1 is 4)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return head + payload
    mask = (_MASK * (size // 4 + 1))[:size]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(size, "big")
    return head + _MASK + body


def close_frame(code: int | None = 1000, reason: bytes = b"") -> bytes:
    return frame(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


@dataclass(frozen=True)
class ServerFrame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None


def parse_server_frames(data: bytes) -> tuple[list[ServerFrame], bytes]:
    """The whole (unmasked) frames at the start of `data`, and what is left."""
    frames = []
    while len(data) >= 2:
        first, second = data[0], data[1]
        assert not second & 0x80, "a server must not mask its frames"
        size, at = second & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                break
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                break
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < at + size:
            break
        frames.append(ServerFrame(bool(first & 0x80), first & 0x0F, data[at : at + size]))
        data = data[at + size :]
    return frames, data


def handshake_request(path: str, host: str = "127.0.0.1", extra: str = "") -> tuple[bytes, str]:
    """An opening handshake and its key."""
    key = base64.b64encode(os.urandom(16)).decode()
    text = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    return text.encode(), key


def open_raw(address: tuple[str, int], path: str = "/echo", timeout: float = 10.0) -> socket.socket:
    """A connected, upgraded socket: the 101 read, nothing past it."""
    sock = socket.create_connection(address, timeout=timeout)
    request, _ = handshake_request(path)
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"closed during the handshake: {head!r}")
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


def read_until_closed(sock: socket.socket) -> list[ServerFrame]:
    """Every frame the server sends until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    frames, rest = parse_server_frames(data)
    assert not rest, f"a partial frame before the close: {rest[:20]!r}"
    return frames
