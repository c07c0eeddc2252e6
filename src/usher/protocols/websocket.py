"""The WebSocket codec (RFC 6455), sans-I/O over wsproto: frames in and whole messages out,
messages and control frames encoded. The opening handshake before it is
usher.protocols.websocket_handshake.

Rules this codec holds to:

- Frames are parsed by wsproto's frame layer (masking, opcodes, reserved bits, control frame
  sizes, UTF-8 validity of text, close payloads), except whole frames of the common shape, which
  usher.protocols.websocket_frames reads in a sixth of the time; every failure becomes a
  `Closed` with the close code RFC 6455 section 7.4.1 gives it, and the close frame to send is
  queued.
- Messages come out whole: fragments are gathered here, counted against `max_message`
  (`websockets-max-size`), and a message that grows past it is a 1009 close before its next byte
  is kept. wsproto hands payloads over as they arrive, so a huge frame never sits in memory whole.
- Pings are answered with pongs at once; pongs are reported (`PongReceived`) for the keepalive.
- No extension is negotiated: permessage-deflate would let a small frame inflate past any message
  bound before it could be counted (a compression bomb), and uWSGI does not offer it either.
- Bytes the peer must receive (pongs, the close reply) wait in `data_to_send()` after each
  `receive_data`; the owner writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsproto.frame_protocol import Frame, FrameProtocol, Opcode, ParseFailed

from usher.protocols.websocket_frames import (
    CONTROL_MAX,
    FIN_BINARY,
    FIN_TEXT,
    MASKED,
    SIMPLE_MAX,
    encode_close,
    encode_control,
    encode_message,
    frame_extent,
    unmask,
)
from usher.protocols.websocket_frames import PING as PING_FRAME
from usher.protocols.websocket_frames import PONG as PONG_FRAME

NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
NO_STATUS = 1005
ABNORMAL = 1006
TOO_BIG = 1009
INTERNAL_ERROR = 1011


@dataclass(frozen=True, slots=True)
class Received:
    """A whole message: `str` for a text message, `bytes` for a binary one."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is closing: the peer sent a close frame (its code, or 1005 without one),
    or its input failed (the code usher sent back). Nothing comes after it."""

    code: int
    reason: str


class PongReceived:
    """A pong came: the peer is alive. Use the one instance, `PONG`."""

    __slots__ = ()


PONG = PongReceived()


def _texts(parts: list[str | bytes]) -> list[str]:
    return [part for part in parts if isinstance(part, str)]


def _blobs(parts: list[str | bytes]) -> list[bytes]:
    return [part for part in parts if isinstance(part, bytes)]


WebSocketEvent = Received | Closed | PongReceived


# The codec's states: messages both ways; usher's close frame sent, the peer's awaited; done.
_OPEN, _CLOSING, _CLOSED = 0, 1, 2


class WebSocketCodec:
    """One accepted WebSocket connection, server side: bytes in, events out; events in, bytes
    out.

    Built on wsproto's frame layer (`FrameProtocol`) rather than its `Connection`, whose event
    queue and objects would cost every idle WebSocket another kilobyte: the few states of the
    closing handshake are kept here instead.
    """

    __slots__ = (
        "_head",
        "_in_message",
        "_out",
        "_parts",
        "_proto",
        "_rest",
        "_size",
        "_state",
        "_text",
        "closed",
        "max_message",
    )

    def __init__(self, max_message: int) -> None:
        # wsproto's reader, made for the first frame the fast path leaves to it (a fragment, a
        # close, bad input): most WebSockets never need one, and it is 800 bytes each.
        self._proto: FrameProtocol | None = None
        self._state = _OPEN
        self.max_message = max_message  # bytes; 0 = unbounded
        self._parts: list[str | bytes] = []
        self._size = 0
        self._text = False
        self._out = b""
        self._head = b""  # the start of a frame whose header has not all arrived
        self._rest = 0  # bytes of the frame wsproto is reading that are still to come
        self._in_message = False  # wsproto holds part of a fragmented message
        self.closed = False  # a Closed came out: nothing more will

    @property
    def closing_sent(self) -> bool:
        """usher's close frame is out (it closed first, or it answered the peer's)."""
        return self._state != _OPEN

    @property
    def open(self) -> bool:
        """Messages may still be sent."""
        return self._state == _OPEN

    def receive_data(self, data: bytes) -> list[WebSocketEvent]:
        """Feed bytes from the peer; the events they complete, in order.

        Frames of the common shape are read here (usher.protocols.websocket_frames); every
        other frame goes to wsproto whole or, when it has not all arrived, from its first byte
        on, with `_rest` counting what wsproto still has to get of it. A header that has not
        all arrived waits in `_head`, so wsproto never holds part of a frame that was read here.
        """
        if self.closed:
            return []
        events: list[WebSocketEvent] = []
        if self._head:
            data = self._head + data
            self._head = b""
        while data:
            rest = self._rest
            if rest:
                piece = data[:rest]
                data = data[rest:]
                self._rest = rest - len(piece)
                self._feed(piece, events)
            else:
                extent = frame_extent(data)
                if extent is None:
                    self._head = data  # at most 14 bytes: a header still coming
                    break
                head, size = extent
                total = head + size
                if len(data) >= total and not self._fast(data, head, total, events):
                    piece = data[:total]
                    data = data[total:]
                    self._feed(piece, events)
                elif len(data) < total:
                    self._rest = total - len(data)
                    self._feed(data, events)
                    break
                else:
                    data = data[total:]
            if self.closed:
                break
        return events

    def _fast(self, data: bytes, head: int, total: int, events: list[WebSocketEvent]) -> bool:
        """Read a whole frame of the common shape (see usher.protocols.websocket_frames);
        False for any other, which wsproto then reads."""
        first = data[0]
        if not data[1] & MASKED:
            return False
        if first in (PONG_FRAME, PING_FRAME):
            # Control frames may come between a message's fragments: read them here either way.
            if total - head > CONTROL_MAX:
                return False
            if first == PONG_FRAME:
                events.append(PONG)
            elif self._state == _OPEN:
                self._out += encode_control(
                    PONG_FRAME, unmask(data[head:total], data[head - 4 : head])
                )
            return True
        if (
            (first != FIN_TEXT and first != FIN_BINARY)
            or total - head > SIMPLE_MAX
            or self._in_message
        ):
            return False
        payload = unmask(data[head:total], data[head - 4 : head])
        limit = self.max_message
        if limit and len(payload) > limit:
            events.append(self._fail(TOO_BIG, f"message over {limit} bytes"))
            return True
        if first == FIN_BINARY:
            events.append(Received(payload))
            return True
        try:
            events.append(Received(payload.decode("utf-8")))
        except UnicodeDecodeError:
            return False  # wsproto fails it with 1007 and says where
        return True

    def _feed(self, data: bytes, events: list[WebSocketEvent]) -> None:
        proto = self._proto
        if proto is None:
            proto = self._proto = FrameProtocol(client=False, extensions=[])
        proto.receive_bytes(data)
        try:
            for frame in proto.received_frames():
                opcode = frame.opcode
                if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                    message = self._gather(frame)
                    if message is not None:
                        events.append(message)
                        if type(message) is Closed:
                            return
                elif opcode is Opcode.PING:
                    ping = frame.payload
                    if self._state == _OPEN and not isinstance(ping, (str, tuple)):
                        self._out += encode_control(PONG_FRAME, bytes(ping))
                elif opcode is Opcode.PONG:
                    events.append(PONG)
                elif opcode is Opcode.CLOSE:
                    payload = frame.payload
                    assert isinstance(payload, tuple)  # wsproto decodes a close's (code, reason)
                    events.append(self._close_received(int(payload[0]), str(payload[1])))
                    return
        except ParseFailed as failed:
            # Bad input: wsproto says which close code answers it (section 7.4.1).
            events.append(self._fail(int(failed.code), str(failed)))

    def receive_eof(self) -> Closed | None:
        """The peer's stream ended: a Closed with 1006 unless the close was seen already."""
        if self.closed:
            return None
        self.closed = True
        self._state = _CLOSED
        return Closed(ABNORMAL, "")

    def _gather(self, frame: Frame) -> Received | Closed | None:
        raw = frame.payload
        assert not isinstance(raw, tuple)  # only a close's payload is decoded to a tuple
        data: str | bytes = raw if isinstance(raw, str) else bytes(raw)
        if not self._parts:
            self._text = frame.opcode is Opcode.TEXT
        limit = self.max_message
        size = self._size + len(data)
        if type(data) is str and limit and not data.isascii():
            size = self._size + len(data.encode("utf-8"))  # the bound is in bytes, as sent
        if limit and size > limit:
            self._parts.clear()
            return self._fail(TOO_BIG, f"message over {limit} bytes")
        self._in_message = not frame.message_finished
        if not frame.message_finished:
            self._size = size
            if data:
                self._parts.append(data)
            return None
        parts, self._parts, self._size = self._parts, [], 0
        if not parts:
            return Received(data)
        parts.append(data)
        if self._text:
            return Received("".join(_texts(parts)))
        return Received(b"".join(_blobs(parts)))

    def _close_received(self, code: int, reason: str) -> Closed:
        self.closed = True
        if self._state == _OPEN:
            # The peer closed first: echo its code (section 5.5.1), or 1000 for a bare close.
            self._out += encode_close(NORMAL if code == NO_STATUS else code, "")
        self._state = _CLOSED
        return Closed(code, reason)

    def _fail(self, code: int, reason: str) -> Closed:
        self.closed = True
        if self._state == _OPEN:
            self._out += encode_close(code, reason)
        self._state = _CLOSED
        return Closed(code, reason)

    def data_to_send(self) -> bytes:
        """What receive_data queued for the peer (pongs, the close reply)."""
        out, self._out = self._out, b""
        return out

    def send_message(self, data: str | bytes) -> bytes:
        """A whole text (`str`) or binary (`bytes`) message."""
        if self._state != _OPEN:
            raise ValueError("the WebSocket is closing")
        encoded = encode_message(data)
        if encoded is None:
            encoded = bytes(FrameProtocol(client=False, extensions=[]).send_data(data, True))
        return encoded

    def send_ping(self, payload: bytes = b"") -> bytes:
        return encode_control(PING_FRAME, payload)

    def send_close(self, code: int = NORMAL, reason: str = "") -> bytes:
        """usher's close frame, unless one went out already (then nothing)."""
        if self._state != _OPEN:
            return b""
        if code in (NO_STATUS, ABNORMAL) or not (1000 <= code <= 4999):
            # 1005 and 1006 may never be sent (section 7.4.1); an app's out-of-range code
            # becomes a plain close.
            code = NORMAL
        self._state = _CLOSING
        return encode_close(code, reason)


__all__ = [
    "ABNORMAL",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "NORMAL",
    "PONG",
    "PROTOCOL_ERROR",
    "TOO_BIG",
    "Closed",
    "PongReceived",
    "Received",
    "WebSocketCodec",
    "WebSocketEvent",
]
