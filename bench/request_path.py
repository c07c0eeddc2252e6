"""The Python cost of usher's request path, without sockets.

    PYTHONPATH=src python bench/request_path.py [--profile]

A worker's Connection is fed requests through a transport that only counts bytes, so the figure is
usher's own Python per request: codec, environ, the hello app, response framing and bookkeeping.
Three paths:

- *http*: one keep-alive connection, a wrk-shaped GET per call;
- *uwsgi*: a new connection per request, as nginx `uwsgi_pass` opens them, with the variables of
  the stock `uwsgi_params`;
- *oneshot*: the same requests over real loopback connections, accepted and answered by the
  worker's uwsgi acceptor (usher.worker.oneshot) sixteen at a time; the client's side runs in the same
  process. Its figures are CPU time, user and kernel apart: the user part is usher's Python plus a
  little of the client's.

The loop does not run: what a callback schedules runs at the end of each batch, as at the end of
a loop turn. uvloop and the client are left out; `bench/run.py` measures the whole. Use this one
to see what a change to the request path costs, in microseconds, with little noise.

    PYTHONPATH=src python bench/request_path.py --instructions

counts instead the CPU instructions per request of the http and uwsgi paths under valgrind's
callgrind: the same figure for the same code however busy the host is, so two versions of the
request path can be compared on a shared machine (the difference of a run of N requests and one
of 2N, so start-up and warm-up cancel out).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import uvloop

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "apps"))

import hello  # noqa: E402

from usher.options import load_settings  # noqa: E402
from usher.protocols.uwsgi import VarsDecoder, encode_uwsgi_request  # noqa: E402
from usher.worker.board import make_board  # noqa: E402
from usher.worker.connection import Connection  # noqa: E402
from usher.worker.context import ListenerContext, WorkerContext  # noqa: E402
from usher.worker.handlers import listener_context  # noqa: E402
from usher.worker.oneshot import BURST, OneShotAcceptor  # noqa: E402

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


SOON: list[tuple[Callable[..., object], tuple[object, ...]]] = []


SETTINGS = load_settings(["--http-socket", ":8000", "--disable-logging"], {}).settings
DECODER = VarsDecoder()


def make_worker(metered: bool = False) -> WorkerContext:
    loop = uvloop.new_event_loop()
    state = WorkerContext(SETTINGS, 1, loop)
    if metered:
        state.board = make_board(metered=True)  # a worker's board under stats-prometheus
    # The loop does not run here: what is scheduled runs when end_turn() plays a turn's end.
    state.loop.call_soon = lambda callback, *args, **_: SOON.append((callback, args))  # type: ignore[method-assign, func-returns-value]
    return state


def end_turn() -> None:
    while SOON:
        callback, args = SOON.pop(0)
        callback(*args)


def context(state: WorkerContext, protocol: str) -> ListenerContext:
    listener = listener_context(
        SETTINGS, state, hello.application, protocol, "127.0.0.1", "8000", DECODER
    )
    listener.handler.serving(False)  # as a worker whose handlers are all WSGI starts serving
    return listener


def http_path(state: WorkerContext, count: int) -> float:
    conn = Connection(state, context(state, "http"))
    conn.connection_made(CountingTransport())  # type: ignore[arg-type]
    receive = conn.data_received
    began = time.perf_counter()
    for _ in range(count):
        receive(HTTP_REQUEST)
        end_turn()
    return (time.perf_counter() - began) / count * 1e6


def uwsgi_path(state: WorkerContext, count: int) -> float:
    listener = context(state, "uwsgi")
    began = time.perf_counter()
    for _ in range(count):
        conn = Connection(state, listener)
        conn.connection_made(CountingTransport())  # type: ignore[arg-type]
        conn.data_received(UWSGI_REQUEST)
        end_turn()
        conn.connection_lost(None)
    return (time.perf_counter() - began) / count * 1e6


def oneshot_path(state: WorkerContext, count: int, *, bare: bool = False) -> tuple[float, float]:
    """User and kernel CPU µs per request over loopback, served by the uwsgi acceptor, or with
    `bare` by a fixed answer sent from the accept loop: the floor of this harness, client and
    system calls included."""
    listener = socket.socket()
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 4)
    listener.bind(("127.0.0.1", 0))
    listener.listen(BURST)
    listener.setblocking(False)
    address = listener.getsockname()
    uwsgi = context(state, "uwsgi")
    acceptor = OneShotAcceptor(state, listener, uwsgi)
    acceptor._watching = True  # as if start() had run; the loop never calls it here
    serve = partial(bare_answers, listener) if bare else acceptor.accept_ready
    began = os.times()
    for _ in range(count // BURST):
        clients = [socket.socket() for _ in range(BURST)]
        for client in clients:
            client.connect(address)
            client.send(UWSGI_REQUEST)
        serve()
        end_turn()
        for client in clients:
            if not client.recv(4096):
                raise SystemExit("oneshot path: a client got no response")
            client.close()
    ended = os.times()
    listener.close()
    per_request = 1e6 / (count // BURST * BURST)
    return (ended.user - began.user) * per_request, (ended.system - began.system) * per_request


BARE_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
)


def bare_answers(listener: socket.socket) -> None:
    while True:
        try:
            fd, _ = listener._accept()  # type: ignore[attr-defined]
        except BlockingIOError:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fd) as sock:
            sock.recv(65536, socket.MSG_DONTWAIT)
            sock.send(BARE_RESPONSE, socket.MSG_DONTWAIT)


PATHS = {"http": http_path, "uwsgi": uwsgi_path}
# Counted under callgrind too: the uwsgi acceptor's path, client included (the same in every
# version, so it cancels out of a comparison).
COUNTED = {**PATHS, "oneshot": lambda state, count: oneshot_path(state, count)[0]}


def callgrind_count(script: str, args: list[str]) -> int:
    """Instructions callgrind counts for `python script *args` (the bench scripts' `--run`)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, script, *args]
    # A fixed hash seed: string hashes decide dict layouts, and so the count, run to run.
    environ = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=environ).stderr
    match = re.search(r"Collected : (\d+)", output)
    if match is None:
        raise SystemExit(f"callgrind printed no count:\n{output}")
    return int(match.group(1))


def instructions(name: str, count: int, metered: bool = False) -> int:
    """Instructions callgrind counts for a process that runs `count` requests of path `name`."""
    extra = ["--metered"] if metered else []
    return callgrind_count(__file__, ["--run", name, "--count", str(count), *extra])


def count_instructions(count: int, metered: bool) -> None:
    for name in COUNTED:
        once, twice = instructions(name, count, metered), instructions(name, 2 * count, metered)
        print(f"{name:7} path: {(twice - once) / count:8.0f} instructions per request")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="requests per measurement")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each path")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    parser.add_argument(
        "--metered", action="store_true", help="with the board stats-prometheus gives a worker"
    )
    parser.add_argument("--run", choices=COUNTED, help=argparse.SUPPRESS)  # one path, untimed
    args = parser.parse_args()
    if args.instructions:
        # 10,000 requests against 20,000: at 2,000 the figure of the same code moved by up to
        # 1.5% from run to run. Even at 10,000 an unrelated change can move a path by ~2%
        # (bench/steps.md): compare commits with that in mind.
        count_instructions(min(args.count, 10_000), args.metered)
        return 0
    state = make_worker(args.metered)
    if args.run:
        COUNTED[args.run](state, args.count)
        return 0
    for name, path in PATHS.items():
        path(state, args.count // 5)  # warm-up
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(path, state, args.count)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
            continue
        best = min(path(state, args.count) for _ in range(5))
        print(f"{name:7} path: {best:6.2f} µs of Python per request (best of 5)")
    oneshot_path(state, args.count // 10)  # warm-up
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(oneshot_path, state, args.count // 2)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return 0
    user, system = min(oneshot_path(state, args.count // 2) for _ in range(3))
    floor_user, floor_system = min(
        oneshot_path(state, args.count // 2, bare=True) for _ in range(3)
    )
    print(
        f"oneshot path: {user:6.2f} µs user, {system:.2f} µs kernel CPU per request (best of 3); "
        f"a bare answer: {floor_user:.2f} µs user, {floor_system:.2f} µs kernel; usher's own: "
        f"{user - floor_user:.2f} µs user"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
