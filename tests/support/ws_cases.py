"""WebSocket conformance cases as data, in the sections of the Autobahn test suite's fuzzing
client (which cannot be installed here): what a client sends, and what an echoing server must
answer. Each case names the Autobahn case (or range) it stands for.

A case is replayed against the codec alone (tests/unit/protocols/test_websocket_cases.py, whole
and byte by byte) and against a real usher serving an echo app (tests/integration/
test_websocket_cases.py). `messages` are the echoed messages in order, `pongs` the pong payloads
in order, `close` the code of the server's close frame. Autobahn's section 9 (big messages and
throughput) becomes usher's message bound (`LIMIT`, the server's websockets-max-size), 10
(auto-fragmentation) needs nothing of a server that gathers messages whole, and 12-13
(permessage-deflate) do not apply: usher does not negotiate it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.ws_frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    close_frame,
    frame,
)

LIMIT_KB = 128  # the servers and codecs under test run with websockets-max-size 128
LIMIT = LIMIT_KB * 1024

NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009


@dataclass(frozen=True)
class Case:
    id: str  # Autobahn's case number(s), or "usher-..." for usher's own
    what: str
    frames: tuple[bytes, ...]
    messages: tuple[str | bytes, ...] = ()
    pongs: tuple[bytes, ...] = ()
    close: int = NORMAL


BYE = close_frame(NORMAL)


def _text(text: str, *, fin: bool = True, rsv: int = 0) -> bytes:
    return frame(TEXT, text.encode(), fin=fin, rsv=rsv)


def _echo(payload: str | bytes, autobahn: str, what: str) -> Case:
    kind = TEXT if isinstance(payload, str) else BINARY
    raw = payload.encode() if isinstance(payload, str) else payload
    return Case(autobahn, what, (frame(kind, raw), BYE), (payload,))


def _per_byte(raw: bytes) -> tuple[bytes, ...]:
    """A text message sent one byte per frame (characters split across frames)."""
    if len(raw) < 2:
        return (frame(TEXT, raw),)
    pieces = [frame(TEXT, raw[:1], fin=False)]
    pieces += [frame(CONTINUATION, raw[i : i + 1], fin=False) for i in range(1, len(raw) - 1)]
    pieces.append(frame(CONTINUATION, raw[-1:]))
    return tuple(pieces)


FRAMING = [
    *(
        _echo("*" * size, f"1.1.{n}", f"text of {size} bytes (7-bit, 16-bit, 64-bit lengths)")
        for n, size in enumerate((0, 125, 126, 127, 128, 65535, 65536), start=1)
    ),
    *(
        _echo(b"\xfe" * size, f"1.2.{n}", f"binary of {size} bytes")
        for n, size in enumerate((0, 125, 126, 127, 128, 65535, 65536), start=1)
    ),
]

PINGS = [
    Case("2.1", "ping without payload", (frame(PING), BYE), pongs=(b"",)),
    Case(
        "2.2",
        "ping with text payload",
        (frame(PING, b"Hello, world!"), BYE),
        pongs=(b"Hello, world!",),
    ),
    Case(
        "2.3",
        "ping with binary payload",
        (frame(PING, bytes(range(8))), BYE),
        pongs=(bytes(range(8)),),
    ),
    Case("2.4", "ping with 125 bytes", (frame(PING, b"\xfe" * 125), BYE), pongs=(b"\xfe" * 125,)),
    Case(
        "2.5",
        "ping with 126 bytes: control frames are at most 125",
        (frame(PING, b"\xfe" * 126),),
        close=PROTOCOL_ERROR,
    ),
    Case("2.7", "unsolicited pong is ignored", (frame(PONG), BYE)),
    Case("2.8", "unsolicited pong with payload is ignored", (frame(PONG, b"unsolicited"), BYE)),
    Case(
        "2.9",
        "unsolicited pong, then ping",
        (frame(PONG, b"x"), frame(PING, b"y"), BYE),
        pongs=(b"y",),
    ),
    Case(
        "2.10",
        "ten pings, ten pongs in order",
        (*(frame(PING, b"%d" % i) for i in range(10)), BYE),
        pongs=tuple(b"%d" % i for i in range(10)),
    ),
]

RESERVED_BITS = [
    Case(
        "3.1",
        "text with RSV1 (no extension negotiated)",
        (_text("x", rsv=4),),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "3.2",
        "valid text, then text with RSV2",
        (_text("ok"), _text("x", rsv=2)),
        ("ok",),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "3.3",
        "valid text, text with RSV3, valid text",
        (_text("ok"), _text("x", rsv=1), _text("never")),
        ("ok",),
        close=PROTOCOL_ERROR,
    ),
    Case("3.5", "binary with RSV1|RSV3", (frame(BINARY, b"\x00", rsv=5),), close=PROTOCOL_ERROR),
    Case("3.6", "ping with RSV1|RSV2", (frame(PING, b"p", rsv=6),), close=PROTOCOL_ERROR),
    Case(
        "3.7", "close with all RSV bits", (frame(CLOSE, b"\x03\xe8", rsv=7),), close=PROTOCOL_ERROR
    ),
]

OPCODES = [
    *(
        Case(
            f"4.1.{n}",
            f"reserved data opcode {op}",
            (_text("ok"), frame(op, b"x")),
            ("ok",),
            close=PROTOCOL_ERROR,
        )
        for n, op in enumerate((3, 4, 5, 6, 7), start=1)
    ),
    *(
        Case(
            f"4.2.{n}",
            f"reserved control opcode {op:#x}",
            (_text("ok"), frame(op, b"x")),
            ("ok",),
            close=PROTOCOL_ERROR,
        )
        for n, op in enumerate((0xB, 0xC, 0xD, 0xE, 0xF), start=1)
    ),
]

FRAGMENTS = [
    Case(
        "5.1",
        "fragmented ping",
        (frame(PING, b"a", fin=False), frame(CONTINUATION, b"b")),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.2",
        "fragmented pong",
        (frame(PONG, b"a", fin=False), frame(CONTINUATION, b"b")),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.3-5.5",
        "text in two fragments",
        (_text("frag", fin=False), frame(CONTINUATION, b"ment"), BYE),
        ("fragment",),
    ),
    Case(
        "5.6-5.8",
        "ping between the fragments of a text",
        (_text("frag", fin=False), frame(PING, b"p"), frame(CONTINUATION, b"ment"), BYE),
        ("fragment",),
        (b"p",),
    ),
    Case(
        "5.9-5.11",
        "final continuation with nothing to continue",
        (frame(CONTINUATION, b"x"), _text("never")),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.12-5.14",
        "non-final continuation with nothing to continue",
        (frame(CONTINUATION, b"x", fin=False),),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.15",
        "a new text message inside a fragmented one",
        (
            _text("a", fin=False),
            frame(CONTINUATION, b"b", fin=False),
            _text("c", fin=False),
            frame(CONTINUATION, b"d"),
        ),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.16-5.18",
        "a complete text inside a fragmented binary",
        (frame(BINARY, b"a", fin=False), _text("b")),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "5.19-5.20",
        "five fragments with pings between",
        (
            _text("f1", fin=False),
            frame(CONTINUATION, b"f2", fin=False),
            frame(PING, b"1"),
            frame(CONTINUATION, b"f3", fin=False),
            frame(CONTINUATION, b"f4", fin=False),
            frame(PING, b"2"),
            frame(CONTINUATION, b"f5"),
            BYE,
        ),
        ("f1f2f3f4f5",),
        (b"1", b"2"),
    ),
]

_VALID_UTF8 = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
_INVALID_UTF8 = [
    ("6.3.1", "a lone continuation byte", b"\x80"),
    ("6.8.1", "an overlong 2-byte '/'", b"\xc0\xaf"),
    ("6.9.1", "an overlong 3-byte NUL", b"\xe0\x80\x80"),
    ("6.10.1", "a code point past U+10FFFF", b"\xf4\x90\x80\x80"),
    ("6.11.1", "a UTF-16 surrogate", b"\xed\xa0\x80"),
    ("6.12.1", "0xFE, never valid", b"\xfe"),
    ("6.14.1", "a sequence cut short at the message's end", b"ok\xce"),
    (
        "6.20.1",
        "a valid prefix, then an invalid byte",
        "\u03ba\u1f79\u03c3\u03bc\u03b5".encode() + b"\xed\xa0\x80edited",
    ),
]

UTF8 = [
    Case("6.1.1", "empty text frame", (_text(""), BYE), ("",)),
    Case(
        "6.1.2",
        "empty fragments",
        (_text("", fin=False), frame(CONTINUATION, b"", fin=False), frame(CONTINUATION, b""), BYE),
        ("",),
    ),
    Case(
        "6.1.3",
        "empty, then non-empty fragments",
        (
            _text("", fin=False),
            frame(CONTINUATION, b"middle", fin=False),
            frame(CONTINUATION, b""),
            BYE,
        ),
        ("middle",),
    ),
    _echo(_VALID_UTF8, "6.2.1", "valid UTF-8 with 2-byte characters"),
    Case(
        "6.2.3-6.2.4",
        "valid UTF-8, one byte per fragment (characters split)",
        (*_per_byte(_VALID_UTF8.encode()), BYE),
        (_VALID_UTF8,),
    ),
    *(
        _echo(text, f"6.{n}", f"valid boundary character U+{ord(text[-1]):04X}")
        for n, text in (
            ("5.1", "\u03ba\u1f79\u03c3\u03bc\u03b5"),
            ("7.1", "\x00"),
            ("7.2", "\x7f"),
            ("7.3", "\u07ff"),
            ("7.4", "\uffff"),
            ("7.5", "\U0010ffff"),
            ("6.1", "\U0001f600"),
        )
    ),
    *(
        Case(autobahn, f"invalid UTF-8: {what}", (frame(TEXT, raw),), close=INVALID_DATA)
        for autobahn, what, raw in _INVALID_UTF8
    ),
    *(
        Case(
            f"{autobahn}f",
            f"invalid UTF-8 one byte per fragment: {what}",
            _per_byte(raw),
            close=INVALID_DATA,
        )
        for autobahn, what, raw in _INVALID_UTF8
    ),
    Case(
        "6.4.1-6.4.4",
        "fail fast: the first fragment is invalid, the message never ends",
        (frame(TEXT, b"\xce\xba\xf4\x90\x80\x80", fin=False),),
        close=INVALID_DATA,
    ),
]

CLOSES = [
    Case("7.1.1", "echo, then a normal close", (_text("Hello World!"), BYE), ("Hello World!",)),
    Case("7.1.2", "a second close is ignored", (BYE, BYE)),
    Case("7.1.3", "a ping after the close is not answered", (BYE, frame(PING, b"late"))),
    Case("7.1.4", "a text after the close is not echoed", (BYE, _text("late"))),
    Case(
        "7.1.5",
        "a close inside a fragmented message ends it",
        (_text("frag", fin=False), BYE, frame(CONTINUATION, b"ment")),
    ),
    Case(
        "7.1.6",
        "a large message, then a close",
        (frame(BINARY, b"\x00" * 65536), BYE),
        (b"\x00" * 65536,),
    ),
    Case("7.3.1", "close without payload: answered with 1000", (close_frame(None),)),
    Case("7.3.2", "close with a 1-byte payload", (frame(CLOSE, b"\x03"),), close=PROTOCOL_ERROR),
    Case("7.3.3", "close 1000 without reason", (close_frame(1000),)),
    Case("7.3.4", "close 1000 with a reason", (close_frame(1000, b"Hello World!"),)),
    Case("7.3.5", "close with the longest reason (123 bytes)", (close_frame(1000, b"*" * 123),)),
    Case(
        "7.3.6",
        "close with a 124-byte reason: the frame is over 125",
        (close_frame(1000, b"*" * 124),),
        close=PROTOCOL_ERROR,
    ),
    Case(
        "7.5.1",
        "close reason not UTF-8",
        (close_frame(1000, b"\xce\xba\xf4\x90\x80\x80"),),
        close=INVALID_DATA,
    ),
    *(
        Case(f"7.7.{n}", f"valid close code {code} is echoed", (close_frame(code),), close=code)
        for n, code in enumerate(
            (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999), start=1
        )
    ),
    *(
        Case(f"7.9.{n}", f"invalid close code {code}", (close_frame(code),), close=PROTOCOL_ERROR)
        for n, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999), start=1)
    ),
    Case("7.13.1", "close code 5000", (close_frame(5000),), close=PROTOCOL_ERROR),
    Case("7.13.2", "close code 65535", (close_frame(65535),), close=PROTOCOL_ERROR),
]

LIMITS = [
    Case(
        "usher-limit-1",
        "a binary message of exactly websockets-max-size",
        (frame(BINARY, b"\x01" * LIMIT), BYE),
        (b"\x01" * LIMIT,),
    ),
    Case(
        "usher-limit-2",
        "a binary message one byte over websockets-max-size",
        (frame(BINARY, b"\x01" * (LIMIT + 1)),),
        close=TOO_BIG,
    ),
    Case(
        "usher-limit-3",
        "fragments that grow past websockets-max-size",
        (
            frame(BINARY, b"\x01" * (LIMIT // 2), fin=False),
            frame(CONTINUATION, b"\x01" * (LIMIT // 2), fin=False),
            frame(CONTINUATION, b"\x01"),
        ),
        close=TOO_BIG,
    ),
    Case(
        "usher-limit-4",
        "a text of multi-byte characters counted in bytes",
        (frame(TEXT, "\u00e9".encode() * (LIMIT // 2 + 1)),),
        close=TOO_BIG,
    ),
    Case(
        "usher-mask",
        "an unmasked client frame (RFC 6455 5.1)",
        (frame(TEXT, b"x", masked=False),),
        close=PROTOCOL_ERROR,
    ),
]

CASES: list[Case] = [
    *FRAMING,
    *PINGS,
    *RESERVED_BITS,
    *OPCODES,
    *FRAGMENTS,
    *UTF8,
    *CLOSES,
    *LIMITS,
]
