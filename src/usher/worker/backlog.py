"""Accepting waiting clients while an inline app keeps the loop busy.

libuv accepts one connection per listening handle and loop iteration, and relies on the socket
staying readable for the next. With the app running inline, one iteration lasts as long as every
ready request takes: fifty Django pages are ~125 ms, so a burst of new clients (a restarted load
balancer, a client pool reconnecting) would sit in the kernel's accept queue for seconds, a few
accepts per iteration, while the clients already accepted are served again and again.

So a worker whose turn has held the loop for a while (WorkerContext.after_inline_request), or
whose slow requests are queued for their turns (WorkerContext.wait_turn: one a turn, and libuv's
one accept with each), accepts what is waiting itself, a few at a time, between two requests, and
hands each socket to uvloop as a transport. While requests are quick, turns are short, this never
runs, and libuv's own accept is the only path.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

# Clients taken per listener and check. With several workers on one socket, a busy worker must
# not take the whole queue from idle siblings that would serve it sooner; they accept at once.
BURST = 16


class Backlog:
    """The listening sockets a worker accepts from between inline requests."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sources: list[tuple[socket.socket, Callable[[], asyncio.Protocol]]] = []

    def add(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol]) -> None:
        self.sources.append((sock, factory))

    def stop(self) -> None:
        """No more accepting: the worker is leaving."""
        self.sources.clear()

    def accept_waiting(self) -> None:
        """Accept the clients waiting on each listener, up to BURST each."""
        for sock, factory in self.sources:
            for _ in range(BURST):
                try:
                    client, _address = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    # EMFILE and the like: libuv's own accept reports and retries them.
                    break
                self.loop.create_task(self._adopt(client, factory))

    async def _adopt(self, client: socket.socket, factory: Callable[[], asyncio.Protocol]) -> None:
        try:
            # uvloop sets TCP_NODELAY on the transport, as on those its servers accept.
            await self.loop.connect_accepted_socket(factory, client)
        except OSError:
            client.close()  # the client left before it could be served
