"""A pool's balancing method from its config, on the proxy's seam (usher.front.peers.Policy).

The proxy's pool keeps health (ejections, checks, slow start, panic) and hands the policy the
peers it may choose now; `NginxPolicy` chooses among them with usher.front.balance's policies,
so that the choices are nginx's: it keeps the per-server numbers those policies need (smooth
round-robin's weights, positions for the hash walks) in a `PoolState` mirroring the pool's
servers, and reads each call's weights (lowered during slow start) and connections in flight
from the proxy's peers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from usher.front.balance import (
    ConsistentHash,
    Hash,
    IpHash,
    LeastConn,
    Policy,
    RoundRobin,
    Sticky,
    TwoChoices,
    route_of,
)
from usher.front.keys import RequestInfo, header_names
from usher.front.model import Balance, Method, Upstream
from usher.front.peers import Peer, Pick
from usher.front.tiers import Member, PeerState, PoolState, Walk


def balance_policy(balance: Balance, rng: random.Random | None = None) -> Policy:
    """The usher.front.balance policy of a pool's balancing method."""
    method = balance.method
    if method is Method.LEAST_CONN:
        return LeastConn()
    if method is Method.IP_HASH:
        return IpHash()
    if method is Method.HASH:
        return ConsistentHash(balance.key) if balance.consistent else Hash(balance.key)
    if method is Method.RANDOM:
        return TwoChoices(rng, two=balance.two)
    if method is Method.STICKY:
        return Sticky(balance.cookie)
    return RoundRobin()


def members(upstream: Upstream) -> list[Member]:
    """The pool's servers as the policies see them (health is the proxy's: no max_fails here)."""
    return [
        Member(str(s.address), s.weight, max_fails=0, backup=s.backup, down=s.down)
        for s in upstream.servers
    ]


def request_info(pick: Pick, wanted: Sequence[str] = ()) -> RequestInfo:
    """What the policies read of a request, from the proxy's `Pick`: the cookies, the Host and
    the `wanted` headers (those a hash key names)."""
    headers = {name: pick.header(name) for name in ("cookie", "host", *wanted)}
    return RequestInfo(
        client=pick.client,
        method=pick.method,
        target=pick.uri,
        host=headers["host"],
        headers={name: value for name, value in headers.items() if value},
    )


BLIND = RequestInfo(client="", method="", target="", host="", headers={})


class NginxPolicy:
    """The proxy's Policy, choosing as nginx would among the peers the pool allows."""

    def __init__(self, upstream: Upstream, policy: Policy) -> None:
        self.policy = policy
        self.pool = PoolState(members(upstream), clock=lambda: 0.0)
        # The config index of a server -> its state in the mirror (primary and backup tiers
        # number their servers apart, as nginx does).
        self.states: list[PeerState] = []
        primary = iter(self.pool.primary.states)
        backup = iter(self.pool.backup.states if self.pool.backup is not None else ())
        for server in upstream.servers:
            self.states.append(next(backup) if server.backup else next(primary))
        self.cookie = policy.cookie if isinstance(policy, Sticky) else ""
        key = policy.key if isinstance(policy, Hash | ConsistentHash) else ""
        self.wanted = header_names(key)
        # Round-robin, least_conn and random read nothing of the request: no RequestInfo to make.
        self.blind = isinstance(policy, RoundRobin | LeastConn | TwoChoices)

    def choose(self, peers: Sequence[Peer], pick: Pick) -> Peer | None:
        """One of `peers`, chosen by the pool's method."""
        if len(peers) == 1:
            # Every method picks the only peer it may (nginx's `single` peer takes the same
            # shortcut): a pool of one server, the most common, asks no policy.
            return peers[0]
        return self._choose(peers, pick)

    def _choose(self, peers: Sequence[Peer], pick: Pick) -> Peer | None:
        by_state: dict[int, Peer] = {}
        for peer in peers:
            state = self.states[peer.index]
            state.effective_weight = peer.weight
            state.conns = peer.active
            by_state[id(state)] = peer
        backups = all(peer.server.backup for peer in peers)
        tier = self.pool.backup if backups and self.pool.backup is not None else self.pool.primary
        allowed = {self.states[peer.index].index for peer in peers}
        walk = Walk(self.pool, allowed)
        walk.tier = tier
        info = BLIND if self.blind else request_info(pick, self.wanted)
        chosen = self.policy.chooser(info, self.pool).choose(walk)
        return None if chosen is None else by_state.get(id(chosen))

    def response_headers(self, peer: Peer, pick: Pick) -> list[tuple[str, str]]:
        """The sticky cookie, when the client's names another server (or none)."""
        if not self.cookie:
            return []
        route = route_of(self.states[peer.index].peer)
        if request_info(pick).cookie(self.cookie) == route:
            return []
        return [("set-cookie", f"{self.cookie}={route}; Path=/")]


def make_nginx_policy(upstream: Upstream, rng: random.Random | None = None) -> NginxPolicy:
    """The policy of `upstream`'s balancing method, on the proxy's seam."""
    return NginxPolicy(upstream, balance_policy(upstream.balance, rng))
