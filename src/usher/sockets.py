"""Listener addresses and the sockets the master binds once and every worker inherits.

Addresses follow uWSGI's spellings: ``host:port``, ``:port`` (every IPv4 interface), ``[::]:port``,
a filesystem path for a unix socket, and ``@name`` for a Linux abstract unix socket.

Under systemd socket activation (LISTEN_PID is this process, LISTEN_FDS=n) the listening sockets
arrive as descriptors 3..3+n-1. Each configured listener takes the inherited socket bound to its
address (a wildcard host such as `:8000` also matches systemd's `[::]:8000`); configured listeners
left without a match then take the unmatched inherited sockets in order, and any listener still
without one is bound as usual. So one unit can serve HTTP and the uwsgi protocol from two .socket
units, and a restart of usher never refuses a connection: systemd keeps the sockets open.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from dataclasses import dataclass
from typing import Literal

from usher.logs import write_line

Protocol = Literal["http", "uwsgi"]

# Inherited listeners across a re-exec (graceful reload of a non-lazy master): a comma-separated
# list of file descriptors in the order the listeners are declared.
INHERIT_ENV = "USHER_INHERITED_FDS"

# The systemd socket activation protocol: the first passed descriptor is always 3.
SD_LISTEN_FDS_START = 3

# struct tcp_info (linux/tcp.h): eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss,
# unacked, sacked. For a listening socket the kernel reports the accept queue's length in
# tcpi_unacked and its limit (the backlog) in tcpi_sacked.
_TCP_INFO_QUEUE = struct.Struct("=II")
_TCP_INFO_QUEUE_OFFSET = 24


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


def bind(
    protocol: Protocol, address: str, *, backlog: int, chmod: str | None, defer_accept: int = 0
) -> Listener:
    """Bind and listen on one address (in the master, before privileges are dropped).

    `defer_accept` seconds, when not 0, set TCP_DEFER_ACCEPT on a TCP listener, as uWSGI does on
    its sockets unless `no-defer-accept`: the kernel hands a connection over only once the client
    has sent something (or the seconds are up), so a worker never wakes for a connection it cannot
    serve yet, and finds the request in the first read (usher.worker.oneshot). Not for listeners whose
    clients wait to be spoken to first, such as the stats socket.
    """
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
            if defer_accept and hasattr(socket, "TCP_DEFER_ACCEPT"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, defer_accept)
            sock.bind(target)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenerError(_explain_bind_error(address, exc)) from exc
    except ListenerError:
        sock.close()
        raise
    sock.setblocking(False)
    return Listener(protocol, address, sock, unix_path)


def _bind_unix(sock: socket.socket, path: str, chmod: str | None) -> str | None:
    if path.startswith("\0"):
        sock.bind(path)
        return None
    with contextlib.suppress(FileNotFoundError):
        # A socket file left by a crashed server would make bind fail, and is replaced; one a
        # live server answers on is never taken (unlinking it would leave that server running,
        # unreachable). Any other kind of file is kept, and bind then fails.
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            _take_stale_socket(path)
    sock.bind(path)
    if chmod is not None:
        os.chmod(path, int(chmod, 8))
    return path


def _take_stale_socket(path: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
            write_line(
                f"usher: note: replaced the stale socket file {path} (nothing answered on it)"
            )
            return
        except BlockingIOError:
            pass  # a full accept queue: a server listens there all the same
        peer = _peer_pid(probe)
    owner = f" (pid {peer})" if peer else ""
    raise ListenerError(
        f"cannot bind {path}: another server{owner} is listening on it; stop it first, or choose another socket path"
    )


def _peer_pid(sock: socket.socket) -> int:
    """The pid of the process that bound the socket at the other end (0 when unknown)."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return 0
    pid: int = struct.unpack("3i", creds)[0]
    return pid


def _explain_bind_error(address: str, exc: OSError) -> str:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return f"cannot bind {address}: address already in use (another server is listening there)"
    if exc.errno == errno.EACCES:
        return f"cannot bind {address}: permission denied (ports below 1024 need root; check the directory's permissions)"
    if exc.errno == errno.ENOENT:
        return f"cannot bind {address}: the directory does not exist (create it, or use RuntimeDirectory= in systemd)"
    return f"cannot bind {address}: {exc.strerror}"


def adopt(protocol: Protocol, address: str, fd: int, *, owned: bool = True) -> Listener:
    """Wrap an inherited listening descriptor: from a previous incarnation of this master
    (`owned`: vacuum may remove its socket file) or from systemd (not owned: systemd keeps it)."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    # Inherited descriptors arrive inheritable; no child but a worker (forked) may hold them: a
    # reload's check (usher.master.preflight) execs, and must not keep a listener open.
    sock.set_inheritable(False)
    unix_path = None
    if owned and sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        unix_path = name if isinstance(name, str) and name and not name.startswith("\0") else None
    return Listener(protocol, address, sock, unix_path)


def bind_all(
    wanted: list[tuple[Protocol, str]], *, backlog: int, chmod: str | None, defer_accept: int = 0
) -> list[Listener]:
    """Bind every listener, or adopt them from a previous incarnation of this master or from
    systemd socket activation (whose sockets keep systemd's settings: DeferAcceptSec= there)."""
    inherited = os.environ.pop(INHERIT_ENV, "")
    fds = [int(fd) for fd in inherited.split(",") if fd]
    if len(fds) == len(wanted):
        return [adopt(proto, addr, fd) for (proto, addr), fd in zip(wanted, fds, strict=True)]
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    activated = match_activated(wanted, systemd_fds())
    bound: list[Listener] = []
    try:
        for (proto, addr), given in zip(wanted, activated, strict=True):
            if given is not None:
                bound.append(adopt(proto, addr, given, owned=False))
            else:
                bound.append(
                    bind(proto, addr, backlog=backlog, chmod=chmod, defer_accept=defer_accept)
                )
    except ListenerError:
        close_all(bound, unlink=True)
        raise
    return bound


def systemd_fds(environ: dict[str, str] | None = None) -> list[int]:
    """The descriptors systemd passed to this process, and forget the variables (a re-exec keeps
    the pid, and the app must not think the sockets are still there for it)."""
    env = os.environ if environ is None else environ
    pid, count = env.pop("LISTEN_PID", ""), env.pop("LISTEN_FDS", "")
    env.pop("LISTEN_FDNAMES", None)
    if pid != str(os.getpid()) or not count.isdigit():
        return []
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)))


def match_activated(wanted: list[tuple[Protocol, str]], fds: list[int]) -> list[int | None]:
    """For each wanted listener, the inherited descriptor it takes (None: bind it)."""
    names = {fd: _bound_name(fd) for fd in fds}
    chosen: list[int | None] = []
    for _, address in wanted:
        match = next((fd for fd, name in names.items() if _matches(address, name)), None)
        if match is not None:
            del names[match]
        chosen.append(match)
    spare = list(names)
    for index, match in enumerate(chosen):
        if match is None and spare:
            fd = chosen[index] = spare.pop(0)
            write_line(
                f"usher: note: {wanted[index][1]} takes inherited socket {names[fd]} "
                "(socket activation, in order: no inherited socket has that address)"
            )
    for fd in spare:
        write_line(f"usher: note: inherited socket {names[fd]} matches no listener; closed")
        with contextlib.suppress(OSError):
            os.close(fd)
    return chosen


def _bound_name(fd: int) -> str:
    """An inherited socket's address in the listener spelling (host:port, path or @name)."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        name = sock.getsockname()
        family = sock.family
    if family == socket.AF_UNIX:
        text = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        return "@" + text[1:] if text.startswith("\0") else text
    host, port = name[:2]
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def _matches(address: str, bound: str) -> bool:
    if address == bound:
        return True
    if ":" not in bound or "/" in address or address.startswith("@"):
        return False
    host, _, port = address.rpartition(":")
    bound_host, _, bound_port = bound.rpartition(":")
    return port == bound_port and host in _WILDCARDS and bound_host in _WILDCARDS


def listen_queue(sock: socket.socket) -> tuple[int, int] | None:
    """(connections waiting to be accepted, backlog) of a TCP listener; None for other sockets."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(info) < _TCP_INFO_QUEUE_OFFSET + _TCP_INFO_QUEUE.size:
        return None
    queued, backlog = _TCP_INFO_QUEUE.unpack_from(info, _TCP_INFO_QUEUE_OFFSET)
    return queued, backlog


def close_all(listeners: list[Listener], *, unlink: bool) -> None:
    """Close the sockets; with `unlink` (vacuum) also remove unix socket files."""
    for listener in listeners:
        listener.sock.close()
        if unlink and listener.unix_path:
            vacuum(listener.unix_path, "unix socket")


def vacuum(path: str, what: str) -> None:
    """Remove a file the server made; when it cannot, say why in one line (never a traceback):
    after uid/gid the directory is often root's."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        user = _user_name()
        write_line(
            f"usher: vacuum: cannot remove the {what} {path}: {exc.strerror} (usher runs as {user}; "
            f"make {os.path.dirname(path) or '.'} writable by {user}, e.g. RuntimeDirectory= in systemd)"
        )


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid {os.getuid()}"
