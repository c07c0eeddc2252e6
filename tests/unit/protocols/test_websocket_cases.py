"""The WebSocket codec alone against the Autobahn-equivalent cases (tests/support/ws_cases.py),
each replayed frame by frame and, when small, byte by byte; and the opening handshake's rules."""

from __future__ import annotations

import pytest

from tests.support.ws_cases import CASES, LIMIT, Case
from tests.support.ws_frames import CLOSE, PONG, parse_server_frames
from usher.protocols.events import Request
from usher.protocols.websocket import Closed, Received, WebSocketCodec
from usher.protocols.websocket_handshake import (
    Handshake,
    Refused,
    accept_key,
    accept_response,
    is_websocket,
    judge_handshake,
)


def replay(case: Case, chunks: list[bytes]) -> tuple[list[str | bytes], list[bytes], int | None]:
    codec = WebSocketCodec(LIMIT)
    messages: list[str | bytes] = []
    out = b""
    closes = 0
    for chunk in chunks:
        for event in codec.receive_data(chunk):
            if isinstance(event, Received):
                messages.append(event.data)
            elif isinstance(event, Closed):
                closes += 1
        out += codec.data_to_send()
        if codec.closed:
            break  # the server closes the TCP connection here: nothing more is read
    frames, rest = parse_server_frames(out)
    assert not rest and closes == 1, f"{case.id}: {closes} Closed events, {rest!r} left"
    close = [f for f in frames if f.opcode == CLOSE]
    assert len(close) == 1 and frames[-1] is close[0], f"{case.id}: one close frame, last"
    return messages, [f.payload for f in frames if f.opcode == PONG], close[0].close_code


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id} {c.what}" for c in CASES])
def test_case_frame_by_frame(case: Case) -> None:
    messages, pongs, close = replay(case, list(case.frames))
    assert (messages, pongs, close) == (list(case.messages), list(case.pongs), case.close)


SMALL = [case for case in CASES if sum(map(len, case.frames)) < 2048]


@pytest.mark.parametrize("case", SMALL, ids=[f"{c.id} {c.what}" for c in SMALL])
def test_case_byte_by_byte(case: Case) -> None:
    data = b"".join(case.frames)
    messages, pongs, close = replay(case, [data[i : i + 1] for i in range(len(data))])
    assert (messages, pongs, close) == (list(case.messages), list(case.pongs), case.close)


@pytest.mark.parametrize("size", [3, 7, 1000])
@pytest.mark.parametrize("case", CASES, ids=[f"{c.id} {c.what}" for c in CASES])
def test_case_in_pieces_across_frame_boundaries(case: Case, size: int) -> None:
    # Headers and frames split anywhere: the codec's own reading and wsproto's must stay in step.
    data = b"".join(case.frames)
    messages, pongs, close = replay(case, [data[i : i + size] for i in range(0, len(data), size)])
    assert (messages, pongs, close) == (list(case.messages), list(case.pongs), case.close)


def test_the_end_of_the_stream_without_a_close_is_1006() -> None:
    codec = WebSocketCodec(LIMIT)
    assert codec.receive_eof() == Closed(1006, "")
    assert codec.receive_eof() is None


def test_usher_closing_first_and_the_peer_answering() -> None:
    codec = WebSocketCodec(LIMIT)
    frames, _ = parse_server_frames(codec.send_close(1001, "stopping"))
    assert frames[0].close_code == 1001 and frames[0].payload[2:] == b"stopping"
    assert codec.send_close(1000) == b""  # one close frame only
    from tests.support.ws_frames import close_frame

    assert codec.receive_data(close_frame(1001)) == [Closed(1001, "")]
    assert codec.data_to_send() == b""  # the close handshake is complete: no second frame


def test_codes_that_may_not_be_sent_become_1000() -> None:
    for code in (1005, 1006, 999, 5000):
        frames, _ = parse_server_frames(WebSocketCodec(LIMIT).send_close(code))
        assert frames[0].close_code == 1000


def _upgrade(headers: list[tuple[bytes, bytes]], method: str = "GET") -> Request:
    base = [(b"host", b"t"), (b"upgrade", b"websocket"), (b"connection", b"Upgrade")]
    return Request(method, b"/", b"", "1.1", base + headers, False, upgrade=True)


KEY = (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ==")
V13 = (b"sec-websocket-version", b"13")


def test_the_rfc_example_key() -> None:
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_valid_handshake_with_subprotocols() -> None:
    request = _upgrade([KEY, V13, (b"sec-websocket-protocol", b"chat, superchat")])
    assert is_websocket(request)
    assert judge_handshake(request) == Handshake(KEY[1], ("chat", "superchat"))


@pytest.mark.parametrize(
    ("headers", "method", "status"),
    [
        ([KEY], "GET", 426),
        ([KEY, (b"sec-websocket-version", b"8")], "GET", 426),
        ([V13], "GET", 400),
        ([(b"sec-websocket-key", b"c2hvcnQ="), V13], "GET", 400),
        ([(b"sec-websocket-key", b"not base64!!"), V13], "GET", 400),
        ([KEY, V13], "POST", 400),
    ],
)
def test_invalid_handshakes_are_refused(
    headers: list[tuple[bytes, bytes]], method: str, status: int
) -> None:
    judged = judge_handshake(_upgrade(headers, method))
    assert isinstance(judged, Refused) and judged.status == status
    if status == 426:
        assert judged.headers == (("Sec-WebSocket-Version", "13"),)


def test_an_upgrade_to_another_protocol_is_not_a_websocket() -> None:
    request = Request("GET", b"/", b"", "1.1", [(b"upgrade", b"h2c")], False, upgrade=True)
    assert not is_websocket(request)


def test_the_101_response() -> None:
    handshake = Handshake(KEY[1], ("chat",))
    head = accept_response(handshake, "chat", [(b"x-a", b"1")])
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert b"\r\nSec-WebSocket-Protocol: chat\r\nx-a: 1\r\n\r\n" in head
    with pytest.raises(ValueError):
        accept_response(handshake, None, [(b"x-a", b"1\r\nSet-Cookie: evil")])
