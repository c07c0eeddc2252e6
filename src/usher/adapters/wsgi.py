"""The WSGI adapter (PEP 3333): environ from a Request, start_response, body iteration.

The adapter never touches sockets. It writes through a `Responder` that the worker provides, which
owns framing and backpressure. An exchange is driven by `begin()` and then `pump()` whenever the
responder can take more: inline on the event loop, `pump()` returns early when the transport asks
to pause, and the worker calls it again on resume; on a pool thread the responder blocks instead, so
one call runs to the end.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from usher import __version__
from usher.protocols.events import Request

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
WsgiApp = Callable[..., Iterable[bytes]]

SERVER_SOFTWARE = f"usher/{__version__}"

# Header names are turned into environ keys once per distinct name. Clients choose names, so the
# cache is capped: past it names are converted per request instead of growing memory.
_HEADER_KEYS: dict[bytes, str] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_HEADER_KEYS_CAP = 512


def _environ_key(name: bytes) -> str:
    key = _HEADER_KEYS.get(name)
    if key is None:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(_HEADER_KEYS) < _HEADER_KEYS_CAP:
            _HEADER_KEYS[name] = key
    return key


class Responder(Protocol):
    """What an exchange writes through; the worker implements it per connection."""

    paused: bool

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        """Send the status line and headers; `length` is the body size when usher knows it.

        A Content-Length header among `headers` takes precedence over `length`.
        """

    def send_body(self, data: bytes) -> None:
        """Send part of the body (dropped for HEAD and bodiless statuses)."""

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete response whose body is known at once, and finish it."""

    def send_file(self, fd: int, offset: int, count: int) -> None:
        """Send `count` bytes of a regular file with sendfile; may pause until done."""

    def finish(self) -> None:
        """The response is complete."""

    def abort(self) -> None:
        """The response cannot be completed: drop the connection."""


class FileWrapper:
    """`wsgi.file_wrapper`: lets the server send a real file with os.sendfile."""

    def __init__(self, filelike: Any, blksize: int = 65536) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while data := read(self.blksize):
            yield data

    def sendfile_span(self) -> tuple[int, int, int] | None:
        """(fd, offset, count) when the object is a regular file with a descriptor, else None."""
        try:
            fd = self.filelike.fileno()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        offset = self.filelike.tell() if hasattr(self.filelike, "tell") else 0
        return fd, offset, max(0, info.st_size - offset)


def base_environ(
    *, server_name: str, server_port: str, multithread: bool, multiprocess: bool
) -> dict[str, Any]:
    """The keys every request on one listener shares; copied per request."""
    return {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
        "SCRIPT_NAME": "",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
    }


def http_environ(base: dict[str, Any], request: Request, peer: tuple[str, str]) -> dict[str, Any]:
    """Environ for a request that arrived over HTTP."""
    environ = base.copy()
    path = request.path
    query = request.query
    environ["REQUEST_METHOD"] = request.method
    environ["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
    environ["QUERY_STRING"] = query.decode("latin-1")
    environ["REQUEST_URI"] = (path + b"?" + query if query else path).decode("latin-1")
    environ["SERVER_PROTOCOL"] = "HTTP/" + request.http_version
    environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = peer
    environ["wsgi.input"] = request.body
    for name, value in request.headers:
        key = _environ_key(name)
        text = value.decode("latin-1")
        if key in environ and key.startswith("HTTP_"):
            # Repeated headers are one comma-separated value, except cookies (RFC 6265).
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
        environ[key] = text
    if request.chunked:
        # A chunked body has no Content-Length header; the app still needs to know its size.
        environ["CONTENT_LENGTH"] = str(request.body.length)
    return environ


def uwsgi_environ(base: dict[str, Any], variables: dict[str, str], body: Any) -> dict[str, Any]:
    """Environ for a uwsgi-protocol request: the front server's vars, completed for PEP 3333;
    `body` is its wsgi.input."""
    environ = base.copy()
    environ.update(variables)
    environ["wsgi.input"] = body
    https = variables.get("HTTPS")
    if (https and https.lower() in ("on", "1")) or variables.get("REQUEST_SCHEME") == "https":
        environ["wsgi.url_scheme"] = "https"
    # Filled in only when the front server left them out (nginx's uwsgi_params sends all three).
    if "PATH_INFO" not in variables:
        uri = variables.get("REQUEST_URI", "")
        environ["PATH_INFO"] = uri.partition("?")[0]
    if "QUERY_STRING" not in variables:
        environ["QUERY_STRING"] = variables.get("REQUEST_URI", "").partition("?")[2]
    if "SERVER_PROTOCOL" not in variables:
        environ["SERVER_PROTOCOL"] = "HTTP/1.0"
    # nginx sends CONTENT_TYPE/CONTENT_LENGTH even when empty; PEP 3333 lets them be absent.
    if variables.get("CONTENT_TYPE") == "":
        del environ["CONTENT_TYPE"]
    if variables.get("CONTENT_LENGTH") == "":
        del environ["CONTENT_LENGTH"]
    return environ


SECOND_START = "start_response called a second time without exc_info"
NO_START = "the app returned a body before calling start_response"


def check_status(status: object) -> None:
    """Refuse a status that is not a WSGI status line ("200 OK")."""
    if type(status) is not str or len(status) < 4 or not status[:3].isdigit():
        raise ValueError(f"invalid WSGI status {status!r}: expected e.g. '200 OK'")


class WsgiExchange:
    """One call of a WSGI app and the delivery of its response."""

    __slots__ = (
        "_iterator",
        "_result",
        "app",
        "environ",
        "headers",
        "headers_sent",
        "out",
        "status",
    )

    def __init__(self, app: WsgiApp, environ: dict[str, Any], out: Responder) -> None:
        self.app = app
        self.environ = environ
        self.out = out
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.headers_sent = False
        self._result: Iterable[bytes] | None = None
        self._iterator: Iterator[bytes] | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 start_response, with its exc_info rules."""
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError(SECOND_START)
        check_status(status)
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy write() callable: sends at once (no backpressure is possible here)."""
        if not self.headers_sent:
            self._send_head(None)
        if data:
            self.out.send_body(data)

    def _declared_length(self) -> int | None:
        for name, value in self.headers:
            if len(name) == 14 and name.lower() == "content-length":
                return int(value)
        return None

    def _send_head(self, known: int | None) -> None:
        if self.status is None:
            raise AssertionError(NO_START)
        # Marked sent only once encoded: a header the encoder refuses (CR/LF) still gets a 500.
        self.out.send_head(self.status, self.headers, known)
        self.headers_sent = True

    def begin(self) -> bool:
        """Call the app and send what can be sent now; True when the response is complete."""
        return self.deliver(self.app(self.environ, self.start_response))

    def deliver(self, result: Iterable[bytes]) -> bool:
        """Send what can be sent now of the app's `result`; True when the response is complete.
        (begin() calls the app first; usher.worker.oneshot calls it itself and hands over here.)"""
        self._result = result
        if type(result) is list and len(result) == 1 and not self.headers_sent:
            # The common case (hello world, most frameworks): one write, known length; a list
            # has no close() to call.
            if self.status is None:
                raise AssertionError(NO_START)
            self.out.send_whole(self.status, self.headers, result[0])
            self.headers_sent = True
            return True
        if type(result) is FileWrapper and (span := result.sendfile_span()) is not None:
            return self._begin_file(*span)
        iterator = iter(result)
        self._iterator = iterator
        if self.headers_sent:
            return self.pump()
        first = next_nonempty(iterator)
        return self._send_first(first, None if first is None else next_nonempty(iterator))

    def carry_on(
        self,
        status: str | None,
        headers: list[tuple[str, str]],
        result: Iterable[bytes] | None,
    ) -> None:
        """Take over from where the app left usher.worker.oneshot: the status and headers it gave, and
        the body being read (so that an error from here on still closes it)."""
        self.status, self.headers, self._result = status, headers, result

    def resume(
        self, result: Iterable[bytes], iterator: Iterator[bytes], first: bytes, second: bytes
    ) -> bool:
        """Carry on a body whose first two chunks were taken from `iterator` already
        (usher.worker.oneshot looks for a body of one chunk before it hands over)."""
        self._result = result
        self._iterator = iterator
        return self._send_first(first, second)

    def _send_first(self, first: bytes | None, second: bytes | None) -> bool:
        # The first two non-empty chunks (None: the body ended before): with no second one, the
        # length is known and goes in the head.
        if first is None:
            self._send_head(0)
            return self._complete()
        self._send_head(len(first) if second is None else None)
        self.out.send_body(first)
        if second is None:
            return self._complete()
        self.out.send_body(second)
        return self.pump()

    def _begin_file(self, fd: int, offset: int, count: int) -> bool:
        declared = self._declared_length()
        if declared is not None:
            count = min(count, declared)
        self._send_head(count)
        self._iterator = iter(())
        self.out.send_file(fd, offset, count)
        return self.pump()

    def pump(self) -> bool:
        """Send more of the body; False when paused by backpressure (call again on resume)."""
        out = self.out
        if out.paused:
            return False
        iterator = self._iterator
        assert iterator is not None
        for chunk in iterator:
            if chunk:
                out.send_body(chunk)
                if out.paused:
                    return False
        return self._complete()

    def _complete(self) -> bool:
        self.close()
        self.out.finish()
        return True

    def fail(self, exc: BaseException) -> None:
        """The app raised: answer 500 if nothing was sent yet, else drop the connection."""
        self.close()
        if self.headers_sent:
            self.out.abort()
            return
        body = b"Internal Server Error\n"
        self.status = "500 Internal Server Error"
        self.headers = [("Content-Type", "text/plain; charset=utf-8")]
        self._send_head(len(body))
        self.out.send_body(body)
        self.out.finish()

    def close(self) -> None:
        """Call the iterable's close() exactly once, as PEP 3333 requires."""
        result = self._result
        self._result = None
        close = getattr(result, "close", None)
        if close is not None:
            close()


def next_nonempty(iterator: Iterator[bytes]) -> bytes | None:
    for chunk in iterator:
        if chunk:
            return chunk
    return None
