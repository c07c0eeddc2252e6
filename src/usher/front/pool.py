"""One upstream pool's state in a worker: which servers may be chosen now, and why not the others.

Decisions only, on numbers the proxy and the checks report; the clock is passed in, so every rule
is tested without waiting:

- passive health (nginx's max_fails/fail_timeout): `max_fails` failed attempts within
  `fail_timeout` eject a server for `fail_timeout`; a 403 or 404 is an answer, never a failure
  (the proxy does not report them); a pool of one primary server never ejects it, as nginx;
- active health (Tengine's check): `fall` failed checks in a row mark it down, `rise` passing
  ones bring it back, also from a passive ejection (the checks then decide when it ends);
- slow start: a server that comes back (ejection over, checks passing again) has its weight
  ramped from 1 to its own over `slow_start` seconds;
- panic: when fewer than `panic_threshold` percent of the primaries are healthy, and no backup
  is, every primary not marked `down` is tried: a mass check failure (a broken check URI, a
  network blip) must not turn into a site-wide 502;
- the retry budget: retries may not pass `budget` percent of the pool's recent requests (plus
  a floor of a few, so a quiet pool can still retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from usher.front.model import Upstream
from usher.front.peers import Peer, Pick, Policy

# Latency is a moving average: each new response weighs this much (about the last 20).
LATENCY_WEIGHT: Final = 0.05
# Retries always allowed in a budget window, as Envoy's min_retry_concurrency: a pool that serves
# two requests a minute must still be able to retry one.
RETRY_FLOOR: Final = 3
# The retry budget counts requests over two windows of this many seconds (the current and the
# previous), so that it follows the load without keeping a per-request history.
BUDGET_WINDOW: Final = 10.0


@dataclass(slots=True, eq=False)
class Health:
    """What the worker knows of one server's health, and its figures for the status page."""

    peer: Peer
    fails: int = 0  # failed attempts in the current fail_timeout window
    window_start: float = 0.0
    ejected_until: float = 0.0  # passive: not chosen before this time
    checked_down: bool = False  # active: fall failures in a row
    check_passes: int = 0  # consecutive passing checks (rise counts these)
    check_failures: int = 0  # consecutive failing checks (fall counts these)
    recovered_at: float | None = None  # when it came back, for slow start
    requests: int = 0
    failures: int = 0  # every failed attempt, for the status page
    latency: float = 0.0  # seconds, a moving average of the time to the response head
    last_failure: str = ""

    def healthy(self, now: float) -> bool:
        """Neither marked down by the checks, nor ejected by failures."""
        return not self.checked_down and now >= self.ejected_until

    def state(self, now: float) -> str:
        """One word for the status page."""
        if self.peer.server.down:
            return "down"
        if self.checked_down:
            return "unhealthy"
        if now < self.ejected_until:
            return "ejected"
        if self.recovered_at is not None and now - self.recovered_at < self.peer.server.slow_start:
            return "slow_start"
        return "up"


class PoolState:
    """The servers of one pool, their health, its policy and its retry budget, in one worker."""

    def __init__(self, upstream: Upstream, policy: Policy) -> None:
        self.upstream = upstream
        self.policy = policy
        self.health = [
            Health(Peer(index, server, server.weight))
            for index, server in enumerate(upstream.servers)
        ]
        self.primaries = [h for h in self.health if not h.peer.server.backup]
        self.backups = [h for h in self.health if h.peer.server.backup]
        self.panics = 0
        # A pool of one server, the most common: its choice needs no candidates' list.
        self.single = self.primaries[0] if len(self.health) == len(self.primaries) == 1 else None
        self.budget_percent = 0  # the largest retry_budget of the passes using this pool
        self._window = (0.0, 0, 0)  # start, requests, retries of the current window
        self._previous = (0, 0)  # requests, retries of the window before

    # -- choosing ------------------------------------------------------------------------------

    def candidates(self, now: float, tried: Sequence[int] = ()) -> list[Peer]:
        """The peers an attempt may go to now, before the policy picks one."""
        healthy = [h for h in self.primaries if self._usable(h, now)]
        wanted = self.upstream.panic_threshold * len(self.primaries)
        if healthy and len(healthy) * 100 >= wanted:
            return self._ready(healthy, now, tried)
        backups = [h for h in self.backups if self._usable(h, now)]
        if backups:
            return self._ready(backups, now, tried)
        if self.upstream.panic_threshold > 0:
            self.panics += 1
            alive = [h for h in self.primaries if not h.peer.server.down]
            return self._ready(alive, now, tried)
        return self._ready(healthy, now, tried)

    def choose(self, now: float, pick: Pick, tried: Sequence[int] = ()) -> Peer | None:
        """The peer for this attempt, or None when none may be tried."""
        single = self.single
        if single is not None:
            # The rules below for a pool of one server, without a list made per request.
            peer = single.peer
            if peer.server.down or peer.index in tried:
                return None
            if not single.healthy(now):
                if self.upstream.panic_threshold <= 0:
                    return None
                self.panics += 1
            peer.weight = self.weight_now(single, now)
            return peer
        peers = self.candidates(now, tried)
        if not peers:
            return None
        return self.policy.choose(peers, pick)

    def _usable(self, health: Health, now: float) -> bool:
        return not health.peer.server.down and health.healthy(now)

    def _ready(self, chosen: list[Health], now: float, tried: Sequence[int]) -> list[Peer]:
        peers = []
        for health in chosen:
            peer = health.peer
            if peer.index in tried:
                continue
            peer.weight = self.weight_now(health, now)
            peers.append(peer)
        return peers

    def weight_now(self, health: Health, now: float) -> int:
        """The server's weight, ramped from 1 during slow start."""
        server = health.peer.server
        since = health.recovered_at
        if since is None or server.slow_start <= 0:
            return server.weight
        share = (now - since) / server.slow_start
        if share >= 1.0:
            health.recovered_at = None
            return server.weight
        return max(1, int(server.weight * share))

    # -- reports from the proxy ----------------------------------------------------------------

    def started(self, peer: Peer) -> None:
        """An attempt on `peer` begins."""
        peer.active += 1
        self.health[peer.index].requests += 1

    def ended(self, peer: Peer) -> None:
        """An attempt on `peer` is over (answered or failed)."""
        peer.active -= 1

    def answered(self, peer: Peer, latency: float, now: float) -> None:
        """`peer` sent a response head after `latency` seconds."""
        health = self.health[peer.index]
        health.latency += (latency - health.latency) * LATENCY_WEIGHT
        if health.fails and now - health.window_start > health.peer.server.fail_timeout:
            health.fails = 0

    def failed(self, peer: Peer, now: float, reason: str) -> None:
        """An attempt on `peer` failed (connect error, timeout, a broken or 502-504 answer)."""
        health = self.health[peer.index]
        health.failures += 1
        health.last_failure = reason
        server = peer.server
        if now - health.window_start > server.fail_timeout:
            health.window_start = now
            health.fails = 0
        health.fails += 1
        if server.max_fails and health.fails >= server.max_fails and self._ejectable(health):
            if now >= health.ejected_until:
                health.ejected_until = now + server.fail_timeout
                health.recovered_at = health.ejected_until
                # With active checks, `rise` passing checks from now on end the ejection early.
                health.check_passes = 0
            health.fails = 0

    def _ejectable(self, health: Health) -> bool:
        # nginx never takes the only server of a pool out: with nowhere else to go, trying it
        # again is better than a certain 502.
        group = self.backups if health.peer.server.backup else self.primaries
        return len(self.health) > 1 and (len(group) > 1 or bool(self.backups))

    # -- reports from the active checks --------------------------------------------------------

    def checked(self, index: int, passed: bool, now: float) -> None:
        """An active check of server `index` passed or failed."""
        check = self.upstream.check
        assert check is not None
        health = self.health[index]
        if passed:
            health.check_passes += 1
            health.check_failures = 0
            ejected = now < health.ejected_until
            if (health.checked_down or ejected) and health.check_passes >= check.rise:
                health.checked_down = False
                health.recovered_at = now
                health.ejected_until = 0.0
                health.fails = 0
        else:
            health.check_failures += 1
            health.check_passes = 0
            if not health.checked_down and health.check_failures >= check.fall:
                health.checked_down = True

    # -- the retry budget ----------------------------------------------------------------------

    def count_request(self, now: float) -> None:
        """A client request begins on this pool."""
        start, requests, retries = self._window
        if now - start < BUDGET_WINDOW:  # every request: the window's tuple, not _roll's
            self._window = (start, requests + 1, retries)
            return
        start, requests, retries = self._roll(now)
        self._window = (start, requests + 1, retries)

    def may_retry(self, now: float) -> bool:
        """Whether one more retry stays within the budget; counts it when it does."""
        start, requests, retries = self._roll(now)
        seen = requests + self._previous[0]
        spent = retries + self._previous[1]
        allowed = RETRY_FLOOR + seen * self.budget_percent // 100
        if spent >= allowed:
            return False
        self._window = (start, requests, retries + 1)
        return True

    def set_budget(self, percent: int) -> None:
        """A pass using this pool allows `percent`: the largest of them wins."""
        self.budget_percent = max(self.budget_percent, percent)

    def _roll(self, now: float) -> tuple[float, int, int]:
        start, requests, retries = self._window
        if now - start >= BUDGET_WINDOW:
            recent = now - start < 2 * BUDGET_WINDOW
            self._previous = (requests, retries) if recent else (0, 0)
            self._window = (now, 0, 0)
            return now, 0, 0
        return start, requests, retries
