"""The WSGI handler (PEP 3333): a request's body spooled, its environ, start_response, and the
delivery of the app's result through the worker's responder (usher.adapters.base).

A WSGI app sees its request only once the body is complete (`receive_end`), held in memory up to
post-buffering and in an anonymous temporary file past it (usher.adapters.body): a slow client
never holds an app thread. The app then runs inline on the loop (threads = 1), with the running
loop hidden from it, or on the handler's thread pool.

Delivery is driven by `deliver()` and then `pump()` whenever the responder can take more: inline,
`pump()` returns early when the responder is paused and the worker calls `resume()` once the client
has drained; on a pool thread the responder blocks instead, so one call runs to the end. A body
known at once (a list of one bytes, or an iterable of one chunk, as Django's and Flask's responses
are) goes out with one `send_whole`, the responder's one-write path.
"""

from __future__ import annotations

import os
import stat
import sys
from asyncio import AbstractEventLoop
from asyncio.events import _set_running_loop
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from functools import partial
from types import TracebackType
from typing import Any, Final

from usher import __version__
from usher.adapters.base import Responder
from usher.adapters.body import RequestBody
from usher.adapters.environ import http_environ, uwsgi_environ
from usher.protocols.events import Request

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
WsgiApp = Callable[..., Iterable[bytes]]
# Told of each exception the app raised (the worker logs and counts it).
Report = Callable[[Request, BaseException], None]

SERVER_SOFTWARE: Final = f"usher/{__version__}"


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


SECOND_START: Final = "start_response called a second time without exc_info"
NO_START: Final = "the app returned a body before calling start_response"
_EMPTY: Final = RequestBody.EMPTY


class WsgiHandler:
    """A listener's WSGI app: the base environ it shares, where the app runs, who hears of
    its errors."""

    runs_coroutines = False  # the app is synchronous (usher.adapters.base.Handler)

    __slots__ = (
        "app",
        "base_environ",
        "begin",
        "hide_per_call",
        "loop",
        "pool",
        "report",
        "spool_threshold",
        "write_exceptions",
    )

    def __init__(
        self,
        app: WsgiApp,
        base_environ: dict[str, Any],
        *,
        spool_threshold: int,
        loop: AbstractEventLoop,
        pool: Executor | None,
        report: Report,
        write_exceptions: bool = True,
    ) -> None:
        self.app = app
        # write() raises when the client has gone, unless disable-write-exception.
        self.write_exceptions = write_exceptions
        self.base_environ = base_environ
        # post-buffering: the largest body kept in memory before it moves to a temporary file.
        self.spool_threshold = spool_threshold
        self.loop = loop
        self.pool = pool
        self.report = report
        self.hide_per_call = True
        # Handler.begin: take a request whose head has been read. The exchange itself is made
        # with no frame of Python in between: this runs once per request (one Python call is
        # ~0.4% of the uwsgi path's instructions).
        self.begin: Callable[[Request, Responder], WsgiExchange] = partial(WsgiExchange, self)

    def serving(self, loop_shared: bool) -> None:
        """The worker starts serving (usher.adapters.base.Handler).

        A WSGI app is synchronous code: it must not see a running loop, or frameworks refuse
        blocking work (Django raises SynchronousOnlyOperation on the ORM). When no handler of the
        worker runs coroutines on its loop, the loop is hidden once, here, for good. When one does
        (`loop_shared`), it is hidden around each inline call of the app only, which costs two
        calls and ~1,900 CPU instructions a request (a tenth of hello world's Python path).
        """
        self.hide_per_call = loop_shared
        if not loop_shared:
            _set_running_loop(None)


class WsgiExchange:
    """One request to a WSGI app: its body, the app's call and the delivery of its response."""

    __slots__ = (
        "_iterator",
        "_result",
        "body",
        "environ",
        "failed_store",
        "handler",
        "headers",
        "headers_sent",
        "out",
        "request",
        "status",
    )

    def __init__(self, handler: WsgiHandler, request: Request, out: Responder) -> None:
        self.handler = handler
        self.request = request
        self.out = out
        self.body = RequestBody(handler.spool_threshold) if request.has_body else _EMPTY
        self.failed_store: OSError | None = None
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.headers_sent = False
        self._result: Iterable[bytes] | None = None
        self._iterator: Iterator[bytes] | None = None
        # `environ` is set once the request is complete (receive_end), before anything reads it.
        self.environ: dict[str, Any]

    # -- the request ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Store a piece of the body (in memory, or spooled to disk past post-buffering)."""
        if self.failed_store is None:
            try:
                self.body.append(data)
            except OSError as exc:  # a full disk: answered with a 500 once the request is in
                self.failed_store = exc

    def receive_end(self) -> None:
        """The request is complete: build the environ and run the app, inline or on the pool."""
        environ = self.complete_environ()
        handler = self.handler
        if self.failed_store is not None:
            self._refuse_body(self.failed_store)
        elif handler.pool is None:
            # Inline, with the running loop hidden from the app (WsgiHandler.serving).
            hide = handler.hide_per_call
            if hide:
                _set_running_loop(None)
            try:
                self.deliver(handler.app(environ, self.start_response))
            except Exception as exc:
                self.failed(exc)
            finally:
                if hide:
                    _set_running_loop(handler.loop)
        else:
            self.out.threaded = True
            handler.pool.submit(self._run_threaded)

    def complete_environ(self) -> dict[str, Any]:
        """The body is complete: rewind it, and build the request's environ over the base."""
        body, request, handler = self.body, self.request, self.handler
        if body is not _EMPTY:
            body.finish()
        if request.vars is None:
            environ = http_environ(handler.base_environ, request, self.out.peer, body)
        else:
            environ = uwsgi_environ(handler.base_environ, request.vars, body)
        self.environ = environ
        return environ

    def _run_threaded(self) -> None:
        """Body of a pool thread: the whole exchange, blocking on backpressure."""
        try:
            self.begin()
        except Exception as exc:
            self.handler.loop.call_soon_threadsafe(self._thread_failed, exc)

    def _thread_failed(self, exc: BaseException) -> None:
        self.out.threaded = False
        self.failed(exc)

    def _refuse_body(self, exc: OSError) -> None:
        self.status = "500 Internal Server Error"
        self.headers = [("Content-Type", "text/plain; charset=utf-8")]
        self.out.send_whole(self.status, self.headers, b"could not store the request body\n")
        self.handler.report(self.request, exc)

    # -- the app -------------------------------------------------------------------------------

    def start_response(
        self, status: str, headers: list[Any], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 start_response, with its exc_info rules.

        `headers` is typed loosely on purpose: PEP 3333 asks for (name, value) tuples, but apps
        that pass two-item lists work in gunicorn, so they work here too. The compiled form
        checks a tuple's type where the headers are read, so lists become tuples here.
        """
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError(SECOND_START)
        if type(status) is not str or len(status) < 4 or not status[:3].isdigit():
            raise ValueError(f"invalid WSGI status {status!r}: expected e.g. '200 OK'")
        self.status = status
        for header in headers:
            if type(header) is not tuple:
                headers = [tuple(item) for item in headers]
                break
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy write() callable: sends at once (no backpressure is possible here).

        When the client has gone it raises ConnectionAbortedError (an OSError, as uWSGI raises
        IOError) so that the app stops; with disable-write-exception the data is dropped.
        """
        if not self.headers_sent:
            self._send_head(None)
        if data:
            try:
                self.out.send_body(data)
            except ConnectionAbortedError:
                if self.handler.write_exceptions:
                    raise

    def begin(self) -> bool:
        """Call the app and send what can be sent now; True when the response is complete."""
        return self.deliver(self.handler.app(self.environ, self.start_response))

    def deliver(self, result: Iterable[bytes]) -> bool:
        """Send what can be sent now of the app's `result`; True when the response is complete."""
        self._result = result
        if type(result) is list and len(result) == 1 and not self.headers_sent:
            # The common case (hello world): one write, known length; a list has no close().
            status = self.status
            if status is None:
                raise AssertionError(NO_START)
            self.out.send_whole(status, self.headers, result[0])
            self.headers_sent = True
            return True
        if type(result) is FileWrapper and (span := result.sendfile_span()) is not None:
            return self._begin_file(*span)
        iterator = iter(result)
        self._iterator = iterator
        if self.headers_sent:
            return self.pump()
        first = next_nonempty(iterator)
        second = None if first is None else next_nonempty(iterator)
        if second is None:
            # One chunk, as Django's and Flask's responses hold: closed first (PEP 3333 asks
            # for it once the body is read), then sent whole in one write.
            self.close()
            self._send_whole(first or b"")
            return True
        assert first is not None
        self._send_head(None)
        self.out.send_body(first)
        self.out.send_body(second)
        return self.pump()

    def _send_whole(self, body: bytes) -> None:
        if self.status is None:
            raise AssertionError(NO_START)
        self.out.send_whole(self.status, self.headers, body)
        self.headers_sent = True

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

    def _begin_file(self, fd: int, offset: int, count: int) -> bool:
        declared = self._declared_length()
        if declared is not None:
            count = min(count, declared)
        self._send_head(count)
        self._iterator = iter(())
        self.out.send_file(fd, offset, count)
        return self.pump()

    def resume(self) -> None:
        """The responder drained after a pause: send more (usher.adapters.base.Exchange)."""
        try:
            self.pump()
        except Exception as exc:
            self.failed(exc)

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

    def failed(self, exc: BaseException) -> None:
        """The app raised: report it, then answer 500 if nothing was sent yet, else drop the
        connection. A client that went away is no error of the app: the carrier logs it once."""
        if isinstance(exc, ConnectionAbortedError):
            self.gone()
            return
        report = self.handler.report
        report(self.request, exc)
        try:
            self.fail(exc)
        except Exception as close_exc:
            # close() of the app's iterable raised as well: the response is lost either way.
            report(self.request, close_exc)
            self.out.abort()

    def gone(self) -> None:
        """The client went away mid-response: stop the app's iterable and drop the connection."""
        try:
            self.close()
        except Exception as exc:
            self.handler.report(self.request, exc)  # close() itself failing is the app's error
        self.out.abort()

    def fail(self, exc: BaseException) -> None:
        """Answer 500 if nothing was sent yet, else drop the connection."""
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

    def release(self) -> None:
        """The carrier is done with the request: the body's memory or file goes too."""
        body = self.body
        if body is not _EMPTY:  # most requests have none: no call for them
            body.close()


def next_nonempty(iterator: Iterator[bytes]) -> bytes | None:
    for chunk in iterator:
        if chunk:
            return chunk
    return None
