"""The worker's side of harakiri: dump the stack, answer 504, leave.

The master decides (it reads each request's start in the scoreboard) and sends SIGUSR2. Two
handlers answer it, in this order:

1. faulthandler's, at C level: it writes every thread's Python stack to the log at once, even when
   the app is stuck inside C code that never returns to the interpreter;
2. a Python handler, which runs as soon as the interpreter regains control of the main thread (a
   sleep, a socket read or a Python loop all give it back): it writes the complete responses still
   held for the end of the loop's turn, and for each request whose response has not started a 504,
   straight to the clients' sockets, then ends the process.

A worker stuck where Python cannot run gets SIGKILL from the master a moment later; its clients see
the connection close.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import socket
from typing import TYPE_CHECKING

from usher.protocols.response import error_response

if TYPE_CHECKING:
    from usher.connection import Connection
    from usher.worker import WorkerState

HARAKIRI_SIGNAL = signal.SIGUSR2


def install(state: WorkerState, exit_status: int) -> None:
    """Arm both handlers in a freshly forked worker."""

    def handle(signum: int, frame: object) -> None:
        for conn in list(state.connections):
            send_held(conn)
            if conn.busy:
                answer_timeout(conn, state)
        os._exit(exit_status)

    signal.signal(HARAKIRI_SIGNAL, handle)
    # chain=True: after the dump, the Python handler above runs too.
    faulthandler.register(HARAKIRI_SIGNAL, file=2, all_threads=True, chain=True)


def send_held(conn: Connection) -> None:
    """Write the complete responses the connection holds for the end of the loop's turn
    (Connection.defer): the stuck request came after them and must not take them along."""
    transport = conn.transport
    held, conn.pending = conn.pending, b""
    if not held or transport is None or transport.get_write_buffer_size():
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    view = memoryview(held)
    with contextlib.suppress(OSError):  # a full socket buffer or a gone client ends the attempt
        while view:
            view = view[os.write(sock.fileno(), view) :]


def answer_timeout(conn: Connection, state: WorkerState) -> None:
    """Send 504 on `conn` if nothing of its response has gone out yet; then close our side."""
    responder = conn.responder
    transport = conn.transport
    if transport is None or conn.closed:
        return
    started = responder.status != "" and not responder.head
    if started or transport.get_write_buffer_size():
        return  # part of a response is out (or queued): a 504 now would corrupt it
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    reply = error_response(
        504, "the request took too long (harakiri)", date=state.date, server=state.server
    )
    fd = sock.fileno()
    with contextlib.suppress(OSError):
        os.write(fd, reply)
        # Shut our sending side: the client reads the 504 and then the end, not a reset.
        with socket.socket(fileno=os.dup(fd)) as dup:
            dup.shutdown(socket.SHUT_WR)
