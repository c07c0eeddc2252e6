"""The Python ceiling: uvloop + httptools answering the hello response, with no WSGI at all.

It is the floor of work any Python server on uvloop has to do per request (parse, write), so the
benchmark shows how far from that ceiling each WSGI server sits. Run it as
`python bench/apps/bare_uvloop.py --port 8000`; it serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast

import httptools
import uvloop

# The same status, headers and body as apps/hello.py, so every server sends comparable bytes.
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"


class HelloProtocol(asyncio.Protocol):
    """One connection: every complete request gets RESPONSE, in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport has the Transport methods without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            # A reference responder has no error pages: a malformed request just ends the
            # connection.
            self.close()

    def on_message_complete(self) -> None:
        """httptools callback: one request is whole."""
        if self.transport is None:
            return
        self.transport.write(RESPONSE)
        if not self.parser.should_keep_alive():
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def serve(host: str, port: int) -> None:
    """Serve on host:port until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _resolve, stop)
    server = await loop.create_server(HelloProtocol, host, port, reuse_address=True)
    async with server:
        await stop


def main() -> None:
    """Parse --host/--port and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
