"""Listener addresses and the sockets the master binds once and every worker inherits.

Addresses follow uWSGI's spellings: ``host:port``, ``:port`` (every IPv4 interface), ``[::]:port``,
a filesystem path for a unix socket, and ``@name`` for a Linux abstract unix socket.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from dataclasses import dataclass
from typing import Literal

Protocol = Literal["http", "uwsgi"]

# Inherited listeners across a re-exec (graceful reload of a non-lazy master): a comma-separated
# list of file descriptors in the order the listeners are declared.
INHERIT_ENV = "USHER_INHERITED_FDS"


class ListenerError(Exception):
    """A listener could not be bound; the message names the address and the likely fix."""


@dataclass(frozen=True, slots=True)
class Listener:
    """One bound, listening socket and what speaks on it."""

    protocol: Protocol
    address: str
    sock: socket.socket
    unix_path: str | None

    @property
    def is_unix(self) -> bool:
        return self.sock.family == socket.AF_UNIX

    def server_name_port(self) -> tuple[str, str]:
        """SERVER_NAME and SERVER_PORT for requests arriving here (PEP 3333 requires both)."""
        if self.is_unix:
            return ("localhost", "")
        host, port = self.sock.getsockname()[:2]
        return (str(host), str(port))

    def display(self) -> str:
        """The address as an operator reads it in the banner, with the real port when `:0`."""
        if self.is_unix:
            return self.address
        host, port = self.sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    """Split a listener address into a socket family and a bind target."""
    if address.startswith("@"):
        return socket.AF_UNIX, "\0" + address[1:]
    if "/" in address or address.endswith(".sock") or ":" not in address:
        return socket.AF_UNIX, address
    host, _, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], int(port_text))
    return socket.AF_INET, (host or "0.0.0.0", int(port_text))


def bind(protocol: Protocol, address: str, *, backlog: int, chmod: str | None) -> Listener:
    """Bind and listen on one address (in the master, before privileges are dropped)."""
    family, target = parse_address(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_UNIX:
            unix_path = _bind_unix(sock, str(target), chmod)
        else:
            unix_path = None
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # `[::]:8000` means IPv6 only, as it does for nginx; `:8000` covers IPv4.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(target)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenerError(_explain_bind_error(address, exc)) from exc
    sock.setblocking(False)
    return Listener(protocol, address, sock, unix_path)


def _bind_unix(sock: socket.socket, path: str, chmod: str | None) -> str | None:
    if path.startswith("\0"):
        sock.bind(path)
        return None
    with contextlib.suppress(FileNotFoundError):
        # A socket file left by a crashed server would make bind fail; any other file is kept.
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    sock.bind(path)
    if chmod is not None:
        os.chmod(path, int(chmod, 8))
    return path


def _explain_bind_error(address: str, exc: OSError) -> str:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return f"cannot bind {address}: address already in use (another server is listening there)"
    if exc.errno == errno.EACCES:
        return f"cannot bind {address}: permission denied (ports below 1024 need root; check the directory's permissions)"
    if exc.errno == errno.ENOENT:
        return f"cannot bind {address}: the directory does not exist (create it, or use RuntimeDirectory= in systemd)"
    return f"cannot bind {address}: {exc.strerror}"


def adopt(protocol: Protocol, address: str, fd: int) -> Listener:
    """Wrap an inherited listening descriptor (re-exec reload, later systemd socket activation)."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    unix_path = None
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        unix_path = name if isinstance(name, str) and name and not name.startswith("\0") else None
    return Listener(protocol, address, sock, unix_path)


def bind_all(
    wanted: list[tuple[Protocol, str]], *, backlog: int, chmod: str | None
) -> list[Listener]:
    """Bind every listener, or adopt them from a previous incarnation of this master."""
    inherited = os.environ.pop(INHERIT_ENV, "")
    fds = [int(fd) for fd in inherited.split(",") if fd]
    if len(fds) == len(wanted):
        return [adopt(proto, addr, fd) for (proto, addr), fd in zip(wanted, fds, strict=True)]
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    bound: list[Listener] = []
    try:
        for proto, addr in wanted:
            bound.append(bind(proto, addr, backlog=backlog, chmod=chmod))
    except ListenerError:
        close_all(bound, unlink=True)
        raise
    return bound


def close_all(listeners: list[Listener], *, unlink: bool) -> None:
    """Close the sockets; with `unlink` (vacuum) also remove unix socket files."""
    for listener in listeners:
        listener.sock.close()
        if unlink and listener.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(listener.unix_path)
