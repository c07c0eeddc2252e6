"""What the settings add to an ASGI connection scope: a root path, and the client and scheme a
trusted proxy names in its X-Forwarded-* headers.

ASGI's convention (the spec, uvicorn, Starlette, Django's ASGIRequest): `path` is the full path
the client asked for, `root_path` the prefix the app is mounted at, so the app's own routes see
`path` without `root_path`. usher keeps it: a root path (`root-path`, a mount's prefix, or the
SCRIPT_NAME nginx sends) is also the start of `path`, put there when the request lacks it, as
uvicorn does behind a proxy that strips the prefix.

Proxy headers are believed only from the addresses in `forwarded-allow-ips`: anyone else could
name any client. From X-Forwarded-For the client is the nearest address that is not itself a
trusted proxy (a client can prepend anything, but cannot add entries after its own).
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Trusted:
    """The proxies whose X-Forwarded-* headers are believed: networks, or everyone ("*")."""

    networks: tuple[Network, ...]
    everyone: bool = False

    @classmethod
    def parse(cls, text: str) -> Trusted:
        """A comma-separated list of addresses or networks, or "*"."""
        items = [item.strip() for item in text.split(",") if item.strip()]
        if "*" in items:
            return cls((), everyone=True)
        return cls(tuple(ipaddress.ip_network(item, strict=False) for item in items))

    def __contains__(self, host: object) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(str(host))
        except ValueError:
            return False  # a unix socket's peer or a name: not an address that can be trusted
        return any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class ScopeFrame:
    """How a listener's scopes are completed (root-path, proxy-headers)."""

    root_path: str = ""
    trusted: Trusted | None = None  # None: X-Forwarded-* headers are left alone

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Complete `scope` in place: root path, then the proxy's client and scheme."""
        root = scope["root_path"] or self.root_path
        if root:
            with_root(scope, root)
        if self.trusted is not None:
            forwarded(scope, self.trusted)


def with_root(scope: MutableMapping[str, Any], root: str) -> None:
    """Mount the scope at `root`: root_path, and a path that starts with it."""
    root = root.rstrip("/")
    scope["root_path"] = root
    path: str = scope["path"]
    if not (path == root or path.startswith(root + "/")):
        scope["path"] = root + path
        scope["raw_path"] = root.encode("utf-8") + scope["raw_path"]


def forwarded(scope: MutableMapping[str, Any], trusted: Trusted) -> None:
    """Client and scheme from X-Forwarded-For/-Proto, when the peer is a trusted proxy."""
    client = scope.get("client")
    if client is None or client[0] not in trusted:
        return
    headers = scope["headers"]
    proto = _header(headers, b"x-forwarded-proto")
    if proto:
        scheme = proto.rsplit(",", 1)[-1].strip().lower()
        if scheme in ("http", "https"):
            websocket = scope["type"] == "websocket"
            scope["scheme"] = ({"http": "ws", "https": "wss"}[scheme]) if websocket else scheme
    chain = _header(headers, b"x-forwarded-for")
    if chain:
        hosts = [host.strip() for host in chain.split(",") if host.strip()]
        for host in reversed(hosts):
            if host not in trusted:
                scope["client"] = (host, 0)
                return
        if hosts:
            scope["client"] = (hosts[0], 0)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    values = [value.decode("latin-1") for key, value in headers if key == name]
    return ",".join(values)
