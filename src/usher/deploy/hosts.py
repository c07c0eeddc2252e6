"""The hosts of a deploy: one `host` line each, with its roles and an optional pinned key."""

from __future__ import annotations

from dataclasses import dataclass

from usher.options import ConfigError
from usher.options.errors import Origin

# app serves the site; front runs nginx before the app hosts; worker runs only attach_daemon
# commands (a Celery worker): the release and its venv, no sockets.
ROLES = frozenset({"app", "front", "worker"})


@dataclass(frozen=True, slots=True)
class Host:
    """One SSH target and what it does: `app` runs the site, `front` runs nginx before the apps,
    `worker` runs only the attach_daemon commands."""

    address: str
    port: int
    user: str
    roles: frozenset[str]
    # A pinned host key (SHA256:... as ssh-keygen -lf prints it): trusted on first use if it matches.
    fingerprint: str | None = None

    @property
    def label(self) -> str:
        """How progress lines and errors name the host."""
        if self.port == 22:
            return self.address
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else f"{self.address}:{self.port}"
        )


def parse_host(value: str, line: int, path: str, default_user: str) -> Host:
    """One `host` line: `[user@]address[:port] [role ...] [SHA256:fingerprint]`."""
    address, *words = value.split()
    pins = [word for word in words if word.startswith("SHA256:")]
    roles = [word for word in words if word not in pins]
    user, _, address = address.rpartition("@")
    if address.startswith("["):  # [2001:db8::1]:2222, as OpenSSH writes an IPv6 host and port
        address, _, port = address[1:].partition("]")
        port = port.removeprefix(":")
    else:
        address, _, port = address.partition(":")
    role_set = frozenset(roles) or frozenset({"app"})
    origin = Origin("ini", path, line)
    if not role_set <= ROLES:
        raise ConfigError(origin, "host", f"unknown role in {value!r}", "use app, front or worker")
    if port and not port.isdigit():
        raise ConfigError(
            origin, "host", f"bad port in {value!r}", "write host = ADDRESS[:PORT] or [IPV6]:PORT"
        )
    return Host(address, int(port or 22), user or default_user, role_set, next(iter(pins), None))
