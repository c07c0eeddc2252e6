"""The Python cost of usher's request path, without sockets.

    PYTHONPATH=src python bench/request_path.py [--profile]

A worker's Connection is fed requests through a transport that only counts bytes, so the figure is
usher's own Python per request: codec, environ, the hello app, response framing and bookkeeping.
Two paths:

- *http*: one keep-alive connection, a wrk-shaped GET per call;
- *uwsgi*: a new connection per request, as nginx `uwsgi_pass` opens them, with the variables of
  the stock `uwsgi_params`.

The kernel, uvloop and the client are left out; `bench/run.py` measures the whole. Use this one to
see what a change to the request path costs, in microseconds, with little noise.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "apps"))

import hello  # noqa: E402

from usher.connection import Connection  # noqa: E402
from usher.options import load_settings  # noqa: E402
from usher.protocols.events import Limits  # noqa: E402
from usher.protocols.uwsgi import encode_uwsgi_request  # noqa: E402
from usher.worker import ListenerContext, WorkerState  # noqa: E402
from usher.wsgi import base_environ  # noqa: E402

HTTP_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
UWSGI_REQUEST = encode_uwsgi_request(
    {
        "QUERY_STRING": "", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
        "REQUEST_URI": "/", "PATH_INFO": "/", "DOCUMENT_ROOT": "/usr/share/nginx/html",
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "HTTPS": "",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_PORT": "80",
        "SERVER_NAME": "localhost", "HTTP_HOST": "localhost",
    }
)  # fmt: skip


class CountingTransport:
    """Enough of an asyncio transport for a Connection: writes are counted, nothing is sent."""

    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def make_worker() -> WorkerState:
    settings = load_settings(["--http-socket", ":8000", "--disable-logging"], {}).settings
    loop = uvloop.new_event_loop()
    state = WorkerState(settings, hello.application, 1, loop)
    # The loop does not run here: the end of a turn is played by calling end_turn() directly.
    state.loop.call_soon = lambda *args, **kwargs: None  # type: ignore[method-assign]
    return state


def context(protocol: str) -> ListenerContext:
    limits = Limits(max_head=4096, max_body=0, spool_threshold=1 << 20)
    environ = base_environ(
        server_name="127.0.0.1", server_port="8000", multithread=False, multiprocess=False
    )
    return ListenerContext(protocol, limits, environ)


def http_path(state: WorkerState, count: int) -> float:
    conn = Connection(state, context("http"))
    conn.connection_made(CountingTransport())  # type: ignore[arg-type]
    receive, end_turn = conn.data_received, state._end_turn
    began = time.perf_counter()
    for _ in range(count):
        receive(HTTP_REQUEST)
        end_turn()
    return (time.perf_counter() - began) / count * 1e6


def uwsgi_path(state: WorkerState, count: int) -> float:
    listener = context("uwsgi")
    end_turn = state._end_turn
    began = time.perf_counter()
    for _ in range(count):
        conn = Connection(state, listener)
        conn.connection_made(CountingTransport())  # type: ignore[arg-type]
        conn.data_received(UWSGI_REQUEST)
        end_turn()
        conn.connection_lost(None)
    return (time.perf_counter() - began) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="requests per measurement")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each path")
    args = parser.parse_args()
    state = make_worker()
    for name, path in (("http", http_path), ("uwsgi", uwsgi_path)):
        path(state, args.count // 5)  # warm-up
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(path, state, args.count)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
            continue
        best = min(path(state, args.count) for _ in range(5))
        print(f"{name:5} path: {best:6.2f} µs of Python per request (best of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
