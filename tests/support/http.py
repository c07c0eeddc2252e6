"""HTTP clients for the integration tests: http.client for well-formed traffic, raw sockets for
the malformed and slow traffic that http.client refuses to send, and a small cookie-keeping
`Browser` for Django's CSRF and login flows. Every call is bounded by a socket timeout.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import select
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

# A (host, port) pair for TCP or a filesystem path for a unix socket.
Address = tuple[str, int] | str

# Every blocking call in a test gets a bound; a healthy loopback server answers in milliseconds.
TIMEOUT = 10.0


@dataclass
class Response:
    """One complete HTTP response."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_list(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket; `host` only feeds the Host header."""

    def __init__(self, path: str, host: str = "localhost", timeout: float = TIMEOUT) -> None:
        super().__init__(host, timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def http_connection(
    address: Address, *, timeout: float = TIMEOUT, tls: bool = False
) -> http.client.HTTPConnection:
    """An http.client connection to `address` (TLS without verification: test certificates are
    self-signed)."""
    if isinstance(address, str):
        return UnixHTTPConnection(address, timeout=timeout)
    host, port = address
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def read_http_response(resp: http.client.HTTPResponse) -> Response:
    """Turn an http.client response into a `Response`, reading the whole body."""
    body = resp.read()
    version = "HTTP/1.1" if resp.version == 11 else "HTTP/1.0"
    return Response(resp.status, resp.reason, list(resp.getheaders()), body, version)


def request(
    address: Address,
    method: str,
    path: str,
    *,
    body: bytes | Iterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
    tls: bool = False,
) -> Response:
    """One request on a fresh connection. An iterable body is streamed: with a Content-Length
    header as given, without one chunked."""
    conn = http_connection(address, timeout=timeout, tls=tls)
    try:
        hdrs = dict(headers or {})
        chunked = (
            body is not None
            and not isinstance(body, bytes)
            and not any(key.lower() == "content-length" for key in hdrs)
        )
        conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
        return read_http_response(conn.getresponse())
    finally:
        conn.close()


def get(address: Address, path: str, **kwargs: Any) -> Response:
    """GET `path` on a fresh connection."""
    return request(address, "GET", path, **kwargs)


def connect(address: Address, timeout: float = TIMEOUT) -> socket.socket:
    """A connected raw stream socket with a timeout on every operation."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


class ResponseReader:
    """Parses responses off a raw socket, keeping leftover bytes, so a test can check pipelining,
    HEAD framing and what a server sends before it closes."""

    def __init__(self, sock: socket.socket | None, buffer: bytes = b"") -> None:
        self.sock = sock
        self.buffer = buffer
        self.eof = sock is None

    def _fill(self) -> bool:
        if self.eof or self.sock is None:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _take_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"connection closed inside a line: {self.buffer[:200]!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError(f"connection closed after {len(self.buffer)}/{size} bytes")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_response(self, method: str = "GET") -> Response:
        """Read one response, framed as RFC 9112 says for a request of `method`."""
        status_line = self._take_line().decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        headers: list[tuple[str, str]] = []
        while line := self._take_line():
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        response = Response(int(code), reason, headers, b"", version)
        status = response.status
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return response
        encoding = (response.header("transfer-encoding") or "").lower()
        if "chunked" in encoding:
            response.body = self._read_chunked()
        elif (length := response.header("content-length")) is not None:
            response.body = self._take(int(length))
        else:
            response.body = self.read_until_close()
        return response

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._take_line().split(b";")[0], 16):
            parts.append(self._take(size))
            self._take_line()
        while self._take_line():
            pass  # trailers
        return b"".join(parts)

    def read_until_close(self) -> bytes:
        """Everything until the peer closes (bounded by the socket timeout)."""
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data


def raw_exchange(address: Address, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send `data` on a fresh connection and return all bytes received until the server closes
    it (or the timeout, which raises)."""
    with connect(address, timeout) as sock:
        sock.sendall(data)
        return ResponseReader(sock).read_until_close()


def parse_response(data: bytes, method: str = "GET") -> Response:
    """Parse the first response in `data` (as received by `raw_exchange`)."""
    return ResponseReader(None, data).read_response(method)


def peer_closed(sock: socket.socket, timeout: float) -> bool:
    """Wait up to `timeout` for the peer to close `sock`, discarding what it sends first (e.g. an
    error response). True if it closed (or reset) in time."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], remaining)[0]:
            return False
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, TimeoutError):
            return True
    return False


def chunked_frames(chunks: Iterable[bytes]) -> bytes:
    """The chunked transfer coding of `chunks`, terminator included."""
    framed = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk]
    return b"".join(framed) + b"0\r\n\r\n"


def multipart_body(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]
) -> tuple[str, bytes]:
    """A multipart/form-data body: `files` maps a field to (filename, content, content type).
    Returns (Content-Type header value, body)."""
    boundary = "usher-" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, content, ctype) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


_CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Browser:
    """Keeps cookies across requests like a browser would (one site, no expiry bookkeeping beyond
    deletion), enough for Django's CSRF and session cookies. Redirects are not followed, so tests
    see the 302s."""

    address: Address
    host: str = "127.0.0.1"
    tls: bool = False
    timeout: float = TIMEOUT
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        hdrs = {"Host": self.host, **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = request(
            self.address, method, path, body=body, headers=hdrs, timeout=self.timeout, tls=self.tls
        )
        for value in response.header_list("set-cookie"):
            self._store(value)
        return response

    def _store(self, set_cookie: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        jar.load(set_cookie)
        for name, morsel in jar.items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, fields: Mapping[str, str]) -> Response:
        body = urlencode(fields).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    @staticmethod
    def csrf_field(page: Response) -> str:
        """The hidden csrfmiddlewaretoken of a rendered Django form."""
        match = _CSRF_FIELD.search(page.body)
        assert match, f"no csrfmiddlewaretoken in the page:\n{page.text[:2000]}"
        return match.group(1).decode()
