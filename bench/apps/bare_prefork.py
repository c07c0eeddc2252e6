"""The floor of a prefork WSGI server on uvloop + httptools, with none of usher's code.

It imports the app, collects and freezes the garbage as usher's master does, forks one worker, and
the worker serves HTTP/1.1 keep-alive with httptools on a uvloop loop: a minimal environ, the app
called inline, the body joined and sent with a Content-Length. No options, limits, timeouts,
scoreboard, logging or signals beyond SIGINT/SIGTERM. Its worker's memory is what any server built
on these two libraries starts from, so the benchmark shows it beside usher's and uWSGI's.

    python bench/apps/bare_prefork.py --port 8000 mysite.wsgi:application
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import io
import os
import signal
import socket
import sys
from asyncio.events import _set_running_loop
from collections.abc import Callable
from typing import Any, cast

import httptools
import uvloop

App = Callable[[dict[str, Any], Callable[..., Any]], Any]


class WsgiProtocol(asyncio.Protocol):
    """One connection: each complete request is answered by the app, in order."""

    def __init__(self, app: App, port: int) -> None:
        self.app = app
        self.port = str(port)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        path, _, query = self.url.partition(b"?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.parser.get_method().decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": path.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": self.port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers:
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            environ[key] = value.decode("latin-1")
        self.url, self.headers = b"", []
        head: list[bytes] = []
        sized: list[bool] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            lines = [f"HTTP/1.1 {status}\r\n"] + [f"{k}: {v}\r\n" for k, v in headers]
            head[:] = ["".join(lines).encode("latin-1")]
            sized[:] = [any(k.lower() == "content-length" for k, _ in headers)]

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        length = b"\r\n" if sized[0] else b"Content-Length: %d\r\n\r\n" % len(body)
        if self.transport is not None:
            self.transport.write(head[0] + length + body)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def load(spec: str) -> App:
    module, _, name = spec.partition(":")
    return cast(App, getattr(importlib.import_module(module), name or "application"))


def serve(app: App, sock: socket.socket, port: int) -> None:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _resolve, stop)

    async def start() -> None:
        server = await loop.create_server(
            lambda: WsgiProtocol(app, port), sock=sock, start_serving=False
        )
        await server.start_serving()
        # As usher does, in the same step as the start, before any request can come in: the
        # app runs inline and must not see a running loop (Django's ORM refuses to).
        _set_running_loop(None)

    loop.create_task(start())
    loop.run_until_complete(stop)


def main() -> None:
    # A literal: a module compiled by mypyc has no __doc__.
    parser = argparse.ArgumentParser(description="a bare prefork WSGI server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("app", help="module:callable")
    args = parser.parse_args()
    app = load(args.app)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    sock.setblocking(False)
    gc.collect()
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        serve(app, sock, args.port)
        os._exit(0)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):  # the worker got the signal too and left
            os.kill(pid, signal.SIGTERM)

    # A def, not a lambda: mypyc (bench/apps/compiled_floor.py) miscompiles `lambda *_:`.
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
