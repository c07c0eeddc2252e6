"""The front's HTTP/1.1 client codec: response bytes in, events out, in any chunking."""

from __future__ import annotations

import pytest

from usher.protocols.events import END, Data, Upgraded
from usher.protocols.http1_client import (
    HttpClientCodec,
    Response,
    ResponseError,
    encode_request_head,
)


def feed(codec: HttpClientCodec, data: bytes, step: int) -> list[object]:
    events: list[object] = []
    for start in range(0, len(data), step):
        events += codec.receive_data(data[start : start + step])
    return events


def body_of(events: list[object]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Data))


@pytest.mark.parametrize("step", [1, 7, 10_000])
def test_length_and_chunked_bodies_in_any_chunking(step: int) -> None:
    codec = HttpClientCodec()
    codec.expect("GET")
    events = feed(codec, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step)
    head = events[0]
    assert isinstance(head, Response) and head.status == 200 and head.content_length == 5
    assert body_of(events) == b"hello" and events[-1] is END and codec.idle
    codec.expect("GET")
    events = feed(
        codec,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        step,
    )
    assert isinstance(events[0], Response) and events[0].status == 201 and events[0].chunked
    assert body_of(events) == b"abc" and events[-1] is END


def test_head_responses_and_bodiless_statuses_end_at_the_head() -> None:
    codec = HttpClientCodec()
    codec.expect("HEAD")
    events = codec.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
    assert events[-1] is END and codec.idle
    codec.expect("GET")
    assert codec.receive_data(b"HTTP/1.1 304 Not Modified\r\n\r\n")[-1] is END


def test_a_body_to_the_end_of_the_stream() -> None:
    codec = HttpClientCodec()
    codec.expect("GET")
    events = codec.receive_data(b"HTTP/1.0 200 OK\r\n\r\nabc")
    assert isinstance(events[0], Response) and not events[0].keep_alive
    assert codec.receive_eof() == [END]


def test_truncated_and_broken_responses_are_errors() -> None:
    codec = HttpClientCodec()
    codec.expect("GET")
    codec.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    assert isinstance(codec.receive_eof()[0], ResponseError)
    codec = HttpClientCodec()
    codec.expect("GET")
    assert isinstance(codec.receive_data(b"HTTP/1.1 2x0 OK\r\n\r\n")[0], ResponseError)
    codec = HttpClientCodec(max_head=64)
    codec.expect("GET")
    events = codec.receive_data(b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 100)
    assert isinstance(events[-1], ResponseError)


def test_a_101_switches_to_raw_bytes() -> None:
    codec = HttpClientCodec()
    codec.expect("GET")
    events = codec.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfr"
    )
    assert isinstance(events[0], Response) and events[0].status == 101
    assert events[1] is END and events[2] == Upgraded(b"fr")
    assert codec.receive_data(b"ame") == [Upgraded(b"ame")]


def test_request_heads_are_written_as_given() -> None:
    head = encode_request_head("GET", b"/a?b", [(b"host", b"x")])
    assert head == b"GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n"
