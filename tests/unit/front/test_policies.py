"""The policies on the proxy's seam choose as the nginx-exact Balancer does, among the peers
the pool allows, with its slow-start weights and connections in flight."""

from __future__ import annotations

from typing import Any

from usher.front.balance import Balancer, IpHash, RequestInfo
from usher.front.choice import make_policy
from usher.front.model import Address, Balance, Method, Server, Upstream
from usher.front.peers import Peer, Pick
from usher.front.policies import make_nginx_policy, members


def upstream(weights: list[int], balance: Balance | None = None) -> Upstream:
    servers = tuple(Server(Address("10.0.0.1", 8000 + n), weight=w) for n, w in enumerate(weights))
    return Upstream("app", servers, balance or Balance())


def peers_of(pool: Upstream) -> list[Peer]:
    return [Peer(n, server, server.weight) for n, server in enumerate(pool.servers)]


def pick(uri: str = "/", client: str = "192.0.2.1", cookie: str = "") -> Pick:
    # The proxy's Pick carries headers as the codec gives them (bytes) or decoded (str); the
    # policies read them only through Pick.header, so either form serves.
    headers: tuple[tuple[Any, Any], ...] = ()
    if cookie:
        probe = Pick("GET", "/", "", (("cookie", "x"),))
        as_text = probe.header("cookie") == "x"
        headers = (("cookie", cookie),) if as_text else ((b"cookie", cookie.encode()),)
    return Pick("GET", uri, client, headers)


def index_of(peer: Peer | None) -> int:
    assert peer is not None
    return peer.index


def test_round_robin_is_nginxs() -> None:
    pool = upstream([5, 1, 1])
    policy = make_policy(pool)
    peers = peers_of(pool)
    chosen = [policy.choose(peers, pick()) for _ in range(7)]
    assert [p.index for p in chosen if p is not None] == [0, 0, 1, 0, 2, 0, 0]


def test_only_allowed_peers_are_chosen_and_slow_start_weights_count() -> None:
    pool = upstream([1, 1, 1])
    policy = make_policy(pool)
    peers = peers_of(pool)
    allowed = [peers[0], peers[2]]
    assert {index_of(policy.choose(allowed, pick())) for _ in range(6)} == {0, 2}
    heavy = upstream([3, 1, 1])
    policy = make_policy(heavy)
    ramped = peers_of(heavy)
    ramped[0].weight = 1  # slow start: weight 1 of 3 for now
    seq = [index_of(policy.choose(ramped, pick())) for _ in range(6)]
    assert seq.count(0) == 2  # a third of the choices, not three fifths


def test_ip_hash_on_the_seam_matches_the_balancer() -> None:
    pool = upstream([1, 2, 1], Balance(Method.IP_HASH))
    policy = make_policy(pool)
    balancer = Balancer(members(pool), IpHash(), clock=lambda: 0.0)
    for n in range(40):
        client = f"10.{n}.{n * 7 % 250}.9"
        seam = policy.choose(peers_of(pool), pick(client=client))
        exact = balancer.pick(RequestInfo(client=client))
        assert seam is not None and exact is not None
        assert str(seam.server.address) == exact.name


def test_least_conn_reads_connections_in_flight() -> None:
    pool = upstream([1, 1, 1], Balance(Method.LEAST_CONN))
    policy = make_policy(pool)
    peers = peers_of(pool)
    peers[0].active, peers[1].active, peers[2].active = 3, 1, 2
    assert policy.choose(peers, pick()) is peers[1]


def test_hash_retry_moves_on_when_the_first_choice_is_excluded() -> None:
    pool = upstream([1, 1, 1, 1], Balance(Method.HASH, key="$request_uri", consistent=True))
    policy = make_nginx_policy(pool)
    peers = peers_of(pool)
    first = policy.choose(peers, pick("/a"))
    assert first is not None
    assert policy.choose(peers, pick("/a")) is first
    rest = [p for p in peers if p is not first]
    second = policy.choose(rest, pick("/a"))
    assert second is not None and second is not first


def test_sticky_sets_its_cookie_once() -> None:
    pool = upstream([1, 1], Balance(Method.STICKY, cookie="srv"))
    policy = make_policy(pool)
    peers = peers_of(pool)
    first = policy.choose(peers, pick())
    assert first is not None
    headers = policy.response_headers(first, pick())
    assert len(headers) == 1 and headers[0][0] == "set-cookie"
    value = headers[0][1].split(";")[0].split("=", 1)[1]
    again = pick(cookie=f"srv={value}")
    assert all(policy.choose(peers, again) is first for _ in range(4))
    assert policy.response_headers(first, again) == []
