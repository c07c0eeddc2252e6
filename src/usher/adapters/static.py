"""Static files, answered from the worker's event loop: a handler in front of the app's.

`StaticHandler.begin` looks the request's path up in the static maps (usher.adapters
.static_files). A miss goes to the app's handler unchanged, as uWSGI's static-map does; a file
is answered here and never reaches an app thread:

- GET and HEAD only (anything else: 405 with `Allow`);
- conditional requests (usher.protocols.conditional): 304 with the validators and caching
  headers but no body headers, or 412;
- ranges (usher.protocols.ranges): 206 with one part or multipart/byteranges, 416 with
  `Content-Range: bytes */N`, If-Range;
- a precompressed FILE.br / FILE.gz sibling, the smallest the client accepts, where static-gzip*
  asks for it, with `Vary: Accept-Encoding`;
- small files in one write from the worker's cache; larger ones with `Responder.send_file`, whose
  sendfile sends at most 1 MiB per turn of the loop, so one fast client cannot hold the worker.
"""

from __future__ import annotations

import os
import time
from typing import Final, Protocol

from usher.adapters.base import Exchange, Handler, Responder
from usher.adapters.routes import Effects
from usher.adapters.static_files import (
    REFUSED,
    Found,
    Redirect,
    Refused,
    StaticConfig,
    StaticFiles,
    expires,
    has_variant,
    small_body,
    variant_of,
)
from usher.protocols import conditional, ranges
from usher.protocols.encodings import accepted_codings
from usher.protocols.events import Request
from usher.protocols.framing import Prepared

_CODINGS: Final = ("br", "gzip")
# The request headers static files read, by their HTTP name and by their uwsgi variable.
_HEADERS: Final = {
    b"if-match": "HTTP_IF_MATCH",
    b"if-none-match": "HTTP_IF_NONE_MATCH",
    b"if-modified-since": "HTTP_IF_MODIFIED_SINCE",
    b"if-unmodified-since": "HTTP_IF_UNMODIFIED_SINCE",
    b"range": "HTTP_RANGE",
    b"if-range": "HTTP_IF_RANGE",
    b"accept-encoding": "HTTP_ACCEPT_ENCODING",
}
_TEXT: Final = [("Content-Type", "text/plain; charset=utf-8")]
# Those that may change a file's answer whatever its configuration (Accept-Encoding matters only
# where precompressed siblings are looked for).
_DECIDING: Final = frozenset(name for name in _HEADERS if name != b"accept-encoding")
_PREPARED_METHODS: Final = ("GET", "HEAD")
_DECIDING_VARS: Final = frozenset(key for name, key in _HEADERS.items() if name in _DECIDING)


def request_headers(request: Request) -> dict[bytes, str]:
    """The request headers static files read (repeated ones joined with commas)."""
    found: dict[bytes, str] = {}
    variables = request.vars
    if variables is not None:
        for name, key in _HEADERS.items():
            value = variables.get(key)
            if value is not None:
                found[name] = value
        return found
    for name, raw in request.headers:
        if name in _HEADERS:
            value = raw.decode("latin-1")
            found[name] = found[name] + "," + value if name in found else value
    return found


class FileRoutes(Protocol):
    """What of the routing options applies to static files (usher.adapters.router.FileRouting):
    the request chain, run before a file is sent, and the header edits of every response."""

    def request_effects(self, request: Request, peer: tuple[str, str]) -> Effects:
        """The request chain's effects for this request."""
        ...

    def edit(self, headers: list[tuple[str, str]], effects: Effects) -> list[tuple[str, str]]:
        """A response's headers with add-header, del-header and the chain's edits applied."""
        ...


_NO_EFFECTS: Final = Effects()


class StaticHandler:
    """Static files in front of another handler (the app's, or the router's)."""

    __slots__ = ("files", "inner", "preparing", "routes", "runs_coroutines")

    def __init__(
        self, inner: Handler, config: StaticConfig, routes: FileRoutes | None = None
    ) -> None:
        self.inner = inner
        self.files = StaticFiles(config)
        self.routes = routes
        self.runs_coroutines = inner.runs_coroutines
        # Routes may answer or edit any response, expiries depend on the time: with either, every
        # response is made for its request.
        self.preparing = routes is None and not config.expiries

    def serving(self, loop_shared: bool) -> None:
        self.inner.serving(loop_shared)

    def begin(self, request: Request, responder: Responder) -> Exchange:
        # An Upgrade (a WebSocket) is never a file's business, whatever its path.
        found = None if request.upgrade else self.files.lookup(request.path)
        if found is None:
            return self.inner.begin(request, responder)
        if self.preparing and type(found) is Found:
            cache = found.prepared
            if cache is not None and request.method in _PREPARED_METHODS and plain(request):
                # The common request for a cached small file: its 200 framed once per shape of
                # request, then one concatenation and one write per request.
                shape = (
                    request.http_version,
                    request.keep_alive,
                    request.method,
                    request.vars is None,
                )
                prepared = cache.get(shape)
                if prepared is None:
                    prepared = cache[shape] = self._prepare(found, responder)
                    # Counted with the cached files' bytes, which bound a worker's cache.
                    self.files.cached_bytes += len(prepared.after)
                return PreparedExchange(responder, prepared)
        return StaticExchange(self.files, request, responder, found, self.routes)

    @staticmethod
    def _prepare(found: Found, responder: Responder) -> Prepared:
        body = found.body
        assert body is not None  # found.prepared is None for a file without its bytes
        return responder.prepare("200 OK", found.headers, body)


def plain(request: Request) -> bool:
    """No header of the request changes a file's 200 (no condition, no range)."""
    variables = request.vars
    if variables is not None:
        return variables.keys().isdisjoint(_DECIDING_VARS)
    # A loop, not all() over a generator: this runs on every request for a file.
    for name, _ in request.headers:  # noqa: SIM110
        if name in _DECIDING:
            return False
    return True


class PreparedExchange:
    """A cached small file's 200, framed already; the request's body, if any, is dropped."""

    __slots__ = ("out", "prepared")

    def __init__(self, out: Responder, prepared: Prepared) -> None:
        self.out = out
        self.prepared = prepared

    def receive_data(self, data: bytes) -> None:
        pass

    def receive_end(self) -> None:
        out = self.out
        out.quiet = False  # set on every request: a connection's responder is reused
        out.send_prepared(self.prepared)

    def resume(self) -> None:
        pass

    def release(self) -> None:
        pass


class StaticExchange:
    """One request a static file answers; the request's body, if any, is read and dropped."""

    __slots__ = ("effects", "fd", "files", "found", "out", "parts", "request", "routes")

    def __init__(
        self,
        files: StaticFiles,
        request: Request,
        out: Responder,
        found: Found | Redirect | Refused,
        routes: FileRoutes | None = None,
    ) -> None:
        self.files = files
        self.routes = routes
        self.effects = _NO_EFFECTS
        self.request = request
        self.out = out
        self.found = found
        self.fd = -1
        # What remains to send of a body: (bytes to send, or (offset, count) of the file).
        self.parts: list[bytes | tuple[int, int]] = []

    def receive_data(self, data: bytes) -> None:
        pass  # a GET's body means nothing to a file

    def receive_end(self) -> None:
        found, out = self.found, self.out
        out.quiet = False  # set on every request: a connection's responder is reused
        routes = self.routes
        if routes is not None and found is not REFUSED:
            # As uWSGI does, the request chain runs before a file is sent: it may answer instead.
            self.effects = effects = routes.request_effects(self.request, out.peer)
            out.quiet = effects.quiet
            if effects.answer is not None:
                status, headers, body = effects.answer
                if status:
                    self._whole(status, headers, body)
                else:  # break with no status: uWSGI ends the request without a response
                    out.abort()
                return
        if found is REFUSED:
            self._whole("400 Bad Request", _TEXT, b"Bad Request\n")
        elif isinstance(found, Redirect):
            query = self.request.query
            location = found.location + ("?" + query.decode("latin-1") if query else "")
            self._whole("301 Moved Permanently", [*_TEXT, ("Location", location)], b"")
        elif self.request.method not in ("GET", "HEAD"):
            self._whole("405 Method Not Allowed", [*_TEXT, ("Allow", "GET, HEAD")], b"")
        else:
            assert isinstance(found, Found)
            self.answer(found)

    def answer(self, found: Found) -> None:
        request = self.request
        wanted = request_headers(request)
        expiries = self.files.config.expiries
        plain = not wanted or (len(wanted) == 1 and b"accept-encoding" in wanted)
        if plain and not found.gzip and not expiries and found.body is not None:
            # The common request for an unchanged small file: headers made once, one write.
            self._whole("200 OK", found.headers, found.body)
            return
        real, st, body = found.real, found.st, found.body
        headers, etag, modified = found.headers, found.etag, found.last_modified
        vary: list[tuple[str, str]] = []
        if found.gzip:
            codings = accepted_codings(wanted.get(b"accept-encoding"), _CODINGS)
            variant = variant_of(found, codings)
            if variant is not None:
                real, st, coding = variant
                etag = conditional.etag_of(int(st.st_mtime), st.st_size)
                modified = conditional.http_date(int(st.st_mtime))
                headers = [
                    (name, etag if name == "ETag" else modified if name == "Last-Modified" else v)
                    for name, v in headers
                ]
                headers.insert(1, ("Content-Encoding", coding))
                body = small_body(real, st)
            if variant is not None or has_variant(found):
                vary = [("Vary", "Accept-Encoding")]
        caching = self._expires(found)
        mtime, size = int(st.st_mtime), st.st_size
        verdict = conditional.evaluate(
            request.method,
            etag,
            mtime,
            if_match=wanted.get(b"if-match"),
            if_none_match=wanted.get(b"if-none-match"),
            if_modified_since=wanted.get(b"if-modified-since"),
            if_unmodified_since=wanted.get(b"if-unmodified-since"),
        )
        if verdict == conditional.NOT_MODIFIED:
            # RFC 9110 15.4.5: the validators and caching headers a 200 would carry, and no
            # header describing a body.
            kept = [(n, v) for n, v in headers if n in ("ETag", "Last-Modified", "Cache-Control")]
            self._whole("304 Not Modified", [*kept, *caching, *vary], b"")
            return
        if verdict == conditional.PRECONDITION_FAILED:
            self._whole("412 Precondition Failed", _TEXT, b"Precondition Failed\n")
            return
        headers = [*headers, *vary, *caching]
        spans = None
        range_header = wanted.get(b"range")
        if range_header is not None and request.method == "GET":
            if_range = wanted.get(b"if-range")
            if if_range is None or conditional.if_range_holds(if_range, etag, mtime):
                spans = ranges.plan_ranges(range_header, size)
        if spans is ranges.UNSATISFIABLE:
            headers = [*_TEXT, ("Content-Range", f"bytes */{size}")]
            self._whole("416 Range Not Satisfiable", headers, b"")
            return
        if isinstance(spans, list):
            self._partial(real, st, spans, headers, found.content_type)
            return
        if request.method == "HEAD":
            self._whole("200 OK", [*headers, ("Content-Length", str(size))], b"")
            return
        if body is not None:
            self._whole("200 OK", headers, body)
            return
        self._send_file(real, "200 OK", headers, size, [(0, size - 1)])

    def _whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        routes = self.routes
        if routes is not None:
            headers = routes.edit(headers, self.effects)
        self.out.send_whole(status, headers, body)

    def _head(self, status: str, headers: list[tuple[str, str]], length: int) -> None:
        routes = self.routes
        if routes is not None:
            headers = routes.edit(headers, self.effects)
        self.out.send_head(status, headers, length)

    def _expires(self, found: Found) -> list[tuple[str, str]]:
        config = self.files.config
        if not config.expiries:
            return []
        request = self.request
        uri = request.path + (b"?" + request.query if request.query else b"")
        when = expires(config, found, uri, time.time())
        if when is None:
            return []
        caching = [("Expires", conditional.http_date(when))]
        if config.max_age is not None and not found.immutable:
            caching.append(("Cache-Control", f"max-age={config.max_age}"))
        return caching

    def _partial(
        self,
        real: bytes,
        st: os.stat_result,
        spans: list[tuple[int, int]],
        headers: list[tuple[str, str]],
        content_type: str,
    ) -> None:
        size = st.st_size
        if len(spans) == 1:
            first, last = spans[0]
            headers.append(("Content-Range", ranges.content_range(first, last, size)))
            self._send_file(real, "206 Partial Content", headers, last - first + 1, spans)
            return
        boundary = ranges.new_boundary()
        heads, tail, total = ranges.multipart_parts(spans, size, content_type, boundary)
        headers = [(n, v) for n, v in headers if n != "Content-Type"]
        headers.insert(0, ("Content-Type", f"multipart/byteranges; boundary={boundary}"))
        parts: list[bytes | tuple[int, int]] = []
        for head, (first, last) in zip(heads, spans, strict=True):
            parts += [head, (first, last - first + 1)]
        parts.append(tail)
        self._send_parts(real, "206 Partial Content", headers, total, parts)

    def _send_file(
        self,
        real: bytes,
        status: str,
        headers: list[tuple[str, str]],
        length: int,
        spans: list[tuple[int, int]],
    ) -> None:
        parts: list[bytes | tuple[int, int]] = [(f, last - f + 1) for f, last in spans]
        self._send_parts(real, status, headers, length, parts)

    def _send_parts(
        self,
        real: bytes,
        status: str,
        headers: list[tuple[str, str]],
        length: int,
        parts: list[bytes | tuple[int, int]],
    ) -> None:
        try:
            self.fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._whole("404 Not Found", _TEXT, b"Not Found\n")
            return
        self._head(status, [*headers, ("Content-Length", str(length))], length)
        self.parts = parts
        parts.reverse()  # popped from the end
        self.resume()

    def resume(self) -> None:
        """Send the next part of the body; sendfile pauses the responder until it is sent."""
        out, parts = self.out, self.parts
        if self.fd < 0:
            return  # answered already, or released by the carrier
        try:
            while parts and not out.paused:
                part = parts.pop()
                if isinstance(part, bytes):
                    out.send_body(part)
                else:
                    out.send_file(self.fd, part[0], part[1])
            if not parts and not out.paused:
                self.release()
                out.finish()
        except ConnectionAbortedError:
            self.release()
            out.abort()

    def release(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
