"""The worker's side of harakiri: dump the stack, answer 504, leave.

The master decides (it reads each request's start in the scoreboard) and sends SIGUSR2. Two
handlers answer it, in this order:

1. faulthandler's, at C level: it writes every thread's Python stack to the log at once, even when
   the app is stuck inside C code that never returns to the interpreter;
2. a Python handler, which runs as soon as the interpreter regains control of the main thread (a
   sleep, a socket read or a Python loop all give it back): it writes the complete responses still
   held for the end of the loop's turn, and for each request whose response has not started a 504,
   straight to the clients' sockets, then ends the process. It asks each carrier to abandon its
   request (`Carrier.abandon`): a connection, or the one-shot request the loop is running
   (usher.worker.oneshot); each knows what of its response went out.

A worker stuck where Python cannot run gets SIGKILL from the master a moment later; its clients see
the connection close.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
import socket
from typing import TYPE_CHECKING

from usher.protocols.response import error_response

if TYPE_CHECKING:
    from usher.worker.context import Carrier, WorkerContext

HARAKIRI_SIGNAL = signal.SIGUSR2


def install(ctx: WorkerContext, exit_status: int) -> None:
    """Arm both handlers in a freshly forked worker."""

    def handle(signum: int, frame: object) -> None:
        reply = error_response(
            504, "the request took too long (harakiri)", date=ctx.date, server=ctx.server
        )
        # Held responses first (they came before the stuck request), then every request in
        # progress; a carrier may be in several of these, and answers once.
        carriers: dict[int, Carrier] = {}
        for carrier in (*ctx.deferred, *ctx.connections, ctx.inline):
            if carrier is not None:
                carriers.setdefault(id(carrier), carrier)
        for carrier in carriers.values():
            carrier.abandon(reply)
        os._exit(exit_status)

    signal.signal(HARAKIRI_SIGNAL, handle)
    # chain=True: after the dump, the Python handler above runs too.
    faulthandler.register(HARAKIRI_SIGNAL, file=2, all_threads=True, chain=True)


def shut_sending(sock: socket.socket) -> None:
    """Shut our sending side of a client's socket without closing it: the client reads what was
    sent, then the end, not a reset."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(sock.fileno())) as dup:
        dup.shutdown(socket.SHUT_WR)


def write_through(transport: asyncio.Transport, data: bytes) -> bool:
    """Write `data` straight to the transport's socket (the loop will not run again); True when
    all of it went. Bytes the transport still queues must go first, so then nothing is written."""
    if transport.get_write_buffer_size():
        return False
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(sock.fileno(), view) :]
    except OSError:  # a full socket buffer or a gone client ends the attempt
        return False
    return True
