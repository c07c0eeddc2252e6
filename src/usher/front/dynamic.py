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

The receiving socket is bound in the one front process (the config refuses several: each
datagram reaches one process, and every pool must see every announce), with SO_REUSEPORT so a
reload's new worker can bind it while the old one finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import replace

from usher.front.membership import Membership, to_server
from usher.front.model import Front, Upstream
from usher.front.subscription_server import SubscriptionReceiver


def log_line(text: str) -> None:
    """One line to the worker's stderr, the server log (the front reaches no option table, so
    not usher.logs); a closed or full log never takes the worker down."""
    with contextlib.suppress(OSError):
        os.write(2, (text + "\n").encode("utf-8", "replace"))


class SubscribedPools:
    """Keeps the subscribed pools of one front worker up to date."""

    def __init__(
        self,
        front: Front,
        loop: asyncio.AbstractEventLoop,
        replace_pool: Callable[[Upstream], None],
        log: Callable[[str], None],
        replace_key: Callable[[str, Upstream | None], None] | None = None,
    ) -> None:
        self.front = front
        self.loop = loop
        self.replace_pool = replace_pool
        self.log = log
        self.membership = Membership(loop.time, front.subscription_tolerance)
        self.pools = [pool for pool in front.upstreams if pool.subscription]
        self.replace_key = replace_key
        self.transport: asyncio.DatagramTransport | None = None
        self._seen: dict[str, tuple[str, ...]] = {}
        self._keys_seen: dict[str, tuple[tuple[str, int], ...]] = {}

    def start(self) -> None:
        """Bind the subscription server and start receiving on the worker's loop."""
        address = self.front.subscription_server
        assert address is not None
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((address.host, address.port))
        except OSError as exc:
            sock.close()
            self.log(f"usher front: cannot bind the subscription server {address}: {exc}")
            return
        sock.setblocking(False)
        receiver = SubscriptionReceiver(self.membership, self._changed)
        self.loop.create_task(self._open(sock, receiver))

    async def _open(self, sock: socket.socket, receiver: SubscriptionReceiver) -> None:
        transport, _ = await self.loop.create_datagram_endpoint(lambda: receiver, sock=sock)
        self.transport = transport

    def _changed(self, line: str) -> None:
        self.log(line)
        self.refresh()

    def sweep(self) -> None:
        """Drop the nodes silent past the tolerance (called once a second)."""
        if self.membership.sweep():
            self.refresh()

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
