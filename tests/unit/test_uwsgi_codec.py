"""UwsgiCodec and encode_uwsgi_request beyond the corpus: limits, states, odd packets."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from usher.protocols import (
    CodecState,
    Event,
    Limits,
    ProtocolError,
    Request,
    UwsgiCodec,
    encode_uwsgi_request,
)
from usher.protocols.uwsgi import decode_vars

LIMITS = Limits(max_head=4096, max_body=0, spool_threshold=1024)
GET = {
    "REQUEST_METHOD": "GET",
    "REQUEST_URI": "/a%20b/c?x=1",
    "PATH_INFO": "/a b/c",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "CONTENT_LENGTH": "",
    "HTTP_HOST": "example.com",
}


def only_request(events: Sequence[Event]) -> Request:
    assert len(events) == 1 and isinstance(events[0], Request), events
    return events[0]


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
    assert request.body.read() == b""
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
    assert codec.receive_data(packet[3:-2]) == []
    states.append(codec.state)
    request = only_request(codec.receive_data(packet[-2:] + b"extra bytes are ignored"))
    states.append(codec.state)
    assert request.body.read() == b"hello"
    assert codec.receive_data(b"more") == []
    assert states == [CodecState.IDLE, CodecState.HEAD, CodecState.BODY, CodecState.DONE]


def test_body_past_spool_threshold_goes_to_a_file() -> None:
    body = b"0123456789" * 1000
    packet = encode_uwsgi_request({**GET, "CONTENT_LENGTH": str(len(body))}, body)
    request = only_request(UwsgiCodec(LIMITS).receive_data(packet))
    assert request.body.spooled
    assert request.body.read() == body
    request.body.close()


def test_block_exactly_buffer_size_is_accepted() -> None:
    packet = encode_uwsgi_request({"PATH_INFO": "/", "X": "y" * 100})
    size = len(packet) - 4
    only_request(UwsgiCodec(Limits(size, 0, 0)).receive_data(packet))
    events = UwsgiCodec(Limits(size - 1, 0, 0)).receive_data(packet)
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
    (error,) = UwsgiCodec(Limits(4096, 1000, 0)).receive_data(packet)
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
    # The first block teaches the run of keys that opens it (usher.protocols.uwsgi._lead); every
    # later block, whatever it opens with, decodes exactly as field by field.
    decode_vars(block_of([*NGINX_LEAD, ("HTTP_HOST", "first")]))
    assert decode_vars(block_of(pairs)) == dict(pairs)


def test_a_learned_key_sent_again_among_the_headers_keeps_the_last_value() -> None:
    decode_vars(block_of(NGINX_LEAD))
    block = block_of(NGINX_LEAD) + block_of([("REQUEST_METHOD", "HEAD")])
    assert decode_vars(block)["REQUEST_METHOD"] == "HEAD"


def test_a_block_truncated_inside_the_learned_run_is_refused() -> None:
    decode_vars(block_of(NGINX_LEAD))
    with pytest.raises(ValueError, match="runs past"):
        decode_vars(block_of(NGINX_LEAD)[:-3])


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
    """Damaged packets give at most one event, never an exception."""
    corpus = Path(__file__).resolve().parent.parent / "corpus" / "uwsgi"
    samples = [path.read_bytes()[:2000] for path in sorted(corpus.glob("*.bin"))]
    rng = random.Random(2024)
    for _ in range(1500):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        codec = UwsgiCodec(Limits(rng.choice([64, 4096]), rng.choice([0, 8]), 16))
        events: list[Event] = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 300)
            events += codec.receive_data(bytes(data[pos : pos + step]))
            pos += step
        events += codec.receive_eof()
        assert len(events) <= 1
        for event in events:
            if isinstance(event, Request):
                event.body.close()
