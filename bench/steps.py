"""The Python steps of usher's request path: every call made per request, counted.

    PYTHONPATH=src python bench/steps.py [--count N] [--path http,uwsgi,oneshot] [--top K]

Runs the paths of bench/request_path.py in process (the same hello app, settings and transport
that only counts bytes) under sys.setprofile, and prints, for each path, the calls made per
request from `data_received` (or the uwsgi acceptor's wake-up) to the write: Python functions and
C functions alike (a method of a built-in type, a constructor, an encode), each with how many
times it ran per request. The total is the number of steps the request takes; a step is one
function call, whatever it costs, so this says how many steps there are and where, and callgrind
(`request_path.py --instructions`) says what they cost.

- *http*: one keep-alive connection, a wrk-shaped GET per request;
- *uwsgi*: a new Connection per request (the uwsgi listener read the ordinary way), made,
  fed, ended and lost inside the count;
- *oneshot*: the path of a request from nginx: the worker's uwsgi acceptor wakes up, accepts,
  reads and answers. Only the acceptor's call and the turn's end are counted, not the client's
  connecting and reading in the same process.

What the request path decides from the clock is fixed (see steady_turns), so the counts are
the same run to run. The first requests warm caches (plans, the uwsgi decoder's learned keys); they are run before
counting starts.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import request_path as rp

from usher.worker import context


def _name(frame: FrameType, event: str, arg: Any) -> str:
    if event == "c_call":
        owner = getattr(arg, "__self__", None)
        kind = type(owner).__name__ if owner is not None and not isinstance(owner, type) else ""
        qual = getattr(arg, "__qualname__", getattr(arg, "__name__", repr(arg)))
        return f"<C> {kind + '.' if kind and '.' not in qual else ''}{qual}"
    code = frame.f_code
    module = Path(code.co_filename).stem
    return f"{module}.{code.co_qualname}"


HARNESS = {rp.__file__, __file__}


class StepCounter:
    """A sys.setprofile hook counting calls by name while `on` is set."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.on = False

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        # The harness's own frames and what they call in C (its transport, its turn) are not
        # the request's; for a C call, `frame` is its caller's.
        if (
            self.on
            and (event == "call" or event == "c_call")
            and frame.f_code.co_filename not in HARNESS
        ):
            self.calls[_name(frame, event, arg)] += 1

    def counted(self, function: Callable[[], object]) -> None:
        self.on = True
        try:
            function()
        finally:
            self.on = False


def http_steps(counter: StepCounter, count: int) -> None:
    state = rp.make_worker()
    conn = rp.Connection(state, rp.context(state, "http"))
    conn.connection_made(rp.CountingTransport())  # type: ignore[arg-type]

    def one() -> None:
        conn.data_received(rp.HTTP_REQUEST)
        rp.end_turn()

    for _ in range(10):
        one()
    for _ in range(count):
        counter.counted(one)


def uwsgi_steps(counter: StepCounter, count: int) -> None:
    state = rp.make_worker()
    listener = rp.context(state, "uwsgi")

    def one() -> None:
        conn = rp.Connection(state, listener)
        conn.connection_made(rp.CountingTransport())  # type: ignore[arg-type]
        conn.data_received(rp.UWSGI_REQUEST)
        rp.end_turn()
        conn.connection_lost(None)

    for _ in range(10):
        one()
    for _ in range(count):
        counter.counted(one)


def oneshot_steps(counter: StepCounter, count: int) -> None:
    """One client at a time: the acceptor's wake-up, its accept, read and answer, the turn's end."""
    import socket

    state = rp.make_worker()
    listener = socket.socket()
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 4)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    address = listener.getsockname()
    acceptor = rp.OneShotAcceptor(state, listener, rp.context(state, "uwsgi"))
    acceptor._watching = True  # as if start() had run; the loop never calls it here

    def serve() -> None:
        acceptor.accept_ready()
        rp.end_turn()

    def one(counting: bool) -> None:
        client = socket.socket()
        client.connect(address)
        client.send(rp.UWSGI_REQUEST)
        if counting:
            counter.counted(serve)
        else:
            serve()
        if not client.recv(4096):
            raise SystemExit("oneshot path: a client got no response")
        client.close()

    for _ in range(10):
        one(False)
    for _ in range(count):
        one(True)
    listener.close()


PATHS: dict[str, Callable[[StepCounter, int], None]] = {
    "http": http_steps,
    "uwsgi": uwsgi_steps,
    "oneshot": oneshot_steps,
}


def steady_turns() -> None:
    """Make what the request path decides from the time the same however busy the host is (and
    however slow the profiler makes a request): quick responses are always held for the turn's
    end, and a turn never grows long enough to accept waiting clients itself."""
    forever = 1 << 62
    context.BATCH_BELOW_NS = context.FLUSH_AFTER_NS = context.ACCEPT_AFTER_NS = forever


def count_steps(name: str, count: int) -> Counter[str]:
    steady_turns()
    counter = StepCounter()
    sys.setprofile(counter.hook)
    try:
        PATHS[name](counter, count)
    finally:
        sys.setprofile(None)
    return counter.calls


def report(name: str, calls: Counter[str], count: int, top: int, out: Callable[[str], Any]) -> None:
    total = sum(calls.values()) / count
    python = sum(n for key, n in calls.items() if not key.startswith("<C>")) / count
    out(f"## {name}: {total:.1f} calls per request ({python:.1f} Python, {total - python:.1f} C)")
    out("")
    out("| calls/request | function |")
    out("|---:|---|")
    for key, n in calls.most_common(top):
        out(f"| {n / count:g} | `{key}` |")
    out("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="requests counted per path")
    parser.add_argument("--path", default=",".join(PATHS), help="paths, comma-separated")
    parser.add_argument("--top", type=int, default=200, help="rows per path")
    args = parser.parse_args()
    for name in args.path.split(","):
        report(name, count_steps(name, args.count), args.count, args.top, partial(print))
    return 0


if __name__ == "__main__":
    sys.exit(main())
