"""HttpCodec behaviour beyond the corpus: the event stream, states, keep-alive reuse, limits across
reads, Upgrade, errors."""

from __future__ import annotations

import copy
import pickle
import random
from pathlib import Path

import pytest

from usher.compiled import running_compiled
from usher.protocols import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    EndOfMessage,
    Event,
    HttpCodec,
    Limits,
    ProtocolError,
    Request,
    Upgraded,
)

LIMITS = Limits(max_head=4096, max_body=0)
GET = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n"
WEBSOCKET = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
# An h2c upgrade with a 6-byte body, without the blank line that ends its head.
H2C = b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 6\r\n"


def feed(codec: HttpCodec, *pieces: bytes) -> list[Event]:
    events: list[Event] = []
    for piece in pieces:
        events += codec.receive_data(piece)
    return events


def check_order(events: list[Event]) -> None:
    """The stream's grammar: [Continue] Request Data* END, repeated; Upgraded only after the END
    of an upgrade request; Data and Upgraded never empty; a ProtocolError only last."""
    request: Request | None = None  # the request whose END is awaited
    switched = False
    for i, event in enumerate(events):
        if isinstance(event, ProtocolError):
            assert i == len(events) - 1, events
        elif isinstance(event, ContinueRequested):
            assert request is None and not switched
            following = events[i + 1]
            assert isinstance(following, Request) and following.has_body, events
        elif isinstance(event, Request):
            assert request is None and not switched, events
            request = event
        elif isinstance(event, Data):
            assert request is not None and request.has_body, events
            assert type(event.data) is bytes and event.data, events
        elif isinstance(event, EndOfMessage):
            assert event is END and request is not None, events
            switched, request = request.upgrade, None
        else:
            assert isinstance(event, Upgraded) and switched, events
            assert type(event.data) is bytes and event.data, events


def messages(events: list[Event]) -> list[tuple[Request, bytes]]:
    """Every complete request (its END seen) with its body joined from its Data events."""
    check_order(events)
    done: list[tuple[Request, bytes]] = []
    request: Request | None = None
    body: list[bytes] = []
    for event in events:
        if isinstance(event, Request):
            request, body = event, []
        elif isinstance(event, Data):
            body.append(event.data)
        elif event is END:
            assert request is not None
            done.append((request, b"".join(body)))
    return done


def upgraded(events: list[Event]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, Upgraded))


def state(codec: HttpCodec) -> CodecState:
    """The codec's state, read through a call so that mypy does not narrow it across feeds."""
    return codec.state


# --------------------------------------------------------------------------------------------
# The event stream


def test_a_bodiless_get_is_request_then_end_in_one_list() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(GET)
    assert len(events) == 2 and events[1] is END, events
    request = events[0]
    assert isinstance(request, Request)
    assert (request.method, request.path, request.query) == ("GET", b"/a", b"b=c")
    assert not request.has_body and not request.chunked and not request.upgrade
    assert codec.state is CodecState.IDLE


def test_end_is_one_shared_instance() -> None:
    first = HttpCodec(LIMITS).receive_data(GET)[1]
    second = HttpCodec(LIMITS).receive_data(GET)[1]
    assert first is second is END
    assert repr(END) == "END"
    assert copy.copy(END) is END
    assert copy.deepcopy([END])[0] is END
    assert pickle.loads(pickle.dumps(END)) is END


def test_states_through_a_request_with_a_body() -> None:
    codec = HttpCodec(LIMITS)
    states = [codec.state]
    assert feed(codec, b"POST /u HTTP/1.1\r\nHost: x\r\n") == []
    states.append(codec.state)
    request, data = feed(codec, b"Content-Length: 4\r\n\r\nab")
    states.append(codec.state)
    assert isinstance(request, Request) and request.has_body
    assert data == Data(b"ab")
    assert feed(codec, b"cd") == [Data(b"cd"), END]
    states.append(codec.state)
    assert states == [CodecState.IDLE, CodecState.HEAD, CodecState.BODY, CodecState.IDLE]


def test_a_content_length_body_byte_by_byte_is_data_pieces_then_end() -> None:
    stream = b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + GET
    codec = HttpCodec(LIMITS)
    events = feed(codec, *(stream[i : i + 1] for i in range(len(stream))))
    request = events[0]
    assert isinstance(request, Request) and request.has_body and not request.chunked
    assert events[1:7] == [Data(b"h"), Data(b"e"), Data(b"l"), Data(b"l"), Data(b"o"), END]
    assert [(r.method, body) for r, body in messages(events)] == [("PUT", b"hello"), ("GET", b"")]
    assert codec.state is CodecState.IDLE


def test_a_chunked_body_byte_by_byte_is_data_pieces_then_end() -> None:
    stream = (
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\nTrailer: dropped\r\n\r\n"
    )
    codec = HttpCodec(LIMITS)
    events = feed(codec, *(stream[i : i + 1] for i in range(len(stream))))
    request = events[0]
    assert isinstance(request, Request) and request.has_body and request.chunked
    assert events[1:] == [Data(bytes((byte,))) for byte in b"abcdefgh"] + [END]
    assert request.headers == [(b"host", b"x"), (b"transfer-encoding", b"chunked")]


def test_data_pieces_follow_the_reads() -> None:
    body = bytes(range(256)) * 64
    codec = HttpCodec(LIMITS)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    events = feed(codec, head + body[:100], body[100:5000], body[5000:])
    assert events[1:] == [Data(body[:100]), Data(body[100:5000]), Data(body[5000:]), END]


def test_an_empty_chunked_body_is_request_then_end() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    request = events[0]
    assert isinstance(request, Request) and request.has_body
    assert events[1:] == [END]


def test_one_codec_serves_many_keep_alive_requests() -> None:
    codec = HttpCodec(LIMITS)
    for i in range(100):
        request, end = codec.receive_data(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        assert isinstance(request, Request)
        assert end is END
        assert request.path == b"/%d" % i
        assert request.keep_alive
        assert codec.state is CodecState.IDLE


def test_requests_do_not_share_header_lists() -> None:
    codec = HttpCodec(LIMITS)
    first = codec.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")[0]
    second = codec.receive_data(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")[0]
    assert isinstance(first, Request) and isinstance(second, Request)
    assert first.headers == [(b"host", b"a")]
    assert second.headers == [(b"host", b"b")]


def test_pipelined_requests_split_anywhere() -> None:
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
        assert not any(isinstance(event, ProtocolError) for event in events)
        assert [(r.method, body) for r, body in messages(events)] == [
            ("GET", b""),
            ("POST", b"abc"),
            ("PUT", b"hi"),
            ("GET", b""),
        ]


def test_continue_comes_before_the_request_and_its_body() -> None:
    codec = HttpCodec(LIMITS)
    head = b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    continued, request = codec.receive_data(head)
    assert continued == ContinueRequested()
    assert isinstance(request, Request) and request.has_body
    assert codec.state is CodecState.BODY
    assert codec.receive_data(b"abc") == [Data(b"abc"), END]


def test_no_continue_when_the_body_is_too_large() -> None:
    codec = HttpCodec(Limits(4096, 10))
    head = b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"
    (error,) = codec.receive_data(head)
    assert error == ProtocolError(413, "request body of 11 bytes exceeds limit-post (10 bytes)")


# --------------------------------------------------------------------------------------------
# Errors after a request began


def test_a_chunked_body_over_limit_post_is_refused_after_its_data() -> None:
    codec = HttpCodec(Limits(4096, 5))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    events += codec.receive_data(b"3\r\nabc\r\n")
    events += codec.receive_data(b"3\r\ndef\r\n")
    check_order(events)
    assert isinstance(events[0], Request)
    # The piece that crosses limit-post is never passed on.
    assert events[1:] == [
        Data(b"abc"),
        ProtocolError(413, "chunked request body exceeds limit-post (5 bytes)"),
    ]
    assert codec.state is CodecState.DONE
    assert codec.receive_data(b"0\r\n\r\n") == []
    assert codec.receive_eof() == []


def test_a_chunked_body_exactly_at_limit_post_is_accepted() -> None:
    codec = HttpCodec(Limits(4096, 6))
    events = codec.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    )
    assert [body for _, body in messages(events)] == [b"abcdef"]


def test_a_malformed_chunk_is_refused_after_the_data_before_it() -> None:
    codec = HttpCodec(LIMITS)
    events = feed(
        codec,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
        b"zz\r\nbad\r\n",
    )
    check_order(events)
    assert events[1] == Data(b"ok")
    error = events[2]
    assert isinstance(error, ProtocolError) and error.status == 400
    assert messages(events) == []  # the request never completed


def test_eof_in_the_middle_of_a_body_is_an_error_after_its_data() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc")
    assert events[1:] == [Data(b"abc")]
    (error,) = codec.receive_eof()
    assert isinstance(error, ProtocolError) and error.status == 400
    assert codec.state is CodecState.DONE


def test_nothing_after_a_protocol_error() -> None:
    codec = HttpCodec(LIMITS)
    (error,) = codec.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n")
    assert isinstance(error, ProtocolError) and error.status == 400
    assert codec.state is CodecState.DONE
    assert codec.receive_data(GET) == []
    assert codec.receive_eof() == []


def test_nothing_after_a_request_that_closes() -> None:
    codec = HttpCodec(LIMITS)
    request, end = codec.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert isinstance(request, Request) and not request.keep_alive and end is END
    assert codec.state is CodecState.DONE
    assert codec.receive_data(GET) == []


def test_http10_keep_alive_is_opt_in() -> None:
    plain = HttpCodec(LIMITS).receive_data(b"GET / HTTP/1.0\r\n\r\n")[0]
    kept = HttpCodec(LIMITS).receive_data(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0]
    assert isinstance(plain, Request) and isinstance(kept, Request)
    assert (plain.http_version, plain.keep_alive) == ("1.0", False)
    assert (kept.http_version, kept.keep_alive) == ("1.0", True)


V10 = b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
V11 = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([V11 + V10 + V11], id="pipelined"),
        pytest.param([V11, V10[:9], V10[9:] + V11], id="split-request-line"),
        pytest.param([V11, V10[:20], V10[20:], V11], id="split-head"),
        pytest.param([V11, b"\r\n" + V10, V11], id="empty-line-first"),
        pytest.param([V11 + V10[:30], V10[30:] + V11], id="pipelined-across-reads"),
    ],
)
def test_each_request_gets_its_own_version(pieces: list[bytes]) -> None:
    # The version is read from the request line's bytes where the line starts a read, and asked
    # of httptools everywhere else: either way each request gets the version it sent.
    requests = [e for e in feed(HttpCodec(LIMITS), *pieces) if isinstance(e, Request)]
    assert [(r.path, r.http_version) for r in requests] == [
        (b"/b", "1.1"),
        (b"/a", "1.0"),
        (b"/b", "1.1"),
    ]
    assert requests[1].keep_alive


# --------------------------------------------------------------------------------------------
# Limits


def test_head_limit_counts_across_reads() -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\n"
    for cut in (1, 10, len(head) // 2, len(head) - 1):
        codec = HttpCodec(Limits(len(head), 0))
        request, end = feed(codec, head[:cut], head[cut:])
        assert isinstance(request, Request) and end is END
        codec = HttpCodec(Limits(len(head) - 1, 0))
        (error,) = feed(codec, head[:cut], head[cut:])
        assert isinstance(error, ProtocolError) and error.status == 431


def test_head_limit_resets_between_keep_alive_requests() -> None:
    codec = HttpCodec(Limits(len(GET), 0))
    for _ in range(5):
        request, end = codec.receive_data(GET)
        assert isinstance(request, Request) and end is END


def test_head_limit_after_a_body_in_the_same_read() -> None:
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"b" * 500
    codec = HttpCodec(Limits(128, 0))
    events = codec.receive_data(post + b"GET /" + b"x" * 300)
    check_order(events)
    assert isinstance(events[0], Request)
    assert b"".join(e.data for e in events if isinstance(e, Data)) == b"b" * 500
    assert events[-2] is END
    assert isinstance(events[-1], ProtocolError) and events[-1].status == 431


def test_large_chunked_upload() -> None:
    codec = HttpCodec(Limits(4096, 0))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"z" * 65536
    for _ in range(64):  # 4 MiB in 64 KiB chunks, one read each
        events += codec.receive_data(b"10000\r\n" + piece + b"\r\n")
    events += codec.receive_data(b"0\r\n\r\n")
    ((request, body),) = messages(events)
    assert request.chunked
    assert body == piece * 64
    assert len(events) == 1 + 64 + 1  # one Data per chunk read whole


def test_chunk_extensions_spread_over_reads_are_bounded() -> None:
    codec = HttpCodec(Limits(256, 0))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    events += codec.receive_data(b"1;ext=")
    for _ in range(100):
        events += codec.receive_data(b"e" * 10)
    assert isinstance(events[0], Request)
    assert events[1:] == [
        ProtocolError(400, "chunk extensions or trailer fields exceed buffer-size (256 bytes)")
    ]


def test_many_small_chunks_are_not_mistaken_for_framing_abuse() -> None:
    codec = HttpCodec(Limits(64, 0))
    events = codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(1000):
        events += codec.receive_data(b"1\r\nx\r\n")
    events += codec.receive_data(b"0\r\n\r\n")
    ((_, body),) = messages(events)
    assert body == b"x" * 1000


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_head"):
        Limits(0, 0)
    with pytest.raises(ValueError):
        Limits(4096, -1)


# --------------------------------------------------------------------------------------------
# Upgrade


def test_upgrade_switches_the_stream_after_end() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(WEBSOCKET + b"\x81\x05hello")
    request = events[0]
    assert isinstance(request, Request)
    assert request.upgrade and not request.keep_alive and not request.has_body
    assert events[1:] == [END, Upgraded(b"\x81\x05hello")]
    assert state(codec) is CodecState.SWITCHED
    assert codec.receive_data(b"GET / HTTP/1.1\r\n\r\n") == [Upgraded(b"GET / HTTP/1.1\r\n\r\n")]
    assert codec.receive_data(b"") == []
    assert state(codec) is CodecState.SWITCHED
    assert codec.receive_eof() == []
    assert state(codec) is CodecState.DONE
    assert codec.receive_data(b"late") == []


def test_upgrade_with_nothing_after_the_head() -> None:
    codec = HttpCodec(LIMITS)
    request, end = codec.receive_data(WEBSOCKET)
    assert isinstance(request, Request) and request.upgrade and end is END
    assert state(codec) is CodecState.SWITCHED
    assert codec.receive_data(b"\x88\x00") == [Upgraded(b"\x88\x00")]


def test_upgrade_body_is_data_then_end_then_upgraded_bytes() -> None:
    codec = HttpCodec(LIMITS)
    assert feed(codec, H2C) == []
    request, data = feed(codec, b"\r\nab")
    assert isinstance(request, Request)
    assert request.upgrade and request.has_body and not request.keep_alive
    assert data == Data(b"ab")
    assert state(codec) is CodecState.BODY
    assert codec.receive_data(b"cd") == [Data(b"cd")]
    assert codec.receive_data(b"efPRI * HTTP/2.0") == [
        Data(b"ef"),
        END,
        Upgraded(b"PRI * HTTP/2.0"),
    ]
    assert state(codec) is CodecState.SWITCHED
    assert codec.receive_data(b"\r\n\r\nSM") == [Upgraded(b"\r\n\r\nSM")]


def test_upgrade_split_anywhere_gives_the_same_bytes() -> None:
    head = b"POST /u HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n"
    stream = GET + head + b"Content-Length: 4\r\n\r\nbody" + b"raw bytes after"
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 10)))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        codec = HttpCodec(LIMITS)
        events = feed(codec, *pieces)
        assert [(r.method, r.upgrade, body) for r, body in messages(events)] == [
            ("GET", False, b""),
            ("POST", True, b"body"),
        ]
        assert upgraded(events) == b"raw bytes after"
        assert state(codec) is CodecState.SWITCHED


def test_upgrade_in_a_read_larger_than_buffer_size() -> None:
    # Reads larger than buffer-size are fed to llhttp in bounded slices: the bytes past the
    # upgrade must all come out, once, in order.
    tail = bytes(range(256)) * 40
    codec = HttpCodec(Limits(128, 0))
    head = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    events = codec.receive_data(head + b"Content-Length: 3\r\n\r\nabc" + tail)
    assert [body for _, body in messages(events)] == [b"abc"]
    assert upgraded(events) == tail
    assert state(codec) is CodecState.SWITCHED


def test_upgrade_without_connection_upgrade_is_an_ordinary_request() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n" + GET)
    assert [(r.upgrade, r.keep_alive) for r, _ in messages(events)] == [(False, True)] * 2
    assert state(codec) is CodecState.IDLE


def test_a_chunked_upgrade_request_is_refused() -> None:
    codec = HttpCodec(LIMITS)
    (error,) = codec.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert error == ProtocolError(400, "a chunked body on an Upgrade request is not supported")


def test_eof_before_an_upgrade_body_ends() -> None:
    codec = HttpCodec(LIMITS)
    events = codec.receive_data(H2C + b"\r\nabc")
    assert events[1:] == [Data(b"abc")]
    (error,) = codec.receive_eof()
    assert isinstance(error, ProtocolError) and error.status == 400


# --------------------------------------------------------------------------------------------
# Odd inputs


def test_underscore_names_cannot_pose_as_dashed_ones() -> None:
    request = HttpCodec(LIMITS).receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\nX_Real_IP: 6.6.6.6\r\nx_forwarded_for: 6.6.6.6\r\n\r\n"
    )[0]
    assert isinstance(request, Request)
    assert request.headers == [(b"host", b"x")]


@pytest.mark.skipif(
    running_compiled(),
    reason="replaces a module global, which the compiled form binds when it is built; "
    "the pure run of the suite (USHER_PURE=1) covers it",
)
def test_a_fault_in_the_codec_is_not_reported_as_a_bad_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(data: bytes) -> Data:
        raise RuntimeError("bug")

    monkeypatch.setattr("usher.protocols.http1.Data", broken)
    codec = HttpCodec(LIMITS)
    with pytest.raises(Exception, match="callback") as caught:
        codec.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
    assert isinstance(caught.value.__context__, RuntimeError)


def test_content_length_with_many_leading_zeros() -> None:
    # int() refuses strings over 4300 digits; llhttp accepts any number of leading zeros.
    codec = HttpCodec(Limits(65536, 0))
    data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"0" * 5000 + b"3\r\n\r\nabc"
    assert [body for _, body in messages(codec.receive_data(data))] == [b"abc"]


def test_absolute_form_with_an_ipv6_authority() -> None:
    request = HttpCodec(LIMITS).receive_data(
        b"GET http://[::1]:8080/x?y HTTP/1.1\r\nHost: elsewhere\r\n\r\n"
    )[0]
    assert isinstance(request, Request)
    assert (request.path, request.query) == (b"/x", b"y")
    assert request.headers == [(b"host", b"[::1]:8080")]


def test_mutated_corpus_never_breaks_the_codec() -> None:
    """Damaged requests give events in order, never exceptions; an error is always the last."""
    corpus = Path(__file__).resolve().parents[2] / "corpus" / "http"
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
        codec = HttpCodec(Limits(rng.choice([64, 4096]), rng.choice([0, 8])))
        events: list[Event] = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 40)
            events += codec.receive_data(bytes(data[pos : pos + step]))
            pos += step
        events += codec.receive_eof()
        check_order(events)
