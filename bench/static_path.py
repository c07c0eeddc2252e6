"""The Python cost of usher's static-file path, without sockets.

    PYTHONPATH=src python bench/static_path.py [--profile | --instructions]

As bench/request_path.py's http path, with a `static-map` in front of the hello app: one
keep-alive connection, a wrk-shaped GET (or HEAD) of a 1 KiB mapped file per call, fed through a
transport that only counts bytes. `--instructions` counts the CPU instructions per request under
valgrind's callgrind (a run of N requests against one of 2N, so start-up cancels out): the figure
to compare two versions of the static path on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from request_path import DECODER, CountingTransport, callgrind_count, end_turn, hello
from request_path import make_worker as make_hello_worker

from usher.adapters.static_files import config_from_settings
from usher.options import load_settings
from usher.protocols.uwsgi import encode_uwsgi_request
from usher.worker.connection import Connection
from usher.worker.context import ListenerContext, WorkerContext
from usher.worker.handlers import listener_context

REQUESTS = {
    "get": b"GET /static/file.txt HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
    "head": b"HEAD /static/file.txt HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
    # Behind nginx's uwsgi_pass: a new connection per request, the stock uwsgi_params' variables.
    "uwsgi": encode_uwsgi_request(
        {
            "QUERY_STRING": "",
            "REQUEST_METHOD": "GET",
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": "",
            "REQUEST_URI": "/static/file.txt",
            "PATH_INFO": "/static/file.txt",
            "DOCUMENT_ROOT": "/usr/share/nginx/html",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_SCHEME": "http",
            "HTTPS": "",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "40000",
            "SERVER_PORT": "80",
            "SERVER_NAME": "localhost",
            "HTTP_HOST": "localhost",
        }
    ),
}


def static_listener(state: WorkerContext, root: str, protocol: str = "http") -> ListenerContext:
    arguments = ["--http-socket", ":8000", "--disable-logging", "--static-map", f"/static={root}"]
    settings = load_settings(arguments, {}).settings
    listener = listener_context(
        settings, state, hello.application, protocol, "127.0.0.1", "8000", DECODER,
        static=config_from_settings(settings),
    )  # fmt: skip
    listener.handler.serving(False)
    return listener


def static_path(
    state: WorkerContext, listener: ListenerContext, request: bytes, count: int
) -> float:
    if request.startswith(b"\x00"):  # a uwsgi packet (modifier1 0)
        return uwsgi_static_path(state, listener, request, count)
    conn = Connection(state, listener)
    transport = CountingTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    receive = conn.data_received
    began = time.perf_counter()
    for _ in range(count):
        receive(request)
        end_turn()
    if transport.sent < count * (1024 if request.startswith(b"GET") else 150):
        raise SystemExit("static path: the file was not answered")
    return (time.perf_counter() - began) / count * 1e6


def uwsgi_static_path(
    state: WorkerContext, listener: ListenerContext, request: bytes, count: int
) -> float:
    sent = 0
    began = time.perf_counter()
    for _ in range(count):
        conn = Connection(state, listener)
        transport = CountingTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.data_received(request)
        end_turn()
        conn.connection_lost(None)
        sent += transport.sent
    if sent < count * 1024:
        raise SystemExit("static path: the file was not answered")
    return (time.perf_counter() - began) / count * 1e6


def listener_for(state: WorkerContext, name: str, root: str) -> ListenerContext:
    return static_listener(state, root, "uwsgi" if name == "uwsgi" else "http")


def run(name: str, count: int, root: str) -> float:
    state = make_hello_worker()
    return static_path(state, listener_for(state, name, root), REQUESTS[name], count)


def instructions(name: str, count: int, root: str) -> int:
    args = ["--run", name, "--count", str(count), "--root", root]
    return callgrind_count(__file__, args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="requests per measurement")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the path")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    parser.add_argument("--run", choices=REQUESTS, help=argparse.SUPPRESS)  # one path, untimed
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run, args.count, args.root)
        return 0
    with tempfile.TemporaryDirectory() as root:
        Path(root, "file.txt").write_bytes(b"x" * 1023 + b"\n")
        for name in REQUESTS:
            if args.instructions:
                count = min(args.count, 10_000)
                once = instructions(name, count, root)
                twice = instructions(name, 2 * count, root)
                print(
                    f"static {name:4} path: {(twice - once) / count:8.0f} instructions per request"
                )
                continue
            state = make_hello_worker()
            listener = listener_for(state, name, root)
            static_path(state, listener, REQUESTS[name], args.count // 5)  # warm-up
            if args.profile:
                profiler = cProfile.Profile()
                profiler.runcall(static_path, state, listener, REQUESTS[name], args.count)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
                continue
            best = min(static_path(state, listener, REQUESTS[name], args.count) for _ in range(3))
            print(f"static {name:4} path: {best:6.2f} µs of Python per request (best of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
