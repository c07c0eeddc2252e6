"""The hash policies: nginx's ip_hash, `hash KEY` and `hash KEY consistent` (see usher.front.balance).

Each walks the primary servers by weight from a hash value, down servers included, so that
marking a server down moves only its own keys; a server that cannot be used (down, failed,
already tried in this request) makes the walk probe again, and after 20 misses the choice falls
back to round-robin, as nginx does.
"""

from __future__ import annotations

import ipaddress
import zlib

from usher.front.ketama import Ring, build_ring
from usher.front.keys import RequestInfo, expand
from usher.front.tiers import Chooser, PeerState, PoolState, Walk

# nginx's bound on hash misses before it falls back to round-robin: a pool whose hashed servers
# are mostly down still answers without walking forever.
HASH_MISSES = 20


def _by_weight(walk: Walk, point: int) -> PeerState:
    """The primary server owning `point` of the tier's total weight, down servers included."""
    left = point % walk.pool.primary.total_weight
    for state in walk.pool.primary.states:
        if left < state.peer.weight:
            return state
        left -= state.peer.weight
    raise AssertionError("a point below the total weight always has an owner")


class _HashWalkChooser:
    """What ip_hash and hash share: probe, skip an unusable server, fall back after 20 misses."""

    def __init__(self) -> None:
        self.misses = 0

    def next_point(self) -> int:
        raise NotImplementedError

    def usable_key(self, walk: Walk) -> bool:
        return not walk.pool.primary.single

    def choose(self, walk: Walk) -> PeerState | None:
        if (
            self.misses > HASH_MISSES
            or walk.tier is not walk.pool.primary
            or not self.usable_key(walk)
        ):
            return walk.round_robin()
        while True:
            state = _by_weight(walk, self.next_point())
            if walk.eligible(state):
                return walk.take(state)
            self.misses += 1
            if self.misses > HASH_MISSES:
                return walk.round_robin()


class _IpHashChooser(_HashWalkChooser):
    def __init__(self, client: bytes) -> None:
        super().__init__()
        self.client = client
        self.hash = 89  # nginx's seed

    def next_point(self) -> int:
        value = self.hash
        for byte in self.client:
            value = (value * 113 + byte) % 6271
        self.hash = value
        return value


def client_bytes(address: str) -> bytes:
    """The bytes ip_hash hashes: an IPv4 client's first three (its /24), an IPv6 client's
    sixteen, three zero bytes for anything else (a unix socket peer), as nginx."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return b"\0\0\0"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.packed[:3] if ip.version == 4 else ip.packed


class IpHash:
    """nginx's ip_hash."""

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _IpHashChooser(client_bytes(info.client))


class _KeyHashChooser(_HashWalkChooser):
    def __init__(self, key: bytes) -> None:
        super().__init__()
        self.key = key
        self.hash = 0
        self.rehash = 0

    def usable_key(self, walk: Walk) -> bool:
        return bool(self.key) and len(walk.pool.primary.states) > 1

    def next_point(self) -> int:
        # Cache::Memcached's rehash: CRC-32 of the miss count (from the second probe on) and the
        # key; its bits 16..30 are added to the previous probe's value.
        prefix = str(self.rehash).encode() if self.rehash else b""
        self.hash = (self.hash + ((zlib.crc32(prefix + self.key) >> 16) & 0x7FFF)) & 0xFFFFFFFF
        self.rehash += 1
        return self.hash


class Hash:
    """nginx's `hash KEY` (without consistent): the key is a template of nginx variables."""

    def __init__(self, key: str) -> None:
        self.key = key

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _KeyHashChooser(expand(self.key, info))


class _RingChooser:
    def __init__(self, key: bytes, ring: Ring) -> None:
        self.key = key
        self.ring = ring
        self.point = ring.find(key)
        self.misses = 0

    def choose(self, walk: Walk) -> PeerState | None:
        primary = walk.pool.primary
        if (
            self.misses > HASH_MISSES
            or not self.key
            or len(primary.states) < 2
            or walk.tier is not primary
        ):
            return walk.round_robin()
        while True:
            owner = self.ring.owner(self.point)
            # Several servers may share one written name (a name resolving to many addresses):
            # they take turns by round-robin, as nginx does.
            sharing = [s for s in primary.states if s.peer.name == owner and walk.eligible(s)]
            best = walk.smooth_weighted(sharing)
            if best is not None:
                return walk.take(best)
            self.point += 1
            self.misses += 1
            if self.misses > HASH_MISSES:
                return walk.round_robin()


class ConsistentHash:
    """nginx's `hash KEY consistent`; the ring is built once per set of members."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._rings: dict[tuple[tuple[str, int], ...], Ring] = {}

    def ring(self, pool: PoolState) -> Ring:
        """The ring of the pool's primary servers (cached by membership)."""
        members = tuple((s.peer.name, s.peer.weight) for s in pool.primary.states)
        ring = self._rings.get(members)
        if ring is None:
            self._rings = {members: build_ring(members)}  # only the current membership is kept
            ring = self._rings[members]
        return ring

    def chooser(self, info: RequestInfo, pool: PoolState) -> Chooser:
        return _RingChooser(expand(self.key, info), self.ring(pool))
