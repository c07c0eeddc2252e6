"""The worker's side of harakiri: dump the stack, answer 504, leave.

The master decides (it reads each request's start in the scoreboard) and sends SIGUSR2. Two
handlers answer it, in this order:

1. faulthandler's, at C level: it writes every thread's Python stack to the log at once, even when
   the app is stuck inside C code that never returns to the interpreter;
2. a Python handler, which runs as soon as the interpreter regains control of the main thread (a
   sleep, a socket read or a Python loop all give it back): it writes the complete responses still
   held for the end of the loop's turn, and for each request whose response has not started a 504
   (the connections' requests, and the one-shot request the loop is running, usher.worker.oneshot),
   straight to the clients' sockets, then ends the process.

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
from usher.worker.oneshot import OneShot

if TYPE_CHECKING:
    from usher.worker.connection import Connection
    from usher.worker.process import WorkerState

HARAKIRI_SIGNAL = signal.SIGUSR2


def install(state: WorkerState, exit_status: int) -> None:
    """Arm both handlers in a freshly forked worker."""

    def handle(signum: int, frame: object) -> None:
        for held in list(state.deferred):
            if isinstance(held, OneShot):
                held.flush()  # complete responses, held for the turn's end
        for conn in list(state.connections):
            if send_held(conn) and conn.busy:
                answer_timeout(conn, state)
        if state.inline is not None:
            answer_one_shot(state.inline, state)
        os._exit(exit_status)

    signal.signal(HARAKIRI_SIGNAL, handle)
    # chain=True: after the dump, the Python handler above runs too.
    faulthandler.register(HARAKIRI_SIGNAL, file=2, all_threads=True, chain=True)


def send_held(conn: Connection) -> bool:
    """Write the complete responses the connection holds for the end of the loop's turn
    (Connection.defer): the stuck request came after them and must not take them along.
    False when some could not be written: nothing may follow them then."""
    held, conn.pending = conn.pending, b""
    if not held:
        return True
    return conn.transport is not None and _write_through(conn.transport, held)


def answer_timeout(conn: Connection, state: WorkerState) -> None:
    """Send 504 on `conn` if nothing of its response has gone out yet; then close our side."""
    responder = conn.responder
    transport = conn.transport
    if transport is None or conn.closed:
        return
    if responder.status != "" and not responder.head:
        return  # part of the response is out: a 504 now would corrupt it
    if _write_through(transport, _timeout_reply(state)):
        sock = transport.get_extra_info("socket")
        # Shut our sending side: the client reads the 504 and then the end, not a reset.
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(sock.fileno())) as dup:
            dup.shutdown(socket.SHUT_WR)


def answer_one_shot(shot: OneShot, state: WorkerState) -> None:
    """Send 504 for the stuck request the loop was answering where it was accepted
    (usher.worker.oneshot): nothing of its response can have gone out, since it is sent in one write
    after the app returns."""
    with contextlib.suppress(OSError):
        shot.sock.send(_timeout_reply(state), socket.MSG_DONTWAIT)
        shot.sock.shutdown(socket.SHUT_WR)


def _timeout_reply(state: WorkerState) -> bytes:
    return error_response(
        504, "the request took too long (harakiri)", date=state.date, server=state.server
    )


def _write_through(transport: asyncio.Transport, data: bytes) -> bool:
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
