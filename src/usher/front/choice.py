"""The policy a pool balances with: `make_policy(upstream)`.

Every method chooses as nginx does (usher.front.policies over usher.front.balance); the smooth
weighted round-robin below is the plain form of nginx's default method, kept for reference.
"""

from __future__ import annotations

from collections.abc import Sequence

from usher.front.model import Upstream
from usher.front.peers import Peer, Pick, Policy
from usher.front.policies import make_nginx_policy


class SmoothRoundRobin:
    """nginx's smooth weighted round-robin: each peer gains its weight, the richest is chosen
    and pays back the total (weights 5, 1, 1 give a a b a c a a)."""

    def choose(self, peers: Sequence[Peer], pick: Pick) -> Peer | None:
        total = 0
        best: Peer | None = None
        for peer in peers:
            peer.current_weight += peer.weight
            total += peer.weight
            if best is None or peer.current_weight > best.current_weight:
                best = peer
        if best is not None:
            best.current_weight -= total
        return best

    def response_headers(self, peer: Peer, pick: Pick) -> list[tuple[str, str]]:
        return []


def make_policy(upstream: Upstream) -> Policy:
    """The policy of `upstream`'s balancing method."""
    return make_nginx_policy(upstream)
