"""The points of a consistent-hash ring, placed as nginx's `hash KEY consistent` places them.

nginx follows Cache::Memcached::Fast (ketama): each server gets 160 points per unit of weight.
The first point is the CRC-32 of the server's host, a NUL byte and its port (the address as
written, split at its last `:` when only digits follow; a `unix:` path is all host); each next
point is the CRC-32 of the same bytes followed by the previous point as 4 little-endian bytes.
The points are sorted and a point value held by two servers is kept once. A key's CRC-32 is
looked up as the first point at or above it, wrapping to the first point past the last.

Matching these numbers exactly is what keeps a key on the same server when a site moves between
usher's front and nginx.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

# Cache::Memcached::Fast's and nginx's constant: enough points that a server's share of the ring
# is within a few percent of its weight's share.
POINTS_PER_WEIGHT = 160


def host_and_port(name: str) -> tuple[bytes, bytes]:
    """Split a server's address as written into the host and port bytes the ring hashes."""
    raw = name.encode("latin-1")
    if raw[:5].lower() == b"unix:":
        return raw[5:], b""
    for digits, byte in enumerate(reversed(raw)):
        if byte == ord(":"):
            return raw[: len(raw) - digits - 1], raw[len(raw) - digits :]
        if not ord("0") <= byte <= ord("9"):
            break
    return raw, b""


def server_points(name: str, weight: int) -> list[int]:
    """The ring points of one server."""
    host, port = host_and_port(name)
    base = zlib.crc32(host + b"\0" + port)
    points = []
    previous = 0
    for _ in range(weight * POINTS_PER_WEIGHT):
        previous = zlib.crc32(previous.to_bytes(4, "little"), base)
        points.append(previous)
    return points


@dataclass(frozen=True, slots=True)
class Ring:
    """Sorted points, each naming the server (by its address as written) that owns it."""

    hashes: tuple[int, ...]
    owners: tuple[str, ...]

    def find(self, key: bytes) -> int:
        """The index of the key's point; may equal len(hashes), which callers wrap."""
        return bisect.bisect_left(self.hashes, zlib.crc32(key))

    def owner(self, index: int) -> str:
        """The server owning the point `index`, wrapping around the ring."""
        return self.owners[index % len(self.owners)]


def build_ring(servers: Sequence[tuple[str, int]]) -> Ring:
    """The ring of (name, weight) servers; a name listed twice has its points twice (nginx)."""
    points = sorted(
        (
            (point, order, name)
            for order, (name, weight) in enumerate(servers)
            for point in server_points(name, weight)
        ),
    )
    hashes: list[int] = []
    owners: list[str] = []
    for point, _order, name in points:
        if hashes and hashes[-1] == point:
            continue  # nginx keeps one of two equal points (which one its sort left first)
        hashes.append(point)
        owners.append(name)
    return Ring(tuple(hashes), tuple(owners))
