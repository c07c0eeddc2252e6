"""Passing to `$host`: the subscription keys a Host header names, the config's spelling and its
errors, a pool per live key (made, rebuilt, dropped), and the nginx comment."""

from __future__ import annotations

import asyncio

import pytest

from usher.front.config import parse_front
from usher.front.dynamic import SubscribedPools
from usher.front.emit_nginx import emit_nginx
from usher.front.ini import FrontConfigError
from usher.front.membership import Membership
from usher.front.model import Address, Pass, Protocol, Upstream
from usher.front.routing import subscription_keys
from usher.protocols.subscription import Subscription

SITE = """
[front]
listen = 127.0.0.1:8080
subscription_server = 127.0.0.1:2626
subscription_tolerance = 3s

[location /]
uwsgi_pass = $host

[location /api/]
proxy_pass = http://$host
"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("host", "keys"),
    [
        (b"a.test", ("a.test",)),
        (b"A.Test", ("a.test",)),
        (b"a.test.", ("a.test",)),
        (b"Shop.Example.com:8000", ("shop.example.com:8000", "shop.example.com")),
        (b"[::1]:8080", ("[::1]:8080", "[::1]")),
        (b"", ()),
    ],
)
def test_a_host_names_its_key_with_its_port_first(host: bytes, keys: tuple[str, ...]) -> None:
    assert subscription_keys(host) == keys


def test_both_passes_read_as_by_host() -> None:
    front = parse_front(SITE)
    actions = [location.action for location in front.hosts[0].locations]
    assert all(isinstance(action, Pass) and action.by_host for action in actions)
    assert [a.protocol for a in actions if isinstance(a, Pass)] == [Protocol.UWSGI, Protocol.HTTP]
    assert front.subscription_server == Address("127.0.0.1", 2626)
    assert front.upstreams == ()  # no pool to declare: the keys make them


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[location /]\nuwsgi_pass = $host\n",
            "[location /] passes to $host but there is no subscription_server",
        ),
        (
            "[front]\nsubscription_server = 127.0.0.1:2626\n[location /]\nuwsgi_pass = $http_x\n",
            "the only variable is $host",
        ),
    ],
)
def test_by_host_mistakes_are_one_line(text: str, expected: str) -> None:
    with pytest.raises(FrontConfigError) as caught:
        parse_front(text)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_keys_compare_without_case() -> None:
    table = Membership(Clock())
    assert table.apply(Subscription("Shop.Example.com", "/run/usher/shop.sock"))
    assert [s.address for s in table.members("shop.example.COM")] == [
        Address(unix="/run/usher/shop.sock")
    ]
    assert list(table.live()) == ["shop.example.com"]


def test_each_live_key_gets_a_pool_rebuilt_and_dropped_with_its_nodes() -> None:
    loop = asyncio.new_event_loop()
    try:
        front = parse_front(SITE)
        pools: dict[str, Upstream] = {}
        changes: list[str] = []

        def replace_key(key: str, upstream: Upstream | None) -> None:
            changes.append(key)
            if upstream is None:
                del pools[key]
            else:
                pools[key] = upstream

        subscribed = SubscribedPools(front, loop, lambda pool: None, lambda line: None, replace_key)
        clock = Clock()
        subscribed.membership = Membership(clock, tolerance=3.0)
        table = subscribed.membership

        table.apply(Subscription("a.test", "/tmp/a.sock"))
        table.apply(Subscription("b.test", "/tmp/b1.sock"))
        table.apply(Subscription("b.test", "/tmp/b2.sock", weight=2))
        subscribed.refresh()
        assert sorted(pools) == ["a.test", "b.test"]
        assert [s.address.unix for s in pools["b.test"].servers] == ["/tmp/b1.sock", "/tmp/b2.sock"]
        assert [s.weight for s in pools["b.test"].servers] == [1, 2]
        assert pools["a.test"].balance == Upstream("x", ()).balance  # the front's default

        changes.clear()
        subscribed.refresh()
        assert changes == []  # nothing changed, nothing rebuilt

        table.apply(Subscription("b.test", "/tmp/b2.sock", weight=5))
        subscribed.refresh()
        assert changes == ["b.test"] and pools["b.test"].servers[1].weight == 5

        changes.clear()
        clock.now += 2.0
        table.apply(Subscription("b.test", "/tmp/b1.sock"))
        table.apply(Subscription("b.test", "/tmp/b2.sock", weight=5))
        clock.now += 2.0  # a.test silent for 4 s, past the tolerance of 3
        subscribed.sweep()
        assert changes == ["a.test"] and sorted(pools) == ["b.test"]

        table.apply(Subscription("b.test", "/tmp/b1.sock", unsubscribe=True))
        subscribed.refresh()
        assert [s.address.unix for s in pools["b.test"].servers] == ["/tmp/b2.sock"]
    finally:
        loop.close()


def test_emitted_nginx_says_it_has_no_equivalent() -> None:
    text = emit_nginx(parse_front(SITE))
    assert "uwsgi_pass $host;" in text
    assert "proxy_pass http://$host;" in text
    assert text.count("subscribed under the request's host") == 2  # one per location
    assert "# subscriptions: they announce themselves and leave when silent)" in text
