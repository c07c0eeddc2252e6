"""Balancing policies: which server of a pool serves a request, chosen as nginx chooses.

The proxy uses one surface for every policy:

    balancer = Balancer(peers, policy, clock)
    attempt = balancer.begin(RequestInfo(...))
    peer = attempt.pick()          # None: no live upstream (502)
    ...                            # connect, send, read
    attempt.report(failed=...)     # before the next pick, and once at the end

An attempt walks the pool as nginx's `peer.get`/`peer.free` do: servers already tried in this
request are skipped, a failure counts against the server (usher.front.tiers), the primary tier
falls back to the backup tier, and the walk ends after as many attempts as there are servers
(`proxy_next_upstream_tries` bounds it further). The policies are pure: the clock and the random
source are injected, so a sequence of choices is a function of the config and the requests.

- `RoundRobin`: nginx's smooth weighted round-robin (weights 5,1,1 give a a b a c a a).
- `LeastConn`: nginx's least_conn: the least connections per unit of weight, ties by round-robin.
- `TwoChoices`: two weighted random servers, the one with fewer connections per weight
  (power of two choices; nginx's `random two least_conn`).
- `IpHash`: nginx's ip_hash: the first three bytes of an IPv4 client (its /24), all of IPv6.
- `Hash`: nginx's `hash KEY`: CRC-32 of the key, rehashed with a counter on a miss.
- `ConsistentHash`: nginx's `hash KEY consistent` (ketama ring, usher.front.ketama).
- `Sticky`: a cookie names the server that served the client before (nginx Plus' `sticky
  cookie`); new clients and unusable servers go by round-robin, and the attempt says which
  cookie to set.

The hash policies give up after 20 misses and choose by round-robin, as nginx does.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from usher.front.hashed import ConsistentHash, Hash, IpHash
from usher.front.keys import RequestInfo
from usher.front.tiers import Chooser, Member, PeerState, Policy, PoolState, Walk

__all__ = [
    "Attempt",
    "Balancer",
    "ConsistentHash",
    "Hash",
    "IpHash",
    "LeastConn",
    "Member",
    "Policy",
    "RequestInfo",
    "RoundRobin",
    "Sticky",
    "TwoChoices",
]


class _RoundRobinChooser:
    def choose(self, walk: Walk) -> PeerState | None:
        return walk.round_robin()


_ROUND_ROBIN_CHOOSER: Final = _RoundRobinChooser()


class RoundRobin:
    """nginx's default method."""

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _ROUND_ROBIN_CHOOSER


def _load_below(one: PeerState, other: PeerState) -> bool:
    """Fewer connections per unit of weight, compared without division as nginx does."""
    return one.conns * other.peer.weight < other.conns * one.peer.weight


def _load_equal(one: PeerState, other: PeerState) -> bool:
    return one.conns * other.peer.weight == other.conns * one.peer.weight


class _LeastConnChooser:
    def choose(self, walk: Walk) -> PeerState | None:
        while True:
            if walk.tier.single:
                return walk.round_robin()
            chosen = self._in_tier(walk)
            if chosen is not None:
                return walk.take(chosen)
            if not walk.to_backup():
                return None

    @staticmethod
    def _in_tier(walk: Walk) -> PeerState | None:
        candidates = [s for s in walk.tier.states if walk.eligible(s)]
        best: PeerState | None = None
        many = False
        for state in candidates:
            if best is None or _load_below(state, best):
                best, many = state, False
            elif _load_equal(state, best):
                many = True
        if best is None or not many:
            return best
        # Ties go by round-robin among the tied, starting from the first of them.
        first = candidates.index(best)
        tied = [s for s in candidates[first:] if _load_equal(s, best)]
        return walk.smooth_weighted(tied)


_LEAST_CONN_CHOOSER: Final = _LeastConnChooser()


class LeastConn:
    """nginx's least_conn."""

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _LEAST_CONN_CHOOSER


class _TwoChoicesChooser:
    def __init__(self, rng: random.Random, two: bool) -> None:
        self.rng = rng
        self.two = two

    def choose(self, walk: Walk) -> PeerState | None:
        while True:
            candidates = [s for s in walk.tier.states if walk.eligible(s)]
            if candidates:
                return walk.take(self._better_of_two(candidates))
            if not walk.to_backup():
                return None

    def _better_of_two(self, candidates: list[PeerState]) -> PeerState:
        if len(candidates) == 1:
            return candidates[0]
        weights = [s.peer.weight for s in candidates]
        first = self.rng.choices(range(len(candidates)), weights)[0]
        if not self.two:
            return candidates[first]
        rest = [i for i in range(len(candidates)) if i != first]
        second = self.rng.choices(rest, [weights[i] for i in rest])[0]
        one, other = candidates[first], candidates[second]
        return other if _load_below(other, one) else one


class TwoChoices:
    """The power of two choices: cheap, and it avoids a loaded server without a global order.
    With `two=False`, one weighted random choice (nginx's plain `random`)."""

    def __init__(self, rng: random.Random | None = None, *, two: bool = True) -> None:
        self.rng = rng if rng is not None else random.Random()
        self.two = two

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _TwoChoicesChooser(self.rng, self.two)


def route_of(peer: Member) -> str:
    """The sticky cookie's value naming `peer`: the MD5 of its address, as nginx Plus writes."""
    return hashlib.md5(peer.name.encode("latin-1"), usedforsecurity=False).hexdigest()


class _StickyChooser:
    def __init__(self, route: str) -> None:
        self.route = route

    def choose(self, walk: Walk) -> PeerState | None:
        if self.route:
            for state in walk.tier.states:
                if route_of(state.peer) == self.route and walk.eligible(state):
                    self.route = ""  # a retry after a failure goes elsewhere
                    return walk.take(state)
            self.route = ""
        return walk.round_robin()


class Sticky:
    """Sticky sessions by cookie: the client returns to its server while that server is usable."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _StickyChooser(info.cookie(self.cookie))


class Attempt:
    """One request's picks from a pool and the outcome of each."""

    __slots__ = ("_chooser", "_current", "_info", "_sticky", "_tries", "_walk")

    def __init__(
        self, chooser: Chooser, walk: Walk, tries: int, info: RequestInfo, sticky: str
    ) -> None:
        self._chooser = chooser
        self._walk = walk
        self._tries = tries
        self._current: PeerState | None = None
        self._info = info
        self._sticky = sticky

    def pick(self) -> Member | None:
        """The next server to try, or None when none is left (no live upstream, or tries spent).
        Report the outcome of the previous pick first."""
        if self._current is not None:
            raise RuntimeError("report the outcome of the previous pick before picking again")
        if self._tries <= 0:
            return None
        state = self._chooser.choose(self._walk)
        if state is None:
            return None
        state.conns += 1
        self._current = state
        return state.peer

    def report(self, *, failed: bool) -> None:
        """The picked server answered (`failed=False`) or failed (refused, reset, timed out, or
        an answer that counts as a failure); its connection slot is released either way."""
        state = self._current
        if state is None:
            return
        self._current = None
        tier = self._walk.tier
        self._walk.pool.release(state, tier, failed=failed)
        self._tries = 0 if tier.single else self._tries - 1

    def set_cookie(self, peer: Member) -> tuple[str, str] | None:
        """For sticky pools: the (name, value) cookie to set when `peer` served a client whose
        cookie named another server (or none); None otherwise."""
        if not self._sticky:
            return None
        route = route_of(peer)
        if self._info.cookie(self._sticky) == route:
            return None
        return self._sticky, route


@dataclass(frozen=True, slots=True)
class PeerFigures:
    """A server's numbers for the status page."""

    name: str
    backup: bool
    down: bool
    weight: int
    effective_weight: int
    fails: int
    ejected: bool
    conns: int


class Balancer:
    """A pool's servers, their state and its policy; `begin` a request's attempt."""

    def __init__(
        self,
        peers: Sequence[Member],
        policy: Policy,
        clock: Callable[[], float],
        *,
        max_tries: int = 0,
    ) -> None:
        self.policy = policy
        self.max_tries = max_tries  # proxy_next_upstream_tries: 0 is no bound beyond the pool
        self._pool = PoolState(peers, clock)

    @property
    def peers(self) -> list[Member]:
        """The members, primary first."""
        return [state.peer for state in self._pool.states()]

    def replace(self, peers: Sequence[Member]) -> None:
        """Change the members (dynamic membership), keeping the numbers of those that stay.
        Attempts already begun finish on the old members."""
        pool = PoolState(peers, self._pool.clock)
        pool.adopt(self._pool)
        self._pool = pool

    def begin(self, info: RequestInfo) -> Attempt:
        """The attempt of one request."""
        pool = self._pool
        tries = sum(tier.tries for tier in pool.tiers())
        if self.max_tries:
            tries = min(tries, self.max_tries)
        sticky = self.policy.cookie if isinstance(self.policy, Sticky) else ""
        return Attempt(self.policy.chooser(info, pool), Walk(pool), tries, info, sticky)

    def pick(self, info: RequestInfo) -> Member | None:
        """One choice that succeeds at once: what a sequence of healthy requests sees."""
        attempt = self.begin(info)
        peer = attempt.pick()
        attempt.report(failed=False)
        return peer

    def figures(self) -> list[PeerFigures]:
        """Every server's numbers now."""
        now = self._pool.now()
        return [
            PeerFigures(
                name=s.peer.name,
                backup=s.peer.backup,
                down=s.peer.down,
                weight=s.peer.weight,
                effective_weight=s.effective_weight,
                fails=s.fails,
                ejected=bool(s.peer.max_fails)
                and s.fails >= s.peer.max_fails
                and now - s.checked <= s.peer.fail_timeout,
                conns=s.conns,
            )
            for s in self._pool.states()
        ]
