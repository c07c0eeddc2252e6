"""The seam between the worker and what answers a request: `Handler`, `Exchange`, `Responder`.

Every request, from an HTTP or a uwsgi listener, whether it is carried by a connection or answered
where it was accepted, enters its listener's handler in one place: `Handler.begin(request,
responder)`. The handler returns the `Exchange` that receives the rest of the request (the body's
pieces, then its end) from the codec's events, in order, and answers through the responder.

The worker owns I/O, framing and backpressure: a responder frames what it is given and writes it.
A handler owns the app's rules (WSGI's environ and start_response, an ASGI app's messages, a file
on disk) and never touches a socket. `begin` is synchronous, and a response known at once goes out
through `send_whole` in one write: WSGI's fast path is one call, not an awaited message exchange.

Backpressure: on the loop's thread a handler checks `responder.paused` between pieces of a body
and stops; the worker calls `Exchange.resume()` once the client has drained. A handler that runs
the app on a pool thread lets the responder block that thread instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from usher.protocols.events import Request
from usher.protocols.framing import Prepared

# What a module or file names as the app: a WSGI callable, or an ASGI one (the handler that calls
# it says which, usher.adapters.load.is_asgi).
App = Callable[..., Any]


class Responder(Protocol):
    """Frames and writes one response at a time for a request's carrier."""

    paused: bool
    # True while the app writes from a pool thread: writes are handed to the loop, and the thread
    # blocks while the client is slow.
    threaded: bool
    # donotlog: no access log line for this response. Only the router (usher.adapters.router)
    # sets it, on each of its requests; without routes it stays False and nobody writes it.
    quiet: bool

    @property
    def peer(self) -> tuple[str, str]:
        """The client's address and port as the carrier's socket sees it (a front server's,
        behind one)."""
        ...

    def send_head(self, status: str, headers: list[tuple[str, str]], length: int | None) -> None:
        """Send the status line and headers; `length` is the body size when known.

        A Content-Length header among `headers` takes precedence over `length`.
        """

    def send_body(self, data: bytes) -> None:
        """Send part of the body (dropped for HEAD and bodiless statuses)."""

    def send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete response whose body is known at once, and finish it."""

    def prepare(self, status: str, headers: list[tuple[str, str]], body: bytes) -> Prepared:
        """A whole response framed for this request's shape (HTTP version, keep-alive, HEAD,
        listener), for `send_prepared` to write for every request of that shape."""
        ...

    def send_prepared(self, prepared: Prepared) -> None:
        """Send a response `prepare` framed for a request of the same shape (the Date is this
        second's), and finish it: `send_whole` without the planning."""

    def send_file(self, fd: int, offset: int, count: int) -> None:
        """Send `count` bytes of a regular file with sendfile; may pause until done."""

    def finish(self) -> None:
        """The response is complete."""

    def abort(self) -> None:
        """The response cannot be completed: drop the connection."""

    def hold_reading(self, held: bool) -> None:
        """Stop (True) or restart (False) reading from the client: a handler whose app reads
        the request body slower than it comes (an ASGI app streaming it) holds it back."""


class Exchange(Protocol):
    """One request in a handler's hands, from its head to the end of its response."""

    out: Responder

    def receive_data(self, data: bytes) -> None:
        """A piece of the request body, in order."""

    def receive_end(self) -> None:
        """The request is complete: answer it (now, or on a pool thread)."""

    def resume(self) -> None:
        """The responder can take more after a pause: send the rest."""

    def release(self) -> None:
        """The carrier is done with the request (answered, or its client gone): free what it
        holds, such as a spooled body. Safe to call more than once."""


class Handler(Protocol):
    """What a listener hands each request to."""

    # True when the handler runs coroutines on the worker's loop (an ASGI app): the loop must
    # then stay visible to them, and a synchronous handler hides it only around its own calls.
    runs_coroutines: bool

    def serving(self, loop_shared: bool) -> None:
        """The worker starts serving; `loop_shared` is True when some handler of this worker
        runs coroutines on its loop."""

    def begin(self, request: Request, responder: Responder) -> Exchange:
        """Take a request whose head has been read; its body follows through the exchange."""
        ...


class Tunnel(Protocol):
    """A connection that switched protocols (a WebSocket after its 101): raw bytes both ways,
    owned from then on by the handler's `TunnelEnd`."""

    # True while the client is not reading fast enough: stop writing until `tunnel_resumed`.
    paused: bool

    def write(self, data: bytes) -> None:
        """Write bytes as they are."""

    def close(self) -> None:
        """Close once what was written is sent."""

    def abort(self, why: str = "") -> None:
        """Drop the connection at once; `why`, when given, goes to the server's log."""

    def pause_reading(self) -> None:
        """Stop reading (the app is not taking messages as fast as they come)."""

    def resume_reading(self) -> None:
        """Read again."""


class TunnelEnd(Protocol):
    """What the worker tells the handler of a switched connection."""

    def tunnel_data(self, data: bytes) -> None:
        """Bytes from the client, in order."""

    def tunnel_resumed(self) -> None:
        """The client drained what was written: `paused` is False again."""

    def tunnel_lost(self) -> None:
        """The connection is gone (closed by either side); nothing more comes."""

    def tunnel_tick(self, now: float, stopping: bool) -> None:
        """About once a second (the worker's clock): keepalive, close deadlines; `stopping` is
        True once the worker is stopping gracefully."""


@runtime_checkable
class Switching(Protocol):
    """A responder whose connection can switch protocols (HTTP listeners' connections)."""

    def switch(self, head: bytes, end: TunnelEnd) -> Tunnel | None:
        """Write `head` (a 101 response) and hand the connection to `end`; None when the client
        is gone already."""
        ...


class HandlerSource:
    """An app that is a handler of its own (usher's front): a worker asks it for each listener's
    handler, after the fork, instead of calling it as WSGI or ASGI."""

    def handler(self, loop: asyncio.AbstractEventLoop, address: tuple[str, str]) -> Handler:
        """The handler of the listener at `address` (host and port, as the listener names
        them) in this worker."""
        raise NotImplementedError

    def figures(self) -> dict[str, object] | None:
        """Its own sections of the stats document by key, read in the master (None: none)."""
        return None

    def __call__(self, *args: Any) -> Any:
        # It stands where an app stands (usher.adapters.base.App), but is never called as one.
        raise TypeError("a handler source is not a WSGI or ASGI app")
