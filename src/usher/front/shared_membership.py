"""One subscription membership for every worker of a front, in memory they share.

A datagram sent to a UDP port reaches one process, and every worker's pools must see every
announce. The design, chosen for having one writer and no lock on the hot path:

- The master binds the subscription server's UDP socket before it forks (usher.front.handler's
  `FrontSource`), so every worker inherits the same socket and the kernel keeps the datagrams
  queued whoever reads them; no worker rebinds, and none races another to bind.
- One worker, the receiver, reads that socket: it claims the receiver word of this area (the
  first worker to start; when its pid is gone, the next worker to tick takes over, as a row of
  usher.front.shared is taken over). It keeps the authoritative `Membership` (silence sweep
  included) and rewrites a key's record here whenever one of that key's nodes subscribes, is
  refreshed, leaves or falls silent.
- Every other worker reads this area on its once-a-second tick, only when the change counter
  moved, and rebuilds the pools whose nodes changed: a follower lags the receiver by at most a
  tick.

A new receiver starts from what the area holds, the announce times included (the monotonic
clock is the same in every process), so a takeover neither forgets nodes nor extends their
silence tolerance. The datagrams sent while no worker reads wait in the socket's buffer.

Forwarding each datagram between workers over SO_REUSEPORT sockets was the alternative; it
needs a channel between every pair of workers, and a reload changes the set.

The area: a head (a sequence, odd while the receiver writes, and the change counter), then a
record per key slot (the key and its node count), then per key slot `nodes` node records. Bounded
by usher.front.membership's MAX_KEYS and MAX_NODES_PER_KEY; an anonymous mapping only takes
memory for the pages written, so the bound costs address space, not memory.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import struct
from typing import Final, Literal, overload

from usher.front.membership import (
    MAX_ADDRESS_BYTES,
    MAX_KEY_BYTES,
    MAX_KEYS,
    MAX_NODES_PER_KEY,
    Node,
)

HEAD: Final = struct.Struct("=3q")  # sequence (odd while written), changes, receiver pid
KEY: Final = struct.Struct(f"={MAX_KEY_BYTES}sq")  # key, node count (0: a free slot)
# address, weight, modifier1, modifier2, cores, load, seen, since
NODE: Final = struct.Struct(f"={MAX_ADDRESS_BYTES}s5q2d")
# A reader that meets the writer mid-write tries again this many times, then waits a tick.
READ_TRIES: Final = 4


class SharedMembership:
    """The area, made in the master before the fork; the receiver writes, the others read."""

    def __init__(self, keys: int = MAX_KEYS, nodes: int = MAX_NODES_PER_KEY) -> None:
        self.keys = keys
        self.nodes = nodes
        self.key_base = HEAD.size
        self.node_base = HEAD.size + keys * KEY.size
        size = self.node_base + keys * nodes * NODE.size
        self.memory = mmap.mmap(-1, size)  # anonymous and MAP_SHARED
        # Taken only to claim the receiver's word (as usher.front.shared claims a row).
        self.claiming = multiprocessing.get_context("fork").Lock()
        self.slots: dict[str, int] = {}  # the receiver's: key -> slot

    # -- the receiver ------------------------------------------------------------------------

    def claim(self) -> bool:
        """True when this process is the receiver: it was, or the receiver's pid is gone."""
        pid = os.getpid()
        if self.receiver() == pid:
            return True
        with self.claiming:
            owner = self.receiver()
            if owner != 0 and owner != pid and _alive(owner):
                return False
            seq, changes, _ = HEAD.unpack_from(self.memory, 0)
            HEAD.pack_into(self.memory, 0, seq, changes, pid)
        self.slots = {}
        for slot in range(self.keys):
            key, count = KEY.unpack_from(self.memory, self.key_base + slot * KEY.size)
            if count:
                self.slots[key.rstrip(b"\0").decode(errors="replace")] = slot
        return True

    def receiver(self) -> int:
        """The receiver's pid (0: none yet)."""
        return int(HEAD.unpack_from(self.memory, 0)[2])

    def publish(self, key: str, nodes: list[Node], changed: bool) -> bool:
        """Write `key`'s live nodes (none: free its slot); `changed` moves the change counter
        (a refreshed announce time alone does not make the followers rebuild). False when the
        key has no slot left (never past MAX_KEYS, which the membership enforces too)."""
        slot = self.slots.get(key)
        if slot is None:
            if not nodes:
                return True
            used = set(self.slots.values())
            slot = next((n for n in range(self.keys) if n not in used), None)
            if slot is None:
                return False
            self.slots[key] = slot
        seq, changes, pid = HEAD.unpack_from(self.memory, 0)
        seq |= 1  # odd: a reader that meets it waits (a dead writer's odd value is kept odd)
        HEAD.pack_into(self.memory, 0, seq, changes, pid)
        count = min(len(nodes), self.nodes)
        base = self.node_base + slot * self.nodes * NODE.size
        for number, node in enumerate(nodes[:count]):
            NODE.pack_into(
                self.memory,
                base + number * NODE.size,
                node.address.encode(),
                node.weight,
                node.modifier1,
                node.modifier2,
                node.cores,
                node.load,
                node.seen,
                node.since,
            )
        name = key.encode() if count else b""
        KEY.pack_into(self.memory, self.key_base + slot * KEY.size, name, count)
        if not count:
            del self.slots[key]
        HEAD.pack_into(self.memory, 0, seq + 1, changes + changed, pid)
        return True

    # -- the followers -----------------------------------------------------------------------

    def changes(self) -> int:
        """The change counter: a follower reads the table only when it moved."""
        return int(HEAD.unpack_from(self.memory, 0)[1])

    @overload
    def read(self, torn: Literal[True]) -> dict[str, list[Node]]: ...
    @overload
    def read(self, torn: bool = False) -> dict[str, list[Node]] | None: ...

    def read(self, torn: bool = False) -> dict[str, list[Node]] | None:
        """Every key with nodes and its nodes, first subscribed first; None when the receiver
        was writing on every try (read again on the next tick). `torn`: read as it is (a new
        receiver, after one that died mid-write)."""
        if torn:
            return self._read_all()
        for _ in range(READ_TRIES):
            before = HEAD.unpack_from(self.memory, 0)[0]
            if before & 1:
                continue
            table = self._read_all()
            if HEAD.unpack_from(self.memory, 0)[0] == before:
                return table
        return None

    def _read_all(self) -> dict[str, list[Node]]:
        table: dict[str, list[Node]] = {}
        for slot in range(self.keys):
            raw_key, count = KEY.unpack_from(self.memory, self.key_base + slot * KEY.size)
            if not count:
                continue
            base = self.node_base + slot * self.nodes * NODE.size
            nodes = []
            for number in range(min(count, self.nodes)):
                raw = NODE.unpack_from(self.memory, base + number * NODE.size)
                address = raw[0].rstrip(b"\0").decode(errors="replace")
                nodes.append(Node(address, *raw[1:]))
            table[raw_key.rstrip(b"\0").decode(errors="replace")] = nodes
        return table


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
