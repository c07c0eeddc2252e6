"""The server log and the request log as uWSGI's `logger`, `req-logger`, `log-route`,
`log-encoder`, `log-req-encoder` and `log-date` describe them.

Routing follows uWSGI: a line matching a `log-route` goes to that route's named logger (every
route that matches); a line that matches none goes to every unnamed logger, or to fd 2 when
there are none. Request lines go to the `req-logger`s when there are some, encoded by
`log-req-encoder`; otherwise they are server lines like any other. With none of these options
set no router exists, and every line goes straight to fd 2 (usher.logs.write_line).
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from usher.logencode import Encoder, parse_encoder
from usher.logsinks import FdSink, LoggerError, Sink, open_sink
from usher.options import Settings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["LineWriter", "LogRouter", "LoggerError", "build_router", "capture_python_output"]


@dataclass
class Logger:
    """One destination with the encoders meant for it."""

    name: str | None
    sink: Sink
    encoders: list[Encoder] = field(default_factory=list)

    def write(self, line: str) -> None:
        text = line if self.encoders else line + "\n"
        for encoder in self.encoders:
            text = encoder(text)
        self.sink.write(text.encode("utf-8", "replace"))


class LogRouter:
    """Sends each server or request line to its loggers (see the module docstring)."""

    def __init__(
        self,
        unnamed: list[Logger],
        named: dict[str, Logger],
        routes: list[tuple[re.Pattern[str], Logger]],
        requests: list[Logger],
        date_format: str | None,
    ) -> None:
        self.unnamed = unnamed
        self.named = named
        self.routes = routes
        self.requests = requests
        self.date_format = date_format

    def server_line(self, text: str) -> None:
        """Route one server line (or a request line when no req-logger is set)."""
        if self.date_format is not None:
            text = _dated(text, self.date_format)
        routed = False
        for pattern, logger in self.routes:
            if pattern.search(text):
                logger.write(text)
                routed = True
        if not routed:
            for logger in self.unnamed:
                logger.write(text)

    def request_line(self, text: str) -> None:
        """Write one request's access line."""
        requests = self.requests
        if not requests:
            self.server_line(text)
            return
        for logger in requests:
            logger.write(text)

    def reopen(self) -> None:
        """Reopen every file logger (SIGUSR1: logrotate moved the files away)."""
        loggers = [*self.unnamed, *self.named.values(), *self.requests]
        for logger in loggers:
            logger.sink.reopen()


def build_router(settings: Settings) -> LogRouter:
    """Open every logger the settings name; raises LoggerError (or EncoderError, a ValueError)
    naming a value usher cannot use."""
    unnamed: list[Logger] = []
    named: dict[str, Logger] = {}
    for value in settings.logger:
        name, spec = _split_name(value)
        logger = Logger(name, open_sink(spec))
        if name is None:
            unnamed.append(logger)
        else:
            named[name] = logger
    if not unnamed:  # lines no route takes go where they would go without loggers
        unnamed.append(Logger(None, FdSink(2)))
    _attach(settings.log_encoder, [*unnamed, *named.values()], named)
    requests = [Logger(None, open_sink(value)) for value in settings.req_logger]
    _attach(settings.log_req_encoder, requests, {})
    return LogRouter(
        unnamed, named, _routes(settings.log_route, named), requests, _date_format(settings)
    )


def _split_name(value: str) -> tuple[str | None, str]:
    """`name kind:args` or `kind:args` (uWSGI tells them apart by the space)."""
    first, space, rest = value.strip().partition(" ")
    if space and ":" not in first:
        return first, rest.strip()
    return None, value.strip()


def _attach(values: tuple[str, ...], everyone: list[Logger], named: dict[str, Logger]) -> None:
    for value in values:
        target, encoder = parse_encoder(value)
        if target is None:
            for logger in everyone:
                logger.encoders.append(encoder)
        elif target in named:
            named[target].encoders.append(encoder)
        else:
            raise LoggerError(f"log encoder {value!r} names no logger called {target!r}")


def _routes(
    values: tuple[str, ...], named: dict[str, Logger]
) -> list[tuple[re.Pattern[str], Logger]]:
    routes = []
    for value in values:
        name, _, regexp = value.strip().partition(" ")
        if name not in named:
            raise LoggerError(f"log-route {value!r}: no logger is named {name!r}")
        try:
            routes.append((re.compile(regexp.strip()), named[name]))
        except re.error as exc:
            raise LoggerError(f"log-route {value!r}: {exc}") from exc
    return routes


def _date_format(settings: Settings) -> str | None:
    value = settings.log_date
    if value is None:
        return None
    # A bare `log-date` (or `= true`) is ctime's layout, as uWSGI prints it.
    return "" if value.strip().lower() in ("", "true", "1", "yes", "on") else value


def _dated(text: str, date_format: str) -> str:
    now = time.time()
    stamp = time.strftime(date_format) if date_format else time.ctime(now)
    return f"{stamp} - {text}"


class LineWriter(io.RawIOBase):
    """Under sys.stdout/sys.stderr while loggers are configured: each line the app prints or
    logs through Python goes to the loggers, as uWSGI's loggers get the app's output."""

    def __init__(self, router: LogRouter, fd: int) -> None:
        super().__init__()
        self.router = router
        self.fd = fd  # for fileno(): faulthandler and C code write to the descriptor itself
        self.pending = b""
        self.lock = threading.Lock()  # the app's pool threads print too

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        with self.lock:
            lines = (self.pending + chunk).split(b"\n")
            self.pending = lines.pop()
        for line in lines:
            self.router.server_line(line.decode("utf-8", "replace"))
        return len(chunk)


def capture_python_output(router: LogRouter) -> None:
    """Route what Python code writes to sys.stdout and sys.stderr through the loggers.

    Done before the app is imported, so that the handlers its logging config creates hold these
    streams. What is written to descriptors 1 and 2 directly (C extensions, child processes)
    still goes where they point: stderr or the logto file.
    """
    for name, fd in (("stdout", 1), ("stderr", 2)):
        # Line-buffered: each whole line reaches the writer at once, a partial one waits.
        buffered = io.BufferedWriter(LineWriter(router, fd))
        stream = io.TextIOWrapper(buffered, encoding="utf-8", errors="replace", line_buffering=True)
        setattr(sys, name, stream)
