"""The subscription table: join, refresh, leave, silence past the tolerance, bounds, and the
receiver's handling of junk."""

from __future__ import annotations

from usher.front import membership as membership_module
from usher.front.membership import Membership, resolve_address
from usher.front.model import Address
from usher.front.subscription_server import SubscriptionReceiver
from usher.protocols.subscription import Subscription, encode_subscription


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sub(address: str, *, weight: int = 1, unsubscribe: bool = False) -> Subscription:
    return Subscription("example.com", address, weight=weight, unsubscribe=unsubscribe)


def test_join_refresh_leave() -> None:
    table = Membership(Clock())
    assert table.apply(sub("10.0.0.1:3031"))
    assert table.apply(sub("10.0.0.2:3031", weight=3))
    assert not table.apply(sub("10.0.0.1:3031"))  # a refresh changes nothing
    servers = table.members("example.com")
    assert [s.address for s in servers] == [Address("10.0.0.1", 3031), Address("10.0.0.2", 3031)]
    assert [s.weight for s in servers] == [1, 3]
    version = table.version
    assert table.apply(sub("10.0.0.1:3031", unsubscribe=True))
    assert table.version > version
    assert [s.address.host for s in table.members("example.com")] == ["10.0.0.2"]
    assert table.apply(sub("10.0.0.2:3031", unsubscribe=True))
    assert table.keys() == []


def test_silent_nodes_drop_after_the_tolerance() -> None:
    clock = Clock()
    table = Membership(clock, tolerance=17)
    table.apply(sub("10.0.0.1:3031"))
    table.apply(sub("10.0.0.2:3031"))
    clock.now += 10
    table.apply(sub("10.0.0.2:3031"))  # only this one keeps announcing
    clock.now += 10
    assert [n.address for n in table.nodes("example.com")] == ["10.0.0.2:3031"]
    clock.now += 18
    assert table.nodes("example.com") == []


def test_wildcard_hosts_are_the_senders() -> None:
    assert resolve_address(":3031", "10.1.2.3") == "10.1.2.3:3031"
    assert resolve_address("0.0.0.0:3031", "10.1.2.3") == "10.1.2.3:3031"
    assert resolve_address("10.0.0.9:3031", "10.1.2.3") == "10.0.0.9:3031"
    assert resolve_address("/run/app.sock", "") == "/run/app.sock"
    table = Membership(Clock())
    table.apply(sub(":3031"), sender="127.0.0.5")
    assert table.members("example.com")[0].address == Address("127.0.0.5", 3031)


def test_bounds() -> None:
    table = Membership(Clock())
    limit = membership_module.MAX_NODES_PER_KEY
    for n in range(limit + 5):
        table.apply(sub(f"10.0.{n // 250}.{n % 250 + 1}:3031"))
    assert len(table.nodes("example.com")) == limit
    assert table.refused == 5
    assert not table.apply(sub("no-port"))


def test_receiver_applies_packets_and_survives_junk() -> None:
    table = Membership(Clock())
    lines: list[str] = []
    receiver = SubscriptionReceiver(table, lines.append)
    receiver.datagram_received(encode_subscription(sub(":3031")), ("127.0.0.7", 5555))
    for junk in (b"", b"GET / HTTP/1.1\r\n\r\n", b"\xe0\xff\xff\x00"):
        receiver.datagram_received(junk, ("127.0.0.8", 5555))
    assert receiver.invalid == 3
    assert [n.address for n in table.nodes("example.com")] == ["127.0.0.7:3031"]
    assert lines[0] == "usher front: :3031 joined 'example.com'"
    assert len([line for line in lines if "ignored" in line]) == 1  # once per sender


def test_front_config_subscription_keys() -> None:
    from usher.front.config import parse_front
    from usher.front.ini import FrontConfigError

    base = "[front]\nlisten = 127.0.0.1:8080\n{extra}\n[upstream app]\nsubscription = example.com\n"
    base += "\n[location /]\nproxy_pass = http://app\n"
    front = parse_front(base.format(extra="fastrouter-subscription-server = 127.0.0.1:2626"))
    assert front.subscription_server == Address("127.0.0.1", 2626)
    assert front.upstream("app").subscription == "example.com"
    assert front.upstream("app").servers == ()
    try:
        parse_front(base.format(extra=""))
    except FrontConfigError as exc:
        assert "no subscription_server" in str(exc)
    else:
        raise AssertionError("accepted without a subscription_server")
    # Several workers share one membership (usher.front.shared_membership).
    several = parse_front(base.format(extra="subscription_server = :2626\nprocesses = 2"))
    assert several.processes == 2 and several.subscription_server is not None
