"""The nodes app servers announce, by key: what a front's subscription server keeps.

A subscribe packet (usher.protocols.subscription) adds its node to its key, or refreshes it; an
unsubscribe removes it at once; a node not refreshed within the tolerance (uWSGI's
`subscription-tolerance`, 17 seconds by default) is dropped when the table is next read or
swept. Keys are compared without case, as host names are: a key is kept lower-cased. An address with an
empty or wildcard host (`:3031`, `0.0.0.0:3031`, as uWSGI announces a
socket bound to every interface) is read as the sender's address.

The table only decides; the UDP receiver (usher.front.subscription_server) feeds it, and a pool
whose members come from a key reads `members(key)` and rebuilds when `version` changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from usher.front.model import Address, Server
from usher.protocols.subscription import Subscription

# uWSGI's default tolerance: an announce every 10 s may be lost once.
DEFAULT_TOLERANCE = 17.0
# A bound on keys and nodes: the receiver listens on UDP, where anyone who can reach it can
# send; past these, new keys or nodes are refused (the existing ones keep being refreshed).
MAX_KEYS = 1024
MAX_NODES_PER_KEY = 256
# The room for a key and an address in the table the workers share (usher.front.shared_membership):
# a host name is at most 253 bytes, a unix socket path at most 107.
MAX_KEY_BYTES = 256
MAX_ADDRESS_BYTES = 112


@dataclass(slots=True)
class Node:
    """One announced app server."""

    address: str
    weight: int
    modifier1: int
    modifier2: int
    cores: int
    load: int
    seen: float  # the clock at its last announce
    since: float  # the clock at its first announce


def resolve_address(announced: str, sender: str) -> str:
    """The announced address, with an empty or wildcard host replaced by the sender's."""
    if announced.startswith("/") or announced.startswith("@"):
        return announced
    host, sep, port = announced.rpartition(":")
    if not sep:
        return announced
    if host in ("", "0.0.0.0", "[::]", "*") and sender:
        host = f"[{sender}]" if ":" in sender else sender
    return f"{host}:{port}"


def to_server(node: Node) -> Server:
    """The node as a pool server (nginx's defaults for failures)."""
    address = node.address
    if address.startswith("/") or address.startswith("@"):
        return Server(Address(unix=address), weight=node.weight)
    host, _, port = address.rpartition(":")
    return Server(Address(host.strip("[]"), int(port)), weight=node.weight)


class Membership:
    """key -> nodes, in the order they first subscribed."""

    def __init__(self, clock: Callable[[], float], tolerance: float = DEFAULT_TOLERANCE) -> None:
        self.clock = clock
        self.tolerance = tolerance
        self._keys: dict[str, dict[str, Node]] = {}
        self.version = 0  # bumped on every change of any key's nodes
        self.refused = 0  # announces refused by the bounds above

    def apply(self, sub: Subscription, sender: str = "") -> bool:
        """Take one packet; True when the nodes of its key changed."""
        address = resolve_address(sub.address, sender)
        key = sub.key.lower()
        if not _valid_address(address) or len(key.encode()) > MAX_KEY_BYTES:
            self.refused += 1
            return False
        nodes = self._keys.get(key)
        if sub.unsubscribe:
            if nodes is None or nodes.pop(address, None) is None:
                return False
            if not nodes:
                del self._keys[key]
            self.version += 1
            return True
        now = self.clock()
        node = nodes.get(address) if nodes is not None else None
        if node is not None:
            changed = node.weight != sub.weight
            node.weight, node.cores, node.load, node.seen = sub.weight, sub.cores, sub.load, now
            self.version += changed
            return changed
        if nodes is None:
            if len(self._keys) >= MAX_KEYS:
                self.refused += 1
                return False
            nodes = self._keys[key] = {}
        if len(nodes) >= MAX_NODES_PER_KEY:
            self.refused += 1
            return False
        nodes[address] = Node(
            address, sub.weight, sub.modifier1, sub.modifier2, sub.cores, sub.load, now, now
        )
        self.version += 1
        return True

    def sweep(self) -> list[str]:
        """Drop the nodes silent past the tolerance; the keys that changed."""
        now = self.clock()
        changed = []
        for key in list(self._keys):
            nodes = self._keys[key]
            silent = [a for a, node in nodes.items() if now - node.seen > self.tolerance]
            for address in silent:
                del nodes[address]
            if silent:
                changed.append(key)
                if not nodes:
                    del self._keys[key]
        if changed:
            self.version += 1
        return changed

    def load(self, table: dict[str, list[Node]]) -> None:
        """Take the nodes another process keeps (usher.front.shared_membership) as this table's."""
        self._keys = {key: {node.address: node for node in nodes} for key, nodes in table.items()}
        self.version += 1

    def held(self, key: str) -> list[Node]:
        """The nodes of `key` as held now (no sweep)."""
        return list(self._keys.get(key.lower(), {}).values())

    def nodes(self, key: str) -> list[Node]:
        """The live nodes of `key` (after a sweep), first subscribed first."""
        self.sweep()
        return list(self._keys.get(key.lower(), {}).values())

    def members(self, key: str) -> tuple[Server, ...]:
        """The live nodes of `key` as pool servers."""
        return tuple(to_server(node) for node in self.nodes(key))

    def live(self) -> dict[str, list[Node]]:
        """Every key with live nodes and its nodes, first subscribed first (one sweep)."""
        self.sweep()
        return {key: list(nodes.values()) for key, nodes in self._keys.items()}

    def keys(self) -> list[str]:
        """Every key with a live node."""
        self.sweep()
        return list(self._keys)


def _valid_address(address: str) -> bool:
    if len(address.encode()) > MAX_ADDRESS_BYTES:
        return False
    if address.startswith("/") or address.startswith("@"):
        return True
    host, sep, port = address.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)
