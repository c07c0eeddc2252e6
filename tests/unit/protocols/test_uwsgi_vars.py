"""encode_uwsgi_vars: the packet encode_uwsgi_request makes, from byte strings."""

from __future__ import annotations

import pytest

from usher.protocols.uwsgi import encode_uwsgi_request, encode_uwsgi_vars


def test_the_same_packet_as_from_text() -> None:
    text = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/caf\xe9",
        "QUERY_STRING": "",
        "HTTP_COOKIE": "c" * 3000,  # past the table of short lengths
        "K" * 1500: "long key",
    }
    raw = {key.encode("latin-1"): value.encode("latin-1") for key, value in text.items()}
    assert encode_uwsgi_vars(raw, modifier1=0) == encode_uwsgi_request(text, modifier1=0)


def test_fields_past_the_protocol_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds 65535"):
        encode_uwsgi_vars({b"HTTP_X": b"x" * 70_000})
    with pytest.raises(ValueError, match="block"):
        encode_uwsgi_vars({b"HTTP_%d" % n: b"x" * 30_000 for n in range(3)})
