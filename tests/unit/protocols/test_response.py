"""Response encoding: head, Connection rule, splitting defence, chunks, canned errors, dates."""

from __future__ import annotations

import email.utils
import random

import httptools
import pytest

from usher.protocols import (
    CONTINUE_100,
    LAST_CHUNK,
    encode_chunk,
    encode_head,
    error_response,
    format_date,
)

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"


def head(
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
    *,
    http_version: str = "1.1",
    keep_alive: bool = True,
    chunked: bool = False,
) -> bytes:
    return encode_head(
        status,
        [("Content-Type", "text/plain")] if headers is None else headers,
        http_version=http_version,
        keep_alive=keep_alive,
        chunked=chunked,
        date=DATE,
        server=b"usher",
    )


def test_keep_alive_http11_head() -> None:
    assert head() == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: usher\r\n\r\n"
    )


def test_no_headers_from_the_app() -> None:
    assert head("204 No Content", []) == (
        b"HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: usher\r\n\r\n"
    )


def test_close_and_chunked() -> None:
    encoded = head(keep_alive=False, chunked=True)
    assert encoded.endswith(b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize(
    ("http_version", "keep_alive", "connection"),
    [
        ("1.1", True, None),
        ("1.1", False, b"close"),
        ("1.0", True, b"keep-alive"),
        ("1.0", False, b"close"),
    ],
)
def test_connection_rule(http_version: str, keep_alive: bool, connection: bytes | None) -> None:
    encoded = head(http_version=http_version, keep_alive=keep_alive)
    assert encoded.startswith(b"HTTP/1.1 200 OK\r\n")  # 1.1 status line for 1.0 clients too
    fields = dict(line.split(b": ", 1) for line in encoded.split(b"\r\n")[1:-2])
    assert fields.get(b"Connection") == connection


def test_chunked_is_refused_for_http10() -> None:
    with pytest.raises(ValueError, match=r"HTTP/1\.0"):
        head(http_version="1.0", chunked=True)


def test_app_server_and_date_win() -> None:
    encoded = head(headers=[("server", "MyApp/1.0"), ("DATE", "Mon, 01 Jan 2024 00:00:00 GMT")])
    assert b"Server: usher" not in encoded
    assert DATE not in encoded
    assert b"\r\nserver: MyApp/1.0\r\n" in encoded


def test_header_names_ending_like_server_are_not_mistaken_for_it() -> None:
    assert b"Server: usher" in head(headers=[("X-Server", "a"), ("X", "Server: b")])


def test_headers_keep_their_order_and_repeats() -> None:
    cookies = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Vary", "Cookie")]
    assert b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: Cookie\r\n" in head(headers=cookies)


def test_latin_1_values_are_written_as_bytes() -> None:
    assert b"X-Name: caf\xe9\r\n" in head(headers=[("X-Name", "caf\u00e9")])


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("200 OK", [("X-Evil", "a\r\nSet-Cookie: session=stolen")]),
        ("200 OK", [("X-Evil", "a\nb")]),
        ("200 OK", [("X-Evil", "a\rb")]),
        ("200 OK", [("X-Evil", "trailing\r\n")]),
        ("200 OK", [("X-Evil\r\nInjected", "v")]),
        ("200 OK\r\nX-Injected: 1", []),
        ("200 OK", [("A", "ok"), ("B", "ok\n")]),
    ],
)
def test_cr_and_lf_are_refused(status: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        head(status, headers)


def test_non_latin_1_is_refused() -> None:
    with pytest.raises(ValueError):  # UnicodeEncodeError is a ValueError
        head(headers=[("X-Name", "\u20ac")])


def test_head_parses_as_a_response() -> None:
    seen: dict[bytes, bytes] = {}

    class Collect:
        def on_header(self, name: bytes, value: bytes) -> None:
            seen[name] = value

    parser = httptools.HttpResponseParser(Collect())
    parser.feed_data(head(headers=[("Content-Length", "0")], keep_alive=False))
    assert parser.get_status_code() == 200
    assert seen[b"Connection"] == b"close"
    assert seen[b"Date"] == DATE


def test_chunks() -> None:
    assert encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert encode_chunk(b"x" * 255) == b"ff\r\n" + b"x" * 255 + b"\r\n"
    assert encode_chunk(b"") == b""  # an empty chunk would end the body early
    assert LAST_CHUNK == b"0\r\n\r\n"
    assert CONTINUE_100 == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_chunked_body_parses() -> None:
    body: list[bytes] = []

    class Collect:
        def on_body(self, data: bytes) -> None:
            body.append(data)

    parser = httptools.HttpResponseParser(Collect())
    parser.feed_data(head(chunked=True))
    for piece in (b"hello", b"", b", ", b"world"):
        parser.feed_data(encode_chunk(piece))
    parser.feed_data(LAST_CHUNK)
    assert b"".join(body) == b"hello, world"


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(400, b"Bad Request"), (413, b"Too Large"), (431, b"Too Large"), (505, b"Not Supported")],
)
def test_error_response(status: int, phrase: bytes) -> None:
    reason = "request head exceeds buffer-size (4096 bytes)"
    response = error_response(status, reason, date=DATE, server=b"usher")
    head_part, _, body = response.partition(b"\r\n\r\n")
    lines = head_part.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 %d " % status)
    assert phrase in lines[0]
    assert b"Connection: close" in lines
    assert b"Content-Type: text/plain; charset=utf-8" in lines
    assert b"Content-Length: %d" % len(body) in lines
    assert reason.encode() in body


def test_error_response_for_an_unknown_status() -> None:
    assert error_response(599, "x", date=DATE, server=b"u").startswith(b"HTTP/1.1 599 Error\r\n")


def test_error_reason_cannot_split_the_response() -> None:
    response = error_response(400, "bad\r\nX-Injected: 1", date=DATE, server=b"u")
    assert b"\r\nX-Injected" not in response.partition(b"\r\n\r\n")[0]


def test_format_date() -> None:
    assert format_date(784111777) == DATE
    assert format_date(0) == b"Thu, 01 Jan 1970 00:00:00 GMT"
    rng = random.Random(7)
    for _ in range(200):
        ts = rng.uniform(0, 4_000_000_000)
        assert format_date(ts) == email.utils.formatdate(ts, usegmt=True).encode()
