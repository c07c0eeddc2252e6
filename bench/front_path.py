"""The Python cost of the front's proxied request, without sockets.

    PYTHONPATH=src python bench/front_path.py [--profile] [--instructions]

A front worker's client Connection is fed wrk-shaped GETs through a transport that only counts
bytes; the request goes through the front's handler and proxy to an upstream connection whose
transport answers each request with an app server's hello response, fed back as one read. So the
figure is the front's own Python per proxied request: the client's codec, routing, header
rewriting, the upstream's head, the response's parse and its framing toward the client.

- *http*: `proxy_pass` over one kept-alive upstream connection;
- *uwsgi*: `uwsgi_pass`, a new upstream connection per request (its connect is not counted:
  the connection is made at once, as a loop would once the socket connects);
- *return*: `return = 200 ...`, no upstream: the floor under both, the client's side alone
  (the worker's connection and codec, routing, the response's framing).

As bench/request_path.py, the loop does not run: what is scheduled runs at the end of each
request. `--instructions` counts CPU instructions per request under callgrind (a run of N
requests against one of 2N), the figure to compare two versions on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time

import uvloop
from request_path import SOON, CountingTransport, callgrind_count, end_turn

from usher.front.config import parse_front
from usher.front.handler import FrontSource
from usher.front.settings import server_arguments
from usher.front.upstream import UpstreamConnection
from usher.options import load_settings
from usher.protocols.uwsgi import VarsDecoder
from usher.worker.connection import Connection
from usher.worker.context import WorkerContext
from usher.worker.handlers import listener_context

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
# What an usher app server answers the hello app with.
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    b"Date: Thu, 03 Dec 2026 11:00:00 GMT\r\nServer: usher\r\n\r\nHello, World!"
)
UWSGI_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
)
FRONT_INI = """\
[front]
access_log = off
listen = 127.0.0.1:8000

[upstream app]
server = 127.0.0.1:9000
keepalive = 64

[location /]
{pass_line}
"""


class ClientTransport(CountingTransport):
    """request_path's counting transport, with writelines (the front writes a head and a body)."""

    def writelines(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            self.sent += len(piece)


class UpstreamTransport(ClientTransport):
    """An upstream that answers each write (a whole request here) with `answer` in one read;
    with `closing`, it then closes the connection, as a uwsgi server does."""

    def __init__(self, conn: UpstreamConnection, answer: bytes, closing: bool) -> None:
        super().__init__()
        self.conn = conn
        self.answer = answer
        self.closing = closing
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        SOON.append((self.conn.data_received, (self.answer,)))
        if self.closing:
            SOON.append((self.conn.connection_lost, (None,)))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def front_connection(protocol: str) -> Connection:
    """A front worker's client connection, its upstream connections made without sockets."""
    pass_line = {
        "http": "proxy_pass = http://app",
        "uwsgi": "uwsgi_pass = app",
        "return": "return = 200 Hello, World!",
    }[protocol]
    front = parse_front(FRONT_INI.format(pass_line=pass_line))
    settings = load_settings(server_arguments(front), {}).settings
    loop = uvloop.new_event_loop()
    state = WorkerContext(settings, 1, loop)
    state.loop.call_soon = lambda callback, *args, **_: SOON.append((callback, args))  # type: ignore[method-assign, func-returns-value]
    answer, closing = (RESPONSE, False) if protocol == "http" else (UWSGI_RESPONSE, True)

    async def create_connection(
        factory: type[UpstreamConnection], *_args: object
    ) -> tuple[UpstreamTransport, UpstreamConnection]:
        conn = factory()
        transport = UpstreamTransport(conn, answer, closing)
        conn.connection_made(transport)  # type: ignore[arg-type]
        return transport, conn

    # The loop's own connect, replaced on this loop (the front's code, compiled or not, looks it
    # up on the loop at each connect); the connect task runs at end_turn().
    state.loop.create_connection = create_connection  # type: ignore[method-assign, assignment]
    source = FrontSource(front)
    listener = listener_context(settings, state, source, "http", "127.0.0.1", "8000", VarsDecoder())
    conn = Connection(state, listener)
    conn.connection_made(ClientTransport())  # type: ignore[arg-type]
    return conn


def run(protocol: str, count: int) -> float:
    conn = front_connection(protocol)
    receive = conn.data_received
    transport = conn.transport
    began = time.perf_counter()
    for _ in range(count):
        receive(REQUEST)
        end_turn()
    elapsed = time.perf_counter() - began
    sent = transport.sent  # type: ignore[union-attr]
    if sent < count * 50:
        raise SystemExit(f"{protocol}: {sent} bytes answered for {count} requests")
    return elapsed / count * 1e6


PATHS = ("http", "uwsgi", "return")


def instructions(name: str, count: int) -> int:
    return callgrind_count(__file__, ["--run", name, "--count", str(count)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="requests per measurement")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each path")
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--only", choices=PATHS, help="one path")
    parser.add_argument("--run", choices=PATHS, help=argparse.SUPPRESS)  # one path, untimed
    args = parser.parse_args()
    asyncio.set_event_loop_policy(None)
    paths = (args.only,) if args.only else PATHS
    if args.run:
        run(args.run, args.count)
        return 0
    if args.instructions:
        count = min(args.count, 5_000)
        for name in paths:
            once, twice = instructions(name, count), instructions(name, 2 * count)
            print(f"front {name:5} path: {(twice - once) / count:8.0f} instructions per request")
        return 0
    for name in paths:
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(run, name, args.count)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            continue
        best = min(run(name, args.count) for _ in range(3))
        print(f"front {name:5} path: {best:6.2f} µs of Python per request (best of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
