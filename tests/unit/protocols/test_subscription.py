"""uWSGI's subscription packets: the layout uWSGI writes, round trips, refusals, option values."""

from __future__ import annotations

import pytest

from usher.protocols.subscription import (
    Subscribe2,
    Subscription,
    SubscriptionError,
    decode_subscription,
    encode_subscription,
    parse_subscribe2,
    parse_subscribe_to,
)


def field(text: bytes) -> bytes:
    return len(text).to_bytes(2, "little") + text


def uwsgi_layout(command: int, pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A packet laid out byte by byte as uWSGI's uwsgi_send_subscription writes it."""
    block = b"".join(field(k) + field(v) for k, v in pairs)
    return bytes((224,)) + len(block).to_bytes(2, "little") + bytes((command,)) + block


UWSGI_PAIRS = [
    (b"key", b"example.com"),
    (b"address", b"10.0.0.5:3031"),
    (b"modifier1", b"0"),
    (b"modifier2", b"0"),
    (b"cores", b"8"),
    (b"load", b"3"),
    (b"weight", b"2"),
]


def test_decodes_uwsgis_layout() -> None:
    sub = decode_subscription(uwsgi_layout(0, UWSGI_PAIRS))
    assert sub == Subscription("example.com", "10.0.0.5:3031", 0, 0, 8, 3, 2)
    assert decode_subscription(uwsgi_layout(1, UWSGI_PAIRS)).unsubscribe


def test_encodes_uwsgis_layout_exactly() -> None:
    sub = Subscription("example.com", "10.0.0.5:3031", cores=8, load=3, weight=2)
    assert encode_subscription(sub) == uwsgi_layout(0, UWSGI_PAIRS)


def test_round_trip_keeps_extra_variables() -> None:
    sub = Subscription(
        "k", "/run/app.sock", modifier1=5, unsubscribe=True, extra=(("notify", "x"),)
    )
    assert decode_subscription(encode_subscription(sub)) == sub


def test_weight_zero_counts_as_one() -> None:
    pairs = [p if p[0] != b"weight" else (b"weight", b"0") for p in UWSGI_PAIRS]
    assert decode_subscription(uwsgi_layout(0, pairs)).weight == 1


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\xe0\x00",
        uwsgi_layout(0, UWSGI_PAIRS)[:-1],  # shorter than its header says
        bytes((0,)) + uwsgi_layout(0, UWSGI_PAIRS)[1:],  # a request, not a subscription
        uwsgi_layout(7, UWSGI_PAIRS),  # unknown command
        uwsgi_layout(0, [(b"key", b"example.com")]),  # no address
        uwsgi_layout(0, [(b"key", b"x" * 300), (b"address", b"1.2.3.4:5")]),
        bytes((224, 3, 0, 0)) + b"\x09\x00k",  # a key length running past the block
    ],
)
def test_refuses_what_is_not_a_subscription(datagram: bytes) -> None:
    with pytest.raises(SubscriptionError):
        decode_subscription(datagram)


def test_subscribe_to_values() -> None:
    assert parse_subscribe_to("127.0.0.1:2626:example.com") == ("127.0.0.1:2626", "example.com", 0)
    assert parse_subscribe_to("10.0.0.1:2626:test.it:8000,5") == (
        "10.0.0.1:2626",
        "test.it:8000",
        5,
    )
    assert parse_subscribe_to("/tmp/sub.sock:example.com") == ("/tmp/sub.sock", "example.com", 0)
    for bad in ("127.0.0.1:2626", "example.com", "1.2.3.4:1:k,5,SHA1:/key.pem", "1.2.3.4:1:k,x"):
        with pytest.raises(SubscriptionError):
            parse_subscribe_to(bad)


def test_subscribe2_values() -> None:
    spec = parse_subscribe2("server=127.0.0.1:2626,key=example.com,addr=10.0.0.2:3031,weight=3")
    assert spec == Subscribe2("127.0.0.1:2626", "example.com", "10.0.0.2:3031", 3)
    for bad in ("key=example.com", "server=1.2.3.4:5,key=k,sign=x", "server=a:1,key=k,weight=x"):
        with pytest.raises(SubscriptionError):
            parse_subscribe2(bad)
