"""Where log lines can go besides fd 2: uWSGI's `logger` kinds `file:`, `stdio`, `syslog:` and
`rsyslog:`.

A sink takes finished bytes (encoded, newline included where wanted) and writes them with one
system call: an `O_APPEND` file or one datagram per line, so that the lines of the master and of
every worker never interleave (what uWSGI's `log-master` pipe is for). A sink opened in the master
is inherited by every worker it forks. Writing never raises: a full disk or an absent syslog
daemon must not take a request down with it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Protocol

# Facility names as syslog.conf spells them (RFC 5424 §6.2.1 numbers).
FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
SEVERITY_INFO = 6
DEV_LOG = "/dev/log"  # where libc's syslog(3), and so uWSGI's syslog logger, sends


class Sink(Protocol):
    """A destination for whole log lines."""

    def write(self, data: bytes) -> None: ...

    def reopen(self) -> None:
        """Open the destination again (SIGUSR1, after logrotate moved a file away)."""


class FdSink:
    """A descriptor this process already has: fd 2 for `stdio` and the default log."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    def reopen(self) -> None:
        """fd 2 is reopened by usher.logfile with logto."""


class FileSink:
    """`file:PATH`: a file of its own, appended to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    def reopen(self) -> None:
        fd = self._open()
        os.dup2(
            fd, self.fd, inheritable=False
        )  # in place: a worker forked earlier writes to the same number
        os.close(fd)


class SyslogSink:
    """`syslog:IDENT[,FACILITY]` (to /dev/log) and `rsyslog:ADDRESS[,IDENT[,FACILITY]]`: one
    RFC 3164 datagram per line, `<PRI>IDENT[PID]: line`."""

    def __init__(self, address: str | tuple[str, int], ident: str, facility: int) -> None:
        self.address = address
        self.ident = ident
        self.priority = facility * 8 + SEVERITY_INFO
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        # A stalled syslog daemon drops lines rather than stalling the worker.
        self.sock.setblocking(False)

    def write(self, data: bytes) -> None:
        head = f"<{self.priority}>{self.ident}[{os.getpid()}]: ".encode()
        with contextlib.suppress(OSError):
            self.sock.sendto(head + data.rstrip(b"\n"), self.address)

    def reopen(self) -> None:
        """Datagrams need no reopening."""


class LoggerError(ValueError):
    """A `logger` value usher cannot use; the message says why."""


def open_sink(spec: str) -> Sink:
    """The sink a logger value (without its name) describes, e.g. `file:/var/log/app.log`."""
    kind, _, args = spec.partition(":")
    if kind == "stdio":
        return FdSink(2)
    if kind == "file" and args:
        return FileSink(args)
    if kind == "syslog":
        ident, _, facility = args.partition(",")
        return SyslogSink(DEV_LOG, ident or "usher", _facility(facility))
    if kind == "rsyslog" and args:
        address, _, rest = args.partition(",")
        ident, _, facility = rest.partition(",")
        return SyslogSink(_address(address), ident or "usher", _facility(facility))
    raise LoggerError(
        f"logger {spec!r}: usher knows file:PATH, stdio, syslog[:IDENT[,FACILITY]] and "
        "rsyslog:ADDRESS[,IDENT[,FACILITY]]"
    )


def _facility(name: str) -> int:
    if not name:
        return FACILITIES["user"]
    if name not in FACILITIES:
        raise LoggerError(f"unknown syslog facility {name!r}")
    return FACILITIES[name]


def _address(text: str) -> str | tuple[str, int]:
    """A unix datagram socket path, or host:port for UDP (uWSGI's rsyslog takes host:port)."""
    if text.startswith("/"):
        return text
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise LoggerError(f"rsyslog address {text!r}: give host:port or a socket path")
    return (host or "127.0.0.1", int(port))
