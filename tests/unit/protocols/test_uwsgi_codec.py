"""UwsgiCodec, VarsDecoder and encode_uwsgi_request beyond the corpus: the event stream, limits,
states, odd packets, the learned run of keys."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from usher.protocols import (
    END,
    CodecState,
    Data,
    EndOfMessage,
    Event,
    Limits,
    ProtocolError,
    Request,
    UwsgiCodec,
    VarsDecoder,
    encode_uwsgi_request,
)
from usher.protocols.uwsgi import decode_vars, new_request, read_head, read_whole

LIMITS = Limits(max_head=4096, max_body=0)
GET = {
    "REQUEST_METHOD": "GET",
    "REQUEST_URI": "/a%20b/c?x=1",
    "PATH_INFO": "/a b/c",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "CONTENT_LENGTH": "",
    "HTTP_HOST": "example.com",
}


def check_order(events: Sequence[Event]) -> None:
    """One request at most: Request, Data* (never empty), then END or a ProtocolError; or a
    ProtocolError alone."""
    for i, event in enumerate(events):
        if isinstance(event, Request):
            assert i == 0, events
        elif isinstance(event, Data):
            assert isinstance(events[0], Request) and events[0].has_body, events
            assert type(event.data) is bytes and event.data, events
        else:
            assert isinstance(event, EndOfMessage | ProtocolError), events
            assert i == len(events) - 1 and (event is END) == isinstance(event, EndOfMessage)


def complete(events: Sequence[Event]) -> tuple[Request, bytes]:
    """The one request of `events`, which must have reached its END, and its body."""
    check_order(events)
    assert events and isinstance(events[0], Request) and events[-1] is END, events
    return events[0], b"".join(event.data for event in events if isinstance(event, Data))


def only_request(events: Sequence[Event]) -> Request:
    """The request of `events` that must be exactly [Request, END]."""
    request, body = complete(events)
    assert len(events) == 2 and not request.has_body and body == b"", events
    return request


def test_get_fills_request_fields_from_vars() -> None:
    codec = UwsgiCodec(LIMITS)
    request = only_request(codec.receive_data(encode_uwsgi_request(GET)))
    assert request.method == "GET"
    assert request.path == b"/a%20b/c"  # raw, from REQUEST_URI
    assert request.query == b"x=1"
    assert request.http_version == "1.1"
    assert request.headers == []
    assert request.vars == GET
    assert request.keep_alive is False
    assert request.chunked is False
    assert request.has_body is False
    assert request.upgrade is False
    assert codec.state is CodecState.DONE


def test_path_falls_back_to_path_info() -> None:
    variables = {"REQUEST_METHOD": "GET", "PATH_INFO": "/caf\u00e9"}
    request = only_request(UwsgiCodec(LIMITS).receive_data(encode_uwsgi_request(variables)))
    assert request.path == b"/caf\xe9"
    assert request.http_version == "1.0"


def test_states_through_a_request_with_a_body() -> None:
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": "5"}, b"hello")
    codec = UwsgiCodec(LIMITS)
    states = [codec.state]
    assert codec.receive_data(packet[:3]) == []
    states.append(codec.state)
    request, data = codec.receive_data(packet[3:-2])
    states.append(codec.state)
    assert isinstance(request, Request) and request.has_body
    assert data == Data(b"hel")
    assert codec.receive_data(packet[-2:] + b"extra bytes are ignored") == [Data(b"lo"), END]
    states.append(codec.state)
    assert codec.receive_data(b"more") == []
    assert codec.receive_eof() == []
    assert states == [CodecState.IDLE, CodecState.HEAD, CodecState.BODY, CodecState.DONE]


def test_a_whole_packet_is_request_data_end() -> None:
    body = b"0123456789" * 1000
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": str(len(body))}, body)
    events = UwsgiCodec(LIMITS).receive_data(packet + b"ignored")
    assert events[1:] == [Data(body), END]
    assert complete(events)[0].has_body


def test_a_body_byte_by_byte_is_data_pieces_bounded_to_content_length() -> None:
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": "3"}, b"abcdef")
    codec = UwsgiCodec(LIMITS)
    events: list[Event] = []
    for i in range(len(packet)):
        events += codec.receive_data(packet[i : i + 1])
    assert events[1:] == [Data(b"a"), Data(b"b"), Data(b"c"), END]
    assert codec.state is CodecState.DONE


def test_eof_in_the_middle_of_a_body_is_an_error_after_its_data() -> None:
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": "10"}, b"abc")
    codec = UwsgiCodec(LIMITS)
    events = codec.receive_data(packet)
    events += codec.receive_eof()
    check_order(events)
    assert events[1] == Data(b"abc")
    assert isinstance(events[2], ProtocolError) and events[2].status == 400


@pytest.mark.parametrize(
    ("content_length", "has_body"),
    [("", False), ("0", False), ("000", False), ("5", True), ("007", True), (None, False)],
)
def test_has_body_follows_content_length(content_length: str | None, has_body: bool) -> None:
    variables = dict(GET)
    if content_length is None:
        del variables["CONTENT_LENGTH"]
    else:
        variables["CONTENT_LENGTH"] = content_length
    request = UwsgiCodec(LIMITS).receive_data(encode_uwsgi_request(variables, b"x" * 7))[0]
    assert isinstance(request, Request) and request.has_body is has_body


def test_new_request_takes_the_variables_and_the_body_length() -> None:
    assert not new_request(dict(GET), 0).has_body
    assert new_request({**GET, "CONTENT_LENGTH": "3"}, 3).has_body
    odd = new_request({**GET, "SERVER_PROTOCOL": "HTTP/0.9"}, 0)
    assert odd.http_version == "0.9"  # as http_version() reads it
    request = new_request(dict(GET), 0)
    assert (request.method, request.path, request.query) == ("GET", b"/a%20b/c", b"x=1")
    assert request.vars == GET and request.headers == [] and not request.keep_alive


def test_read_whole_gives_the_variables_and_the_body_bytes() -> None:
    decoder = VarsDecoder()
    bodiless = encode_uwsgi_request(GET)
    assert read_whole(bodiless, LIMITS, decoder) == (GET, b"")
    with_body = encode_uwsgi_request({**GET, "CONTENT_LENGTH": "5"}, b"hello")
    assert read_whole(with_body, LIMITS, decoder) == ({**GET, "CONTENT_LENGTH": "5"}, b"hello")
    # Not exactly one whole packet, or refused: the codec reads on or says why.
    assert read_whole(with_body[:-1], LIMITS, decoder) is None
    assert read_whole(with_body + b"!", LIMITS, decoder) is None
    assert read_whole(bodiless + b"!", LIMITS, decoder) is None
    assert read_whole(with_body, Limits(4096, 4), decoder) is None
    assert read_whole(b"\x00\x00", LIMITS, decoder) is None


def test_block_exactly_buffer_size_is_accepted() -> None:
    packet = encode_uwsgi_request({"PATH_INFO": "/", "X": "y" * 100})
    size = len(packet) - 4
    only_request(UwsgiCodec(Limits(size, 0)).receive_data(packet))
    events = UwsgiCodec(Limits(size - 1, 0)).receive_data(packet)
    assert events == [
        ProtocolError(
            400,
            f"uwsgi request block of {size} bytes exceeds buffer-size {size - 1}: raise "
            "buffer-size (e.g. buffer-size = 32768 in the ini, or --buffer-size 32768) to "
            "accept larger headers",
        )
    ]


def test_oversized_block_is_refused_from_its_header_alone() -> None:
    # The refusal must not wait for (or buffer) the block it refuses.
    packet = encode_uwsgi_request({"HTTP_COOKIE": "c" * 8000})
    codec = UwsgiCodec(LIMITS)
    (error,) = codec.receive_data(packet[:4])
    assert isinstance(error, ProtocolError) and "8" in error.reason
    assert codec.state is CodecState.DONE


@pytest.mark.parametrize("modifier1", [1, 5, 9, 255])
def test_other_modifiers_are_refused_by_number(modifier1: int) -> None:
    (error,) = UwsgiCodec(LIMITS).receive_data(encode_uwsgi_request(GET, modifier1=modifier1))
    assert isinstance(error, ProtocolError)
    assert error.status == 400
    assert f"modifier1 {modifier1} " in error.reason


@pytest.mark.parametrize(
    ("script_name", "path_info", "expected_script", "expected_path"),
    [
        ("/app", "/app/x/", "/app", "/x/"),
        ("/app/", "/app/x", "/app", "/x"),
        ("/app", "/app", "/app", ""),
        ("/app", "/application", "/app", "/application"),  # not under the prefix
        ("", "/x", "", "/x"),
    ],
)
def test_modifier_30_strips_script_name(
    script_name: str, path_info: str, expected_script: str, expected_path: str
) -> None:
    variables = {"PATH_INFO": path_info, "SCRIPT_NAME": script_name}
    packet = encode_uwsgi_request(variables, modifier1=30)
    request = only_request(UwsgiCodec(LIMITS).receive_data(packet))
    assert request.vars is not None
    assert request.vars["PATH_INFO"] == expected_path
    assert request.vars["SCRIPT_NAME"] == expected_script


def test_limit_post_refuses_before_the_body() -> None:
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": "2000"})
    (error,) = UwsgiCodec(Limits(4096, 1000)).receive_data(packet)
    assert error == ProtocolError(413, "request body of 2000 bytes exceeds limit-post (1000 bytes)")


@pytest.mark.parametrize(
    "block",
    [
        b"\x01",  # half a key length
        b"\x05\x00abc",  # key longer than the block
        b"\x01\x00a",  # key without a value length
        b"\x01\x00a\x09\x00short",  # value longer than the block
    ],
)
def test_truncated_blocks_are_refused(block: bytes) -> None:
    packet = bytes((0,)) + len(block).to_bytes(2, "little") + b"\x00" + block
    (error,) = UwsgiCodec(LIMITS).receive_data(packet)
    assert isinstance(error, ProtocolError)
    assert error.status == 400
    assert error.reason.startswith("malformed uwsgi request")


@pytest.mark.parametrize("value", ["-1", "1e3", "0x10", " 5", "\u00b2"])
def test_bad_content_length_is_refused(value: str) -> None:
    (error,) = UwsgiCodec(LIMITS).receive_data(encode_uwsgi_request({"CONTENT_LENGTH": value}))
    assert isinstance(error, ProtocolError) and "CONTENT_LENGTH" in error.reason


def test_empty_block_is_a_bare_get() -> None:
    request = only_request(UwsgiCodec(LIMITS).receive_data(b"\x00\x00\x00\x00"))
    assert request.method == "GET"
    assert request.vars == {}


def test_eof() -> None:
    codec = UwsgiCodec(LIMITS)
    assert codec.receive_eof() == []
    assert codec.state is CodecState.DONE
    codec = UwsgiCodec(LIMITS)
    codec.receive_data(b"\x00\x10")
    (error,) = codec.receive_eof()
    assert isinstance(error, ProtocolError) and error.status == 400


def test_repeated_http_vars_are_joined() -> None:
    block = b""
    for key, value in [
        ("HTTP_X_FORWARDED_FOR", "1.1.1.1"),
        ("HTTP_X_FORWARDED_FOR", "2.2.2.2"),
        ("HTTP_COOKIE", "a=1"),
        ("HTTP_COOKIE", "b=2"),
        ("SERVER_NAME", "first"),
        ("SERVER_NAME", "last"),
    ]:
        for text in (key, value):
            block += len(text).to_bytes(2, "little") + text.encode()
    assert decode_vars(block) == {
        "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2",
        "HTTP_COOKIE": "a=1; b=2",
        "SERVER_NAME": "last",
    }


def block_of(pairs: list[tuple[str, str]]) -> bytes:
    return (
        encode_uwsgi_request(dict(pairs))[4:] if len({k for k, _ in pairs}) == len(pairs) else b""
    )


NGINX_LEAD = [("QUERY_STRING", "a=1"), ("REQUEST_METHOD", "GET"), ("REMOTE_ADDR", "10.0.0.1")]


@pytest.mark.parametrize(
    "pairs",
    [
        [*NGINX_LEAD, ("HTTP_HOST", "h")],  # the same opening run: matched key by key
        [("QUERY_STRING", ""), ("REQUEST_METHOD", "POST"), ("HTTP_HOST", "h")],  # cut short
        [("QUERY_STRING", "b"), ("SERVER_NAME", "s"), ("REQUEST_METHOD", "PUT")],  # diverges
        [("PATH_INFO", "/x"), *NGINX_LEAD],  # another front server's order
        [("QUERY_STRING", "q" * 300), ("REQUEST_METHOD", "GET"), ("REMOTE_ADDR", "")],  # long
        [],
    ],
)
def test_the_learned_opening_run_never_changes_the_result(pairs: list[tuple[str, str]]) -> None:
    # The first block teaches the decoder the run of keys that opens it; every later block,
    # whatever it opens with, decodes exactly as field by field.
    decoder = VarsDecoder()
    decoder.decode(block_of([*NGINX_LEAD, ("HTTP_HOST", "first")]))
    assert list(decoder.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]
    assert decoder.decode(block_of(pairs)) == dict(pairs)


def test_a_decoder_learns_the_run_of_its_first_plain_block() -> None:
    decoder = VarsDecoder()
    assert not decoder.learned
    with pytest.raises(ValueError):
        decoder.decode(b"\x01")  # truncated: refused, teaches nothing
    assert not decoder.learned
    decoder.decode(block_of([*NGINX_LEAD, ("HTTP_HOST", "h"), ("SERVER_NAME", "s")]))
    assert list(decoder.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]
    # A block that opens otherwise teaches its own run.
    decoder.decode(block_of([("PATH_INFO", "/"), ("SCRIPT_NAME", ""), ("HTTP_X", "1")]))
    assert list(decoder.learned) == ["PATH_INFO", "SCRIPT_NAME"]


def test_decoders_do_not_share_what_they_learn() -> None:
    first, second = VarsDecoder(), VarsDecoder()
    first.decode(block_of(NGINX_LEAD))
    assert list(first.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]
    assert not second.learned
    second.decode(block_of([("PATH_INFO", "/x"), ("HTTP_HOST", "h")]))
    assert list(second.learned) == ["PATH_INFO"]
    assert list(first.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]
    # The module function uses a fresh decoder each time: it keeps nothing.
    assert decode_vars(block_of(NGINX_LEAD)) == dict(NGINX_LEAD)


def test_codecs_share_the_decoder_they_are_given() -> None:
    shared = VarsDecoder()
    packet = encode_uwsgi_request(dict(NGINX_LEAD))
    only_request(UwsgiCodec(LIMITS, shared).receive_data(packet))
    assert list(shared.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]
    request = only_request(UwsgiCodec(LIMITS, decoder=shared).receive_data(packet))
    assert request.vars == dict(NGINX_LEAD)
    assert read_head(packet, LIMITS, shared) == (dict(NGINX_LEAD), 0, len(packet))
    # Without one, each codec has its own.
    only_request(UwsgiCodec(LIMITS).receive_data(encode_uwsgi_request({"PATH_INFO": "/"})))
    assert list(shared.learned) == ["QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR"]


def test_a_learned_key_sent_again_among_the_headers_keeps_the_last_value() -> None:
    decoder = VarsDecoder()
    decoder.decode(block_of(NGINX_LEAD))
    block = block_of(NGINX_LEAD) + block_of([("REQUEST_METHOD", "HEAD")])
    assert decoder.decode(block)["REQUEST_METHOD"] == "HEAD"


def test_a_block_truncated_inside_the_learned_run_is_refused() -> None:
    decoder = VarsDecoder()
    decoder.decode(block_of(NGINX_LEAD))
    with pytest.raises(ValueError, match="runs past"):
        decoder.decode(block_of(NGINX_LEAD)[:-3])


def test_vars_are_latin_1() -> None:
    packet = encode_uwsgi_request({"PATH_INFO": "/\u00e9\u00ff", "HTTP_X": "\u00a0"})
    request = only_request(UwsgiCodec(LIMITS).receive_data(packet))
    assert request.vars == {"PATH_INFO": "/\u00e9\u00ff", "HTTP_X": "\u00a0"}


def test_encoder_layout() -> None:
    packet = encode_uwsgi_request({"AB": "c"}, b"body", modifier1=7)
    assert packet == b"\x07\x07\x00\x00" + b"\x02\x00AB" + b"\x01\x00c" + b"body"


def test_encoder_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="65535"):
        encode_uwsgi_request({"K": "v" * 70000})
    with pytest.raises(ValueError, match="block"):
        encode_uwsgi_request({f"K{i}": "v" * 60000 for i in range(2)})
    with pytest.raises(UnicodeEncodeError):
        encode_uwsgi_request({"K": "\u20ac"})


def test_mutated_packets_never_break_the_codec() -> None:
    """Damaged packets give events in order (at most one request), never an exception."""
    corpus = Path(__file__).resolve().parents[2] / "corpus" / "uwsgi"
    samples = [path.read_bytes()[:2000] for path in sorted(corpus.glob("*.bin"))]
    rng = random.Random(2024)
    for _ in range(1500):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        codec = UwsgiCodec(Limits(rng.choice([64, 4096]), rng.choice([0, 8])))
        events: list[Event] = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 300)
            events += codec.receive_data(bytes(data[pos : pos + step]))
            pos += step
        events += codec.receive_eof()
        check_order(events)
