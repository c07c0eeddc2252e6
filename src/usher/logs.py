"""Server log lines: the startup banner, one line per request, and what went wrong.

Every line goes straight to file descriptor 2 with one `os.write`: `logto` and `daemonize` point that
descriptor at a file, and nothing is buffered in a process that may fork or be killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from usher.options import Settings
from usher.protocols.events import ProtocolError, Request


class Counted(Protocol):
    @property
    def requests(self) -> int: ...


class Totals(Protocol):
    def add_one(self) -> int: ...


class Carrier(Protocol):
    """What an access line reads of a request's carrier: a Connection, or a request answered
    where it was accepted (usher.worker.oneshot.OneShot)."""

    @property
    def peer(self) -> tuple[str, str]: ...
    @property
    def worker(self) -> Counted: ...


class Answer(Protocol):
    """What an access line reads of the request and its response
    (usher.worker.responder.Responder)."""

    @property
    def request(self) -> Request | None: ...
    @property
    def started(self) -> float: ...
    @property
    def status(self) -> str: ...
    @property
    def body_bytes(self) -> int: ...
    @property
    def head_bytes(self) -> int: ...
    @property
    def header_count(self) -> int: ...


# The line uWSGI users grep for, with the same fields in the same places: `req: X/Y` is, as in
# uWSGI, this worker's requests for the app (this one included) / the server-wide total.
DEFAULT_FORMAT = (
    "[pid: %(pid)|app: 0|req: %(reqs)/%(total_reqs)] %(addr) () {%(vars) vars in %(pktsize) bytes} "
    "[%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(msecs) msecs "
    "(%(proto) %(status)) %(headers) headers in %(hsize) bytes (1 switches on core 0)"
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)")


class Router(Protocol):
    """Where lines go when loggers are configured (usher.logroute.LogRouter)."""

    def server_line(self, text: str) -> None: ...

    def request_line(self, text: str) -> None: ...

    def reopen(self) -> None: ...


# The process's log router, set once at startup when logger options ask for one. Like fd 2, the
# log belongs to the whole process: every module writes to it, and a worker inherits it at fork.
_router: Router | None = None


def install_router(router: Router | None) -> None:
    """Send every line through `router` from now on (None: straight to fd 2)."""
    global _router
    _router = router


def wants_router(settings: Settings) -> bool:
    """True when an option asks for more than plain lines to fd 2 (usher.logroute)."""
    return bool(
        settings.logger
        or settings.req_logger
        or settings.log_encoder
        or settings.log_req_encoder
        or settings.log_date is not None
    )


def reopen_loggers() -> bool:
    """Reopen the file loggers (SIGUSR1); False when there are none."""
    if _router is None:
        return False
    _router.reopen()
    return True


def write_line(text: str) -> None:
    """Write one log line to the server log (fd 2, or the configured loggers)."""
    router = _router
    if router is not None:
        router.server_line(text)
        return
    data = (text + "\n").encode("utf-8", "replace")
    # A closed or full log must never take a request down with it.
    with contextlib.suppress(OSError):
        os.write(2, data)


class RequestFields:
    """The values a log-format may name, computed only when the format uses them."""

    __slots__ = ("conn", "environ", "log", "responder")

    def __init__(self, log: ServerLog, conn: Carrier, responder: Answer) -> None:
        self.log = log
        self.conn = conn
        self.responder = responder
        request = responder.request
        self.environ: dict[str, str] = {} if request is None else cgi_variables(request, conn.peer)


def cgi_variables(request: Request, peer: tuple[str, str]) -> dict[str, str]:
    """The request as CGI variables, the names uWSGI's log format speaks of: a uwsgi request's
    own variables, or those of an HTTP request's head."""
    if request.vars is not None:
        return request.vars
    uri = request.path + b"?" + request.query if request.query else request.path
    variables = {
        "REQUEST_METHOD": request.method,
        "REQUEST_URI": uri.decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/" + request.http_version,
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": peer[1],
    }
    for name, value in request.headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        variables[key] = value.decode("latin-1")
    return variables


def _elapsed(fields: RequestFields) -> float:
    return fields.log.clock() - fields.responder.started


def _packet_size(fields: RequestFields) -> str:
    # uWSGI's figure is the size of the request's variables; the CGI ones are the strings (the
    # wsgi.* objects are not variables, and their repr() would cost more than the whole line).
    return str(sum(len(k) + len(v) for k, v in fields.environ.items()))


_ctime_cache = (0, "")  # the second and its ctime() text: one conversion per second


def _ctime(fields: RequestFields) -> str:
    global _ctime_cache
    now = int(time.time())
    if _ctime_cache[0] != now:
        _ctime_cache = (now, time.ctime(now))
    return _ctime_cache[1]


def _forwarded_addr(fields: RequestFields) -> str:
    """log-x-forwarded-for: the header as the proxy sent it, else the peer's address."""
    environ = fields.environ
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    return forwarded or str(environ.get("REMOTE_ADDR", fields.conn.peer[0]))


def _unknown(fields: RequestFields) -> str:
    return "-"


_FIELDS: dict[str, Callable[[RequestFields], str]] = {
    "pid": lambda f: str(f.log.pid),
    "wid": lambda f: str(f.log.worker_id),
    "reqs": lambda f: str(f.conn.worker.requests + 1),
    "total_reqs": lambda f: str(f.log.count_total(f.conn.worker.requests + 1)),
    "addr": lambda f: str(f.environ.get("REMOTE_ADDR", f.conn.peer[0])),
    "forwarded_addr": _forwarded_addr,
    "user": lambda f: f.environ.get("REMOTE_USER", "-"),
    "method": lambda f: f.environ.get("REQUEST_METHOD", "-"),
    "uri": lambda f: f.environ.get("REQUEST_URI", f.environ.get("PATH_INFO", "-")),
    "proto": lambda f: f.environ.get("SERVER_PROTOCOL", "-"),
    "host": lambda f: f.environ.get("HTTP_HOST", "-"),
    "uagent": lambda f: f.environ.get("HTTP_USER_AGENT", "-"),
    "referer": lambda f: f.environ.get("HTTP_REFERER", "-"),
    "status": lambda f: f.responder.status[:3] or "-",
    "size": lambda f: str(f.responder.body_bytes),
    "rsize": lambda f: str(f.responder.body_bytes),
    "hsize": lambda f: str(f.responder.head_bytes),
    "cl": lambda f: f.environ.get("CONTENT_LENGTH", "0") or "0",
    "msecs": lambda f: str(int(_elapsed(f) * 1000)),
    "micros": lambda f: str(int(_elapsed(f) * 1_000_000)),
    "time": lambda f: str(int(time.time())),
    "epoch": lambda f: str(int(time.time())),
    "ltime": lambda f: time.strftime("%d/%b/%Y:%H:%M:%S %z"),
    "ctime": _ctime,
    "vars": lambda f: str(len(f.environ)),
    "pktsize": _packet_size,
    "headers": lambda f: str(f.responder.header_count),
}


@dataclass(frozen=True, slots=True)
class Notable:
    """The requests logged even under disable-logging: log-4xx, log-5xx and log-slow."""

    client_errors: bool = False
    server_errors: bool = False
    slow_ms: int = 0

    def __bool__(self) -> bool:
        return self.client_errors or self.server_errors or self.slow_ms > 0

    def matches(self, status: str, elapsed: float) -> bool:
        kind = status[:1]
        return (
            (self.client_errors and kind == "4")
            or (self.server_errors and kind == "5")
            or (self.slow_ms > 0 and elapsed * 1000 > self.slow_ms)
        )


class ServerLog:
    """Per-worker logging: access lines in the configured format, errors with context."""

    def __init__(
        self,
        *,
        enabled: bool,
        log_format: str | None,
        pid: int,
        worker_id: int,
        notable: Notable | None = None,
        micros: bool = False,
        strftime: bool = False,
        forwarded_for: bool = False,
        report_gone: bool = True,
    ) -> None:
        # With disable-logging, only the notable requests are logged (`filtered`).
        self.filtered = not enabled and bool(notable)
        self.enabled = enabled or self.filtered
        self.notable = notable or Notable()
        self.pid: int = pid
        self.worker_id: int = worker_id
        self.clock = time.monotonic
        # The server-wide total in the scoreboard (usher.scoreboard.ServerTotal), set by the
        # worker once it has one; without it the worker's own count stands in.
        self.total: Totals | None = None
        self.strftime = strftime
        self.report_gone = report_gone
        template = log_format or (
            DEFAULT_FORMAT.replace("%(msecs) msecs", "%(micros) micros")
            if micros
            else DEFAULT_FORMAT
        )
        self.names = _PLACEHOLDER.findall(template)
        if forwarded_for:
            self.names = ["forwarded_addr" if name == "addr" else name for name in self.names]
        self.getters = [_FIELDS.get(name, _unknown) for name in self.names]
        self.template = _PLACEHOLDER.sub("{}", template.replace("{", "{{").replace("}", "}}"))
        self.emit: Callable[[str], None] = write_line if _router is None else _router.request_line

    @classmethod
    def from_settings(cls, settings: Settings, *, pid: int, worker_id: int) -> ServerLog:
        """The log a worker keeps, as the logging options describe it."""
        return cls(
            enabled=not settings.disable_logging,
            log_format=settings.log_format,
            pid=pid,
            worker_id=worker_id,
            notable=Notable(settings.log_4xx, settings.log_5xx, settings.log_slow),
            micros=settings.log_micros,
            strftime=settings.logformat_strftime,
            forwarded_for=settings.log_x_forwarded_for,
            report_gone=not settings.ignore_write_errors,
        )

    def count_total(self, own: int) -> int:
        """Count this request in the server-wide total and return it."""
        return own if self.total is None else self.total.add_one()

    def access(self, conn: Carrier, responder: Answer) -> None:
        """Write the access line of a finished request (the caller checks `enabled`)."""
        if self.filtered and not self.notable.matches(
            responder.status, self.clock() - responder.started
        ):
            return
        fields = RequestFields(self, conn, responder)
        line = self.template.format(*[getter(fields) for getter in self.getters])
        self.emit(time.strftime(line) if self.strftime else line)

    def client_gone(self, peer: tuple[str, str], request: Request | None) -> None:
        """The client left before its response was sent: one line, not an app error."""
        if not self.report_gone:
            return
        where = "" if request is None else " during " + _request_text(request)
        write_line(f"[worker {self.worker_id}] {peer[0]}: client went away{where} (write error)")

    def app_exception(self, request: Request, exc: BaseException) -> None:
        where = _request_text(request)
        text = "".join(traceback.format_exception(exc)).rstrip()
        write_line(f"[worker {self.worker_id}] exception in the app on {where}:\n{text}")

    def protocol_error(self, peer: tuple[str, str], error: ProtocolError) -> None:
        write_line(f"[worker {self.worker_id}] {peer[0]}: {error.status} {error.reason}")

    def timeout(self, peer: tuple[str, str], what: str) -> None:
        write_line(f"[worker {self.worker_id}] {peer[0]}: disconnected, {what}")


def _request_text(request: Request) -> str:
    uri = request.path + b"?" + request.query if request.query else request.path
    return f"{request.method} {uri.decode('latin-1')}"
