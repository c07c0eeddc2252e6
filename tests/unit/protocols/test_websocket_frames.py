"""The common-shape frame helpers beside wsproto: extents, unmasking, encoding."""

from __future__ import annotations

import os

import pytest
from wsproto.frame_protocol import FrameProtocol

from tests.support.ws_frames import BINARY, TEXT, frame, parse_server_frames
from usher.protocols.websocket_frames import SIMPLE_MAX, encode_message, frame_extent, unmask


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536])
def test_extent_and_unmask_read_what_a_client_wrote(size: int) -> None:
    payload = os.urandom(size)
    data = frame(BINARY, payload)
    extent = frame_extent(data)
    assert extent is not None
    head, length = extent
    assert (length, head + length) == (size, len(data))
    assert unmask(data[head:], data[head - 4 : head]) == payload
    for cut in range(head):
        assert frame_extent(data[:cut]) is None  # a header not all there yet


@pytest.mark.parametrize("size", [0, 125, 126, SIMPLE_MAX])
def test_encoded_messages_match_wsprotos_frames(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    assert encode_message(text) == bytes(FrameProtocol(False, []).send_data(text, True))
    blob = os.urandom(size)
    encoded = encode_message(blob)
    assert encoded == bytes(FrameProtocol(False, []).send_data(blob, True))
    frames, rest = parse_server_frames(encoded)
    assert not rest and (frames[0].opcode, frames[0].payload) == (BINARY, blob)


def test_past_the_simple_bound_wsproto_encodes() -> None:
    assert encode_message(b"x" * (SIMPLE_MAX + 1)) is None
    assert encode_message("x" * (SIMPLE_MAX + 1)) is None
    assert parse_server_frames(encode_message("ok") or b"")[0][0].opcode == TEXT


def test_a_close_reason_is_cut_between_characters() -> None:
    from usher.protocols.websocket_frames import encode_close

    frames, _ = parse_server_frames(encode_close(1001, "é" * 100))
    assert frames[0].close_code == 1001
    reason = frames[0].payload[2:]
    assert len(reason) == 122 and reason.decode() == "é" * 61  # 123 would split a character
    assert encode_close(1000, "") == b"\x88\x02\x03\xe8"
