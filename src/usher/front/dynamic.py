"""Pools whose members announce themselves: the front's side of uWSGI's subscriptions.

When the front config names a `subscription_server`, the worker receives the announces there
(usher.front.subscription_server) into a `Membership`, and each pool with a `subscription` key
is rebuilt whenever that key's live nodes change: its `server` lines, then the nodes in the
order they first announced. Rebuilding starts the pool's numbers afresh, as an nginx reload
does; requests in flight finish on the pool they started with. Silent nodes are dropped by the
worker's once-a-second sweep.

A location that passes to `$host` (uWSGI's fastrouter and HTTP router with a subscription
server) needs a pool per key: each key with a live node gets one, made from the front's
defaults (round-robin, nginx's failure counts) and rebuilt the same way; a key whose last node
leaves loses its pool, and its host answers 503.

With several workers, one membership serves them all (usher.front.shared_membership): the
master binds the receiving socket before it forks, one worker reads it and writes the nodes to
memory the workers share, and the others take them on their once-a-second tick. The socket is
bound with SO_REUSEPORT so a re-executed master can bind it while the old workers finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
from collections.abc import Callable
from dataclasses import replace

from usher.front.membership import Membership, to_server
from usher.front.model import Front, Upstream
from usher.front.shared_membership import SharedMembership
from usher.front.subscription_server import SubscriptionReceiver


def log_line(text: str) -> None:
    """One line to the worker's stderr, the server log (the front reaches no option table, so
    not usher.logs); a closed or full log never takes the worker down."""
    with contextlib.suppress(OSError):
        os.write(2, (text + "\n").encode("utf-8", "replace"))


class SharedSubscriptions:
    """What the master makes before it forks: the bound socket (None: it could not be bound)
    and the table the workers share."""

    def __init__(self, sock: socket.socket | None, table: SharedMembership) -> None:
        self.sock = sock
        self.table = table


def bind_shared(front: Front, log: Callable[[str], None]) -> SharedSubscriptions | None:
    """Bind the front's subscription server and make the shared table (None: no server)."""
    address = front.subscription_server
    if address is None:
        return None
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address.host, address.port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        log(f"usher front: cannot bind the subscription server {address}: {exc}")
        return SharedSubscriptions(None, SharedMembership())
    return SharedSubscriptions(sock, SharedMembership())


class SubscribedPools:
    """Keeps the subscribed pools of one front worker up to date."""

    def __init__(
        self,
        front: Front,
        loop: asyncio.AbstractEventLoop,
        replace_pool: Callable[[Upstream], None],
        log: Callable[[str], None],
        replace_key: Callable[[str, Upstream | None], None] | None = None,
        shared: SharedSubscriptions | None = None,
    ) -> None:
        self.front = front
        self.loop = loop
        self.replace_pool = replace_pool
        self.log = log
        self.membership = Membership(loop.time, front.subscription_tolerance)
        self.pools = [pool for pool in front.upstreams if pool.subscription]
        self.replace_key = replace_key
        self.transport: asyncio.DatagramTransport | None = None
        self.shared = shared
        self.receiving = False  # this worker reads the socket and writes the shared table
        self._changes = -1  # the shared table's change counter this worker last took
        self._seen: dict[str, tuple[str, ...]] = {}
        self._keys_seen: dict[str, tuple[tuple[str, int], ...]] = {}

    def start(self) -> None:
        """Take the shared subscriptions (without a master's: bind them in this process), then
        receive, or follow the receiver."""
        if self.shared is None:
            self.shared = bind_shared(self.front, self.log)
        # Until it is the receiver, this worker drops no node itself: the receiver decides
        # silence, and a refreshed announce time does not make the followers read the table.
        self.membership.tolerance = math.inf
        self.tick()

    def tick(self) -> None:
        """Once a second: become the receiver when there is none; the receiver drops the nodes
        silent past the tolerance, a follower takes the table when it changed."""
        shared = self.shared
        if shared is not None:
            if not self.receiving and shared.sock is not None and shared.table.claim():
                self._receive(shared.sock, shared.table)
            if not self.receiving:
                self._follow(shared.table)
        if self._sweep():
            self.refresh()

    def _sweep(self) -> bool:
        """Drop the nodes silent past the tolerance; the receiver writes the keys that changed
        (before any read of the table sweeps them unwritten)."""
        changed = self.membership.sweep()
        if self.shared is not None and self.receiving:
            for key in changed:
                self.shared.table.publish(key, self.membership.held(key), True)
        return bool(changed)

    def _follow(self, table: SharedMembership) -> None:
        """Take the receiver's nodes when the table changed since this worker last read it."""
        changes = table.changes()
        if changes == self._changes:
            return
        held = table.read()
        if held is None:
            return  # met mid-write: the next tick reads it
        self._changes = changes
        self.membership.load(held)
        self.refresh()

    def _receive(self, sock: socket.socket, table: SharedMembership) -> None:
        """This worker is the receiver: start from the table's nodes, read the socket."""
        self.receiving = True
        self.membership.tolerance = self.front.subscription_tolerance
        held = table.read(torn=True)
        self.membership.load(held)
        for key, nodes in held.items():
            table.publish(key, nodes, False)  # rewrites what a writer that died left torn
        self._sweep()
        self.refresh()

        def applied(key: str, changed: bool) -> None:
            table.publish(key, self.membership.held(key), changed)

        receiver = SubscriptionReceiver(self.membership, self._changed, applied)
        self.loop.create_task(self._open(sock, receiver))

    async def _open(self, sock: socket.socket, receiver: SubscriptionReceiver) -> None:
        transport, _ = await self.loop.create_datagram_endpoint(lambda: receiver, sock=sock)
        self.transport = transport

    def _changed(self, line: str) -> None:
        self.log(line)
        self._sweep()
        self.refresh()

    def sweep(self) -> None:
        """The worker's once-a-second tick."""
        self.tick()

    def refresh(self) -> None:
        """Rebuild each subscribed pool whose live nodes changed."""
        for pool in self.pools:
            nodes = tuple(node.address for node in self.membership.nodes(pool.subscription))
            if self._seen.get(pool.name) == nodes:
                continue
            self._seen[pool.name] = nodes
            self.replace_pool(self.current(pool))
        if self.replace_key is not None:
            self._refresh_keys(self.replace_key)

    def _refresh_keys(self, replace_key: Callable[[str, Upstream | None], None]) -> None:
        """Give each key with live nodes its pool, rebuilt when its nodes or weights changed;
        take the pool of a key left without nodes."""
        live = self.membership.live()
        for key in [key for key in self._keys_seen if key not in live]:
            del self._keys_seen[key]
            replace_key(key, None)
        for key, nodes in live.items():
            seen = tuple((node.address, node.weight) for node in nodes)
            if self._keys_seen.get(key) == seen:
                continue
            self._keys_seen[key] = seen
            servers = tuple(to_server(node) for node in nodes)
            replace_key(key, Upstream(key, servers, subscription=key))

    def current(self, pool: Upstream) -> Upstream:
        """The pool with its configured servers and the live nodes of its key."""
        members = self.membership.members(pool.subscription)
        static = {server.address for server in pool.servers}
        extra = tuple(server for server in members if server.address not in static)
        return replace(pool, servers=pool.servers + extra)

    def close(self) -> None:
        """Stop receiving."""
        if self.transport is not None:
            self.transport.close()
