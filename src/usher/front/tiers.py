"""The state of an upstream pool's servers, kept as nginx's round-robin module keeps it.

Every balancing policy (usher.front.balance) reads and updates the same per-server numbers, so a
policy's choices, and the way a failure ejects a server, match nginx's on the same config:

- `current_weight` and `effective_weight` drive the smooth weighted round-robin: at each choice
  every eligible server gains its effective weight, the largest wins and loses the sum gained.
- A failure adds one to `fails`, stamps `accessed` and `checked`, and lowers the effective weight
  by `weight / max_fails`; it climbs back by one per choice it takes part in.
- A server with `fails >= max_fails` is skipped until `fail_timeout` seconds passed since
  `checked`; it is then tried again, and a success clears its failures (nginx's `accessed <
  checked` test).
- `down` servers are never chosen but keep their place (the hash policies count their weight).
- A tier of one server (and no backup) is never ejected: there is nothing else to send to.
- `backup` servers form a second tier, used only when no primary server can be chosen.

Time is whole seconds, as nginx's `ngx_time()`; the clock is injected, so everything here is
deterministic and tested without waiting. `Policy` and `Chooser` are what every balancing
method implements (usher.front.balance, usher.front.hashed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from usher.front.keys import RequestInfo


@dataclass(frozen=True, slots=True)
class Member:
    """One server of a pool, as an `upstream` block's `server` line declares it."""

    name: str  # the address as written ("127.0.0.1:8001", "unix:/run/app.sock"); chash hashes it
    weight: int = 1
    max_fails: int = 1  # nginx's default; 0: failures never eject
    fail_timeout: int = 10  # seconds: the window failures count in, and the ejection's length
    backup: bool = False
    down: bool = False
    max_conns: int = 0  # 0: no bound


class PeerState:
    """A peer and the numbers the policies keep for it (one per worker, as nginx without zone)."""

    __slots__ = (
        "accessed",
        "checked",
        "conns",
        "current_weight",
        "effective_weight",
        "fails",
        "index",
        "peer",
    )

    def __init__(self, peer: Member, index: int) -> None:
        self.peer = peer
        self.index = index  # the position in its tier: the hash policies walk by it
        self.current_weight = 0
        self.effective_weight = peer.weight
        self.fails = 0
        self.accessed = 0
        self.checked = 0
        self.conns = 0

    def usable(self, now: int) -> bool:
        """Not down, not ejected by recent failures, not at max_conns."""
        peer = self.peer
        if peer.down:
            return False
        if (
            peer.max_fails
            and self.fails >= peer.max_fails
            and now - self.checked <= peer.fail_timeout
        ):
            return False
        return not (peer.max_conns and self.conns >= peer.max_conns)

    def note_chosen(self, now: int) -> None:
        """A chosen peer starts a new failure window once the last one is over."""
        if now - self.checked > self.peer.fail_timeout:
            self.checked = now


class Tier:
    """The primary servers of a pool, or its backup servers."""

    __slots__ = ("single", "states", "total_weight", "tries")

    def __init__(self, peers: Sequence[Member], *, single: bool) -> None:
        self.states = [PeerState(peer, index) for index, peer in enumerate(peers)]
        self.total_weight = sum(peer.weight for peer in peers)  # down servers included, as nginx
        self.tries = sum(1 for peer in peers if not peer.down)
        self.single = single


class PoolState:
    """A pool's two tiers and its clock; what every request's walk shares."""

    __slots__ = ("backup", "clock", "primary")

    def __init__(self, peers: Sequence[Member], clock: Callable[[], float]) -> None:
        primary = [peer for peer in peers if not peer.backup]
        backup = [peer for peer in peers if peer.backup]
        # nginx: a lone primary server is "single" (never ejected) only when no backup exists.
        self.primary = Tier(primary, single=len(primary) == 1 and not backup)
        self.backup = Tier(backup, single=False) if backup else None
        self.clock = clock

    def now(self) -> int:
        """The clock in whole seconds, as nginx's failure windows count."""
        return int(self.clock())

    def tiers(self) -> list[Tier]:
        """Primary, then backup when there is one."""
        return [self.primary] if self.backup is None else [self.primary, self.backup]

    def states(self) -> list[PeerState]:
        """Every server's state, primary first."""
        return [state for tier in self.tiers() for state in tier.states]

    def adopt(self, old: PoolState) -> None:
        """Keep the numbers of servers that stay (same name and tier) across a change of members."""
        before = {(s.peer.name, s.peer.backup): s for s in old.states()}
        for state in self.states():
            kept = before.get((state.peer.name, state.peer.backup))
            if kept is None:
                continue
            state.fails, state.accessed, state.checked = kept.fails, kept.accessed, kept.checked
            state.conns, state.current_weight = kept.conns, kept.current_weight
            state.effective_weight = min(kept.effective_weight, state.peer.weight)

    def release(self, state: PeerState, tier: Tier, *, failed: bool) -> None:
        """An attempt on `state` is over; a failure counts against it (nginx's free_peer)."""
        state.conns -= 1
        if tier.single:
            return  # a lone server is never ejected
        now = self.now()
        if failed:
            state.fails += 1
            state.accessed = now
            state.checked = now
            peer = state.peer
            if peer.max_fails:
                state.effective_weight -= peer.weight // peer.max_fails
            state.effective_weight = max(state.effective_weight, 0)
        elif state.accessed < state.checked:
            state.fails = 0  # it answered after its failure window: alive again


class Walk:
    """One request's way through a pool: the tier it is in and the servers it already tried."""

    __slots__ = ("allowed", "fallback", "now", "pool", "tier", "tried")

    def __init__(self, pool: PoolState, allowed: set[int] | None = None) -> None:
        self.pool = pool
        self.tier = pool.primary
        self.tried: set[int] = set()
        self.now = pool.now()
        # When the proxy keeps health itself, it names the positions it allows in the tier and
        # moves to the backups on its own: `fallback` is then off.
        self.allowed = allowed
        self.fallback = allowed is None

    def eligible(self, state: PeerState) -> bool:
        """Untried in this request, allowed, and usable now."""
        if self.allowed is not None and state.index not in self.allowed:
            return False
        return state.index not in self.tried and state.usable(self.now)

    def take(self, state: PeerState) -> PeerState:
        """Mark `state` tried and stamp its window: the common end of every policy's choice."""
        self.tried.add(state.index)
        state.note_chosen(self.now)
        return state

    def to_backup(self) -> bool:
        """Move to the backup tier (forgetting what was tried); False when there is none left."""
        backup = self.pool.backup
        if backup is None or self.tier is backup or not self.fallback:
            return False
        self.tier = backup
        self.tried = set()
        return True

    def smooth_weighted(self, candidates: Sequence[PeerState]) -> PeerState | None:
        """nginx's smooth weighted round-robin among `candidates`, in their order."""
        best: PeerState | None = None
        total = 0
        for state in candidates:
            state.current_weight += state.effective_weight
            total += state.effective_weight
            if state.effective_weight < state.peer.weight:
                state.effective_weight += 1
            if best is None or state.current_weight > best.current_weight:
                best = state
        if best is not None:
            best.current_weight -= total
        return best

    def round_robin(self) -> PeerState | None:
        """nginx's round-robin choice, falling back to the backup tier."""
        while True:
            chosen = self._round_robin_in_tier()
            if chosen is not None:
                return self.take(chosen)
            if not self.to_backup():
                return None

    def _round_robin_in_tier(self) -> PeerState | None:
        tier = self.tier
        if tier.single:
            state = tier.states[0]
            peer = state.peer
            if peer.down or (peer.max_conns and state.conns >= peer.max_conns):
                return None
            return state
        return self.smooth_weighted([s for s in tier.states if self.eligible(s)])


class Chooser(Protocol):
    """One request's side of a policy: it may keep state between the picks of one request."""

    def choose(self, walk: Walk) -> PeerState | None: ...


class Policy(Protocol):
    """A balancing method: a chooser per request, given the pool (rebuilt when members change)."""

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser: ...
