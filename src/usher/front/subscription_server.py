"""The front's subscription server: a UDP socket where app servers announce themselves.

uWSGI's `fastrouter-subscription-server` and `http-subscription-server`: each datagram is one
subscription packet (usher.protocols.subscription) applied to a `Membership`. Nothing is sent
back. A datagram that is not a subscription is counted and logged (once per sender address, so
a flood of junk cannot flood the log) and otherwise ignored.

Bind it to loopback or a private network only: like uWSGI's, the protocol has no
authentication, and whoever can send to it can add nodes (bounded: usher.front.membership).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from usher.front.membership import Membership
from usher.protocols.subscription import SubscriptionError, decode_subscription

# How many distinct junk senders are remembered for the log's once-per-sender rule.
MAX_NOTED_SENDERS = 256


class SubscriptionReceiver(asyncio.DatagramProtocol):
    """Applies each received subscription packet to the membership table."""

    def __init__(
        self,
        membership: Membership,
        log: Callable[[str], None],
        applied: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.membership = membership
        self.log = log
        # Told each applied packet's key and whether its nodes changed (the shared table's writer).
        self.applied = applied
        self.invalid = 0
        self._noted: set[str] = set()

    def datagram_received(self, data: bytes, addr: tuple[str, int] | str) -> None:
        sender = addr[0] if isinstance(addr, tuple) else ""
        try:
            sub = decode_subscription(data)
        except SubscriptionError as exc:
            self.invalid += 1
            if sender not in self._noted and len(self._noted) < MAX_NOTED_SENDERS:
                self._noted.add(sender)
                self.log(f"usher front: ignored a datagram from {sender or 'a unix socket'}: {exc}")
            return
        changed = self.membership.apply(sub, sender)
        if changed:
            verb = "left" if sub.unsubscribe else "joined"
            self.log(f"usher front: {sub.address} {verb} {sub.key!r}")
        if self.applied is not None:
            self.applied(sub.key.lower(), changed)


def bind_subscription_socket(address: str) -> socket.socket:
    """A bound UDP socket for `host:port` (`:port` is every IPv4 interface)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, int(port)))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve_subscriptions(
    sock: socket.socket, membership: Membership, log: Callable[[str], None]
) -> tuple[asyncio.DatagramTransport, SubscriptionReceiver]:
    """Start receiving on a bound socket, on the running loop."""
    loop = asyncio.get_running_loop()
    transport, receiver = await loop.create_datagram_endpoint(
        lambda: SubscriptionReceiver(membership, log), sock=sock
    )
    return transport, receiver
