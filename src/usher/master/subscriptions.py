"""The master's announces to subscription servers (`subscribe-to`, `subscribe2`).

Once the workers are ready, the master sends each subscription server a subscribe packet every
`subscribe-freq` seconds (usher.protocols.subscription), naming the address a front reaches this
server at: the first listener's, or subscribe2's `addr`. When the server stops it sends an
unsubscribe, so fronts stop at once instead of after their tolerance; on a graceful reload only
with `unsubscribe-on-graceful-reload` (a reloading server answers again within the tolerance).

UDP is fire and forget: a send that fails (no route, a full buffer) is logged once per server
and retried at the next announce; it never holds the master.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from usher.logs import write_line
from usher.master.lifecycle import Phase
from usher.options import Settings
from usher.protocols.subscription import (
    Subscription,
    encode_subscription,
    parse_subscribe2,
    parse_subscribe_to,
)
from usher.sockets import Listener


@dataclass(frozen=True, slots=True)
class Target:
    """One subscription: where to send, and the packet's fields."""

    server: str
    key: str
    address: str
    modifier1: int
    modifier2: int
    weight: int


def announced_address(listener: Listener) -> str:
    """The address a front reaches `listener` at; a wildcard host is left empty (`:PORT`), as
    uWSGI writes it, and the front reads the sender's address in its place."""
    if listener.is_unix:
        return listener.address
    host, port = listener.sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        return f":{port}"
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def targets(settings: Settings, listeners: list[Listener]) -> list[Target]:
    """Every subscription the settings ask for (the option checks already parsed them)."""
    own = announced_address(listeners[0]) if listeners else ""
    found = []
    for value in settings.subscribe_to:
        server, key, modifier1 = parse_subscribe_to(value)
        found.append(Target(server, key, own, modifier1, 0, settings.weight))
    for value in settings.subscribe2:
        spec = parse_subscribe2(value)
        found.append(
            Target(
                spec.server,
                spec.key,
                spec.addr or own,
                spec.modifier1,
                spec.modifier2,
                spec.weight or settings.weight,
            )
        )
    return [target for target in found if target.address]


def _destination(server: str) -> tuple[int, str | tuple[str, int]]:
    if server.startswith("/") or ":" not in server:
        return socket.AF_UNIX, server
    host, _, port = server.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


class Subscriber:
    """Sends the announces; the master calls `tick` from its loop and `leave` when it exits."""

    def __init__(self, settings: Settings, listeners: list[Listener]) -> None:
        self.targets = targets(settings, listeners)
        self.freq = settings.subscribe_freq
        self.cores = settings.processes * settings.threads
        self.on_reload = settings.unsubscribe_on_graceful_reload
        self.next_at = 0.0
        self.left = False
        self._failing: set[str] = set()

    def tick(self, phase: Phase, now: float, load: int = 0) -> None:
        """Announce when due while serving; unsubscribe once when the server stops (or reloads,
        with unsubscribe-on-graceful-reload)."""
        if phase is Phase.STOPPING or (phase is Phase.REEXECUTING and self.on_reload):
            self.leave()
            return
        if phase not in (Phase.SERVING, Phase.RELOADING) or now < self.next_at:
            return
        self.next_at = now + self.freq
        self._send_all(unsubscribe=False, load=load)

    def leave(self) -> None:
        """Unsubscribe from every server, once."""
        if self.left:
            return
        self.left = True
        self._send_all(unsubscribe=True, load=0)

    def _send_all(self, *, unsubscribe: bool, load: int) -> None:
        for target in self.targets:
            packet = encode_subscription(
                Subscription(
                    key=target.key,
                    address=target.address,
                    modifier1=target.modifier1,
                    modifier2=target.modifier2,
                    cores=self.cores,
                    load=load,
                    weight=target.weight,
                    unsubscribe=unsubscribe,
                )
            )
            self._send(target.server, packet)

    def _send(self, server: str, packet: bytes) -> None:
        family, destination = _destination(server)
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(packet, destination)
        except OSError as exc:
            if server not in self._failing:
                self._failing.add(server)
                write_line(f"usher: cannot send the subscription to {server}: {exc}")
            return
        self._failing.discard(server)
