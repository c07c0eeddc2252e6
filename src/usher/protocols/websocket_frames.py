"""WebSocket frames of the common shape, read and written without wsproto's general machinery.

Nearly every frame a server sees is a whole, masked, unfragmented text or binary frame of under
64 KiB with no reserved bit set, and nearly every frame it sends is one too. wsproto parses each
through a buffer object, a header object, a masker and a generator (13 µs for a 32-byte text on
the benchmark machine, two thirds of a whole echo's cost); these functions do it in about 2 µs.
Anything else (control frames, fragments, reserved bits or opcodes, an unmasked frame, invalid
UTF-8, a bigger frame) goes to wsproto, which the codec (usher.protocols.websocket) feeds whole
frames only, so that both read the same stream in step.
"""

from __future__ import annotations

# The largest payload read or written here: its length fits the 16-bit extended length field.
SIMPLE_MAX = 0xFFFF

FIN_TEXT = 0x81
FIN_BINARY = 0x82
MASKED = 0x80


def frame_extent(data: bytes) -> tuple[int, int] | None:
    """The header's size (with the masking key) and the payload's size of the frame that `data`
    begins with, or None while its header is incomplete (RFC 6455 section 5.2)."""
    have = len(data)
    if have < 2:
        return None
    second = data[1]
    size = second & 0x7F
    head = 2
    if size == 126:
        if have < 4:
            return None
        size = int.from_bytes(data[2:4], "big")
        head = 4
    elif size == 127:
        if have < 10:
            return None
        size = int.from_bytes(data[2:10], "big")
        head = 10
    if second & MASKED:
        head += 4
    if have < head:
        return None
    return head, size


def unmask(payload: bytes, key: bytes) -> bytes:
    """`payload` XORed with the 4-byte masking `key` repeated (section 5.3), as one big integer:
    one C operation instead of a Python loop per byte."""
    size = len(payload)
    if not size:
        return b""
    keys = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")).to_bytes(
        size, "little"
    )


def encode_message(data: str | bytes) -> bytes | None:
    """A server's whole, unmasked text (`str`) or binary frame, or None past SIMPLE_MAX."""
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = FIN_TEXT
    else:
        payload = bytes(data)
        first = FIN_BINARY
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size <= SIMPLE_MAX:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return None


PING = 0x89  # FIN and the opcode of a ping: control frames are never fragmented
PONG = 0x8A
CLOSE = 0x88
CONTROL_MAX = 125  # a control frame's payload (section 5.5)


def encode_control(first: int, payload: bytes) -> bytes:
    """A server's ping, pong or close frame (`first` is its first byte)."""
    if len(payload) > CONTROL_MAX:
        raise ValueError("a control frame carries at most 125 bytes")
    return bytes((first, len(payload))) + payload


def encode_close(code: int, reason: str) -> bytes:
    """A close frame with `code` and as much of `reason` as fits, cut between characters."""
    raw = reason.encode("utf-8")[: CONTROL_MAX - 2].decode("utf-8", "ignore").encode("utf-8")
    return encode_control(CLOSE, code.to_bytes(2, "big") + raw)
