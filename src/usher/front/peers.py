"""What a balancing policy sees and answers: the seam between the proxy and `usher.front.balance`.

The proxy keeps each server's state (`Peer`: health, connections in flight, the weight slow start
allows now) and asks the pool's `Policy` for one peer per attempt. The policy sees only the peers
it may choose (up, not `down`, not already tried for this request; the backups when no primary
is left) and the request's `Pick`; it keeps its own state (smooth round-robin's current weights,
a hash ring) between calls. One policy per pool and worker, on the worker's loop: no locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from usher.front.model import Server


@dataclass(slots=True, eq=False)
class Peer:
    """One server of a pool, as this worker sees it; the proxy updates every field but `index`
    and `server`."""

    index: int  # the server's position in its pool, as in the config (stable for hashing)
    server: Server
    weight: int  # the weight to use now: the server's, lowered during slow start, at least 1
    active: int = 0  # requests this worker has in flight on it
    # nginx's smooth weighted round-robin keeps a current weight per peer; a policy may use it.
    current_weight: int = 0
    scratch: dict[str, int] = field(default_factory=dict)  # any other per-peer state of a policy


@dataclass(slots=True)  # not frozen: one is made per request, and frozen fields cost 3x
class Pick:
    """What a policy may know of the request: its method, target (`$request_uri`), client
    address (`$remote_addr`, after the trusted-proxy rules) and headers (names lower-case)."""

    method: str
    uri: str
    client: str
    # As the codec gave them: names lower-case bytes, values as sent.
    headers: Sequence[tuple[bytes, bytes]] = ()

    def header(self, name: str) -> str:
        """The first value of header `name` (lower-case), or ''."""
        wanted = name.encode("latin-1")
        for key, value in self.headers:
            if key == wanted:
                return value.decode("latin-1")
        return ""


class Policy(Protocol):
    """A pool's balancing method, made once per pool and worker."""

    def choose(self, peers: Sequence[Peer], pick: Pick) -> Peer | None:
        """One of `peers` (never empty) for this attempt, or None to refuse them all."""
        ...

    def response_headers(self, peer: Peer, pick: Pick) -> list[tuple[str, str]]:
        """Headers the front adds to the client's response once `peer` answered (a sticky
        cookie); usually none."""
        ...
