"""HttpCodec behaviour beyond the corpus: states, keep-alive reuse, limits across reads, errors."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from usher.protocols import (
    CodecState,
    ContinueRequested,
    Event,
    HttpCodec,
    Limits,
    ProtocolError,
    Request,
    RequestBody,
)

LIMITS = Limits(max_head=4096, max_body=0, spool_threshold=1024)
GET = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n"


@pytest.fixture
def requests() -> Iterator[list[Request]]:
    """Collects requests made by a test and closes their bodies afterwards."""
    made: list[Request] = []
    yield made
    for request in made:
        request.body.close()


def feed(codec: HttpCodec, *pieces: bytes) -> list[Event]:
    events: list[Event] = []
    for piece in pieces:
        events += codec.receive_data(piece)
    return events


def test_states_through_a_request_with_a_body() -> None:
    codec = HttpCodec(LIMITS)
    states = [codec.state]
    assert feed(codec, b"POST /u HTTP/1.1\r\nHost: x\r\n") == []
    states.append(codec.state)
    assert feed(codec, b"Content-Length: 4\r\n\r\nab") == []
    states.append(codec.state)
    (request,) = feed(codec, b"cd")
    states.append(codec.state)
    assert isinstance(request, Request)
    assert request.body.read() == b"abcd"
    assert states == [CodecState.IDLE, CodecState.HEAD, CodecState.BODY, CodecState.IDLE]


def test_one_codec_serves_many_keep_alive_requests() -> None:
    codec = HttpCodec(LIMITS)
    for i in range(100):
        (request,) = codec.receive_data(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        assert isinstance(request, Request)
        assert request.path == b"/%d" % i
        assert request.keep_alive
        assert request.body is RequestBody.EMPTY
        assert codec.state is CodecState.IDLE


def test_requests_do_not_share_header_lists() -> None:
    codec = HttpCodec(LIMITS)
    (first,) = codec.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    (second,) = codec.receive_data(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
    assert isinstance(first, Request) and isinstance(second, Request)
    assert first.headers == [(b"host", b"a")]
    assert second.headers == [(b"host", b"b")]


def test_pipelined_requests_split_anywhere(requests: list[Request]) -> None:
    stream = (
        GET
        + b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        + b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        + GET
    )
    rng = random.Random(1)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        events = feed(HttpCodec(LIMITS), *pieces)
        assert all(isinstance(event, Request) for event in events)
        requests += events  # type: ignore[arg-type]
        assert [(r.method, r.body.read()) for r in requests[-4:]] == [
            ("GET", b""),
            ("POST", b"abc"),
            ("PUT", b"hi"),
            ("GET", b""),
        ]


def test_continue_comes_before_the_body_is_sent(requests: list[Request]) -> None:
    codec = HttpCodec(LIMITS)
    head = b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    assert codec.receive_data(head) == [ContinueRequested()]
    assert codec.state is CodecState.BODY
    (request,) = codec.receive_data(b"abc")
    assert isinstance(request, Request)
    requests.append(request)
    assert request.body.read() == b"abc"


def test_no_continue_when_the_body_is_too_large() -> None:
    codec = HttpCodec(Limits(4096, 10, 0))
    head = b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"
    (error,) = codec.receive_data(head)
    assert error == ProtocolError(413, "request body of 11 bytes exceeds limit-post (10 bytes)")


def test_nothing_after_a_protocol_error() -> None:
    codec = HttpCodec(LIMITS)
    (error,) = codec.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n")
    assert isinstance(error, ProtocolError) and error.status == 400
    assert codec.state is CodecState.DONE
    assert codec.receive_data(GET) == []
    assert codec.receive_eof() == []


def test_nothing_after_a_request_that_closes() -> None:
    codec = HttpCodec(LIMITS)
    (request,) = codec.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert isinstance(request, Request) and not request.keep_alive
    assert codec.state is CodecState.DONE
    assert codec.receive_data(GET) == []


def test_http10_keep_alive_is_opt_in() -> None:
    (plain,) = HttpCodec(LIMITS).receive_data(b"GET / HTTP/1.0\r\n\r\n")
    (kept,) = HttpCodec(LIMITS).receive_data(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    assert isinstance(plain, Request) and isinstance(kept, Request)
    assert (plain.http_version, plain.keep_alive) == ("1.0", False)
    assert (kept.http_version, kept.keep_alive) == ("1.0", True)


def test_head_limit_counts_across_reads() -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\n"
    for cut in (1, 10, len(head) // 2, len(head) - 1):
        codec = HttpCodec(Limits(len(head), 0, 0))
        (request,) = feed(codec, head[:cut], head[cut:])
        assert isinstance(request, Request)
        codec = HttpCodec(Limits(len(head) - 1, 0, 0))
        (error,) = feed(codec, head[:cut], head[cut:])
        assert isinstance(error, ProtocolError) and error.status == 431


def test_head_limit_resets_between_keep_alive_requests() -> None:
    codec = HttpCodec(Limits(len(GET), 0, 0))
    for _ in range(5):
        (request,) = codec.receive_data(GET)
        assert isinstance(request, Request)


def test_head_limit_after_a_body_in_the_same_read(requests: list[Request]) -> None:
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"b" * 500
    codec = HttpCodec(Limits(128, 0, 0))
    events = codec.receive_data(post + b"GET /" + b"x" * 300)
    assert isinstance(events[0], Request)
    requests.append(events[0])
    assert isinstance(events[1], ProtocolError) and events[1].status == 431


def test_body_spools_to_a_file(requests: list[Request]) -> None:
    body = bytes(range(256)) * 64
    codec = HttpCodec(Limits(4096, 0, 1000))
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    (request,) = feed(codec, head, body[:5000], body[5000:])
    assert isinstance(request, Request)
    requests.append(request)
    assert request.body.spooled
    assert request.body.length == len(body)
    assert request.body.read() == body


def test_large_chunked_upload(requests: list[Request]) -> None:
    codec = HttpCodec(Limits(4096, 0, 1 << 16))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"z" * 65536
    for _ in range(64):  # 4 MiB in 64 KiB chunks, one read each
        events += codec.receive_data(b"10000\r\n" + piece + b"\r\n")
    events += codec.receive_data(b"0\r\n\r\n")
    (request,) = events
    assert isinstance(request, Request)
    requests.append(request)
    assert request.chunked and request.body.spooled
    assert request.body.length == 64 * 65536


def test_chunk_extensions_spread_over_reads_are_bounded() -> None:
    codec = HttpCodec(Limits(256, 0, 0))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    events += codec.receive_data(b"1;ext=")
    for _ in range(100):
        events += codec.receive_data(b"e" * 10)
    assert events == [
        ProtocolError(400, "chunk extensions or trailer fields exceed buffer-size (256 bytes)")
    ]


def test_many_small_chunks_are_not_mistaken_for_framing_abuse(requests: list[Request]) -> None:
    codec = HttpCodec(Limits(64, 0, 1 << 20))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(1000):
        events += codec.receive_data(b"1\r\nx\r\n")
    events += codec.receive_data(b"0\r\n\r\n")
    (request,) = events
    assert isinstance(request, Request)
    requests.append(request)
    assert request.body.length == 1000


def test_upgrade_is_answered_as_http_then_closed() -> None:
    codec = HttpCodec(LIMITS)
    (request,) = codec.receive_data(
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    )
    assert isinstance(request, Request)
    assert not request.keep_alive
    assert codec.state is CodecState.DONE


def test_upgrade_body_arriving_later(requests: list[Request]) -> None:
    codec = HttpCodec(LIMITS)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 6\r\n"
    assert feed(codec, head, b"\r\nab") == []
    states = [codec.state]
    (request,) = feed(codec, b"cd", b"efGET / HTTP/1.1\r\n\r\n")
    states.append(codec.state)
    assert isinstance(request, Request)
    requests.append(request)
    assert request.body.read() == b"abcdef"
    assert states == [CodecState.BODY, CodecState.DONE]


def test_eof() -> None:
    codec = HttpCodec(LIMITS)
    assert codec.receive_eof() == []
    assert codec.state is CodecState.DONE
    codec = HttpCodec(LIMITS)
    codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc")
    (error,) = codec.receive_eof()
    assert isinstance(error, ProtocolError) and error.status == 400


def test_underscore_names_cannot_pose_as_dashed_ones() -> None:
    (request,) = HttpCodec(LIMITS).receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\nX_Real_IP: 6.6.6.6\r\nx_forwarded_for: 6.6.6.6\r\n\r\n"
    )
    assert isinstance(request, Request)
    assert request.headers == [(b"host", b"x")]


def test_body_storage_failure_is_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space() -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_space)
    codec = HttpCodec(Limits(4096, 0, 4))
    (error,) = codec.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n123456789"
    )
    assert isinstance(error, ProtocolError)
    assert error.status == 500
    assert "No space left" in error.reason


def test_a_fault_in_the_codec_is_not_reported_as_a_bad_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: RequestBody, data: bytes) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(RequestBody, "append", broken)
    codec = HttpCodec(LIMITS)
    with pytest.raises(Exception, match="callback") as caught:
        codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
    assert isinstance(caught.value.__context__, RuntimeError)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_head"):
        Limits(0, 0, 0)
    with pytest.raises(ValueError):
        Limits(4096, -1, 0)


def test_content_length_with_many_leading_zeros(requests: list[Request]) -> None:
    # int() refuses strings over 4300 digits; llhttp accepts any number of leading zeros.
    codec = HttpCodec(Limits(65536, 0, 0))
    data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"0" * 5000 + b"3\r\n\r\nabc"
    (request,) = codec.receive_data(data)
    assert isinstance(request, Request)
    requests.append(request)
    assert request.body.read() == b"abc"


def test_absolute_form_with_an_ipv6_authority() -> None:
    (request,) = HttpCodec(LIMITS).receive_data(
        b"GET http://[::1]:8080/x?y HTTP/1.1\r\nHost: elsewhere\r\n\r\n"
    )
    assert isinstance(request, Request)
    assert (request.path, request.query) == (b"/x", b"y")
    assert request.headers == [(b"host", b"[::1]:8080")]


def test_mutated_corpus_never_breaks_the_codec() -> None:
    """Damaged requests give events, never exceptions; an error is always the last event."""
    corpus = Path(__file__).resolve().parent.parent / "corpus" / "http"
    samples = [path.read_bytes() for path in sorted(corpus.glob("*/*.http"))]
    splices = [b"\r\n", b"\r\n\r\n", b"0\r\n\r\n", b"Transfer-Encoding: chunked\r\n", b":", b"\x00"]
    rng = random.Random(2024)
    for _ in range(1500):
        data = bytearray(rng.choice(samples) + rng.choice([b"", rng.choice(samples)]))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                del data[at : at + rng.randint(1, 4)]
            else:
                data[at:at] = rng.choice(splices)
        limits = Limits(rng.choice([64, 4096]), rng.choice([0, 8]), rng.choice([0, 4096]))
        codec = HttpCodec(limits)
        events: list[Event] = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 40)
            events += codec.receive_data(bytes(data[pos : pos + step]))
            pos += step
        events += codec.receive_eof()
        errors = [i for i, event in enumerate(events) if isinstance(event, ProtocolError)]
        assert errors in ([], [len(events) - 1]), events
        for event in events:
            if isinstance(event, Request):
                event.body.close()
