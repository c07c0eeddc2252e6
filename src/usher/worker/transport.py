"""An asyncio transport over a socket the worker accepted itself (usher.worker.oneshot).

uwsgi-protocol connections are accepted by the worker, not by uvloop's server, so they need a
transport of their own for what does not fit in one write: reading a request that arrives in
parts, streaming a response with backpressure, and closing once the last byte is out. It is
driven by the loop's add_reader/add_writer and keeps asyncio's semantics where the Connection
relies on them, with one difference: connection_lost comes soon after the close, never before
queued bytes are out.
"""

from __future__ import annotations

import _socket
import asyncio
import socket
from typing import Any

# Every read and write passes MSG_DONTWAIT rather than switching the socket to non-blocking mode:
# that would be one more system call per connection, for the one request it carries.
DONTWAIT = socket.MSG_DONTWAIT

# One read takes a whole request head behind nginx (buffer-size caps it at 64 KiB anyway).
READ_SIZE = 65536

# asyncio's own defaults: the protocol is asked to pause above HIGH_WATER bytes queued, and to
# resume once the queue is down to LOW_WATER, so a streamed response never sits whole in memory.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class SocketTransport(asyncio.Transport):
    """An asyncio transport over an accepted socket, driven by the loop's add_reader/add_writer.

    It reads only while asked to (`resume_reading`), writes at once and queues what the socket
    does not take, and tells the protocol to pause above HIGH_WATER bytes queued.
    connection_lost is called soon after the close, as asyncio's transports do.
    """

    __slots__ = (
        "_buffer",
        "_closing",
        "_fd",
        "_loop",
        "_nagle",
        "_peer",
        "_protocol",
        "_reading",
        "_sock",
        "_throttled",
        "_writing",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: _socket.socket,
        peer: Any,
        protocol: asyncio.Protocol,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._peer = peer
        self._protocol = protocol
        self._buffer = bytearray()
        self._closing = False
        self._reading = False  # the loop watches the socket for reading
        self._writing = False  # the loop watches the socket for writing (a queue is waiting)
        self._throttled = False  # the protocol was asked to pause writing
        # Writes left before TCP_NODELAY is set (0: set, or not TCP); see _no_delay.
        self._nagle = 2 if sock.family != socket.AF_UNIX else 0

    # -- asyncio.BaseTransport -------------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peer
        if name == "socket":
            # Whoever takes the socket (sendfile, harakiri) writes to it directly and must not
            # block (until now every call passed MSGDONTWAIT instead), nor wait for Nagle.
            if not self._closing:
                self._sock.setblocking(False)
                self._no_delay()
            return self._sock
        if name == "sockname":
            return self._sock.getsockname()
        return default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._buffer:
            self._finish(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    # -- reading -------------------------------------------------------------------------------

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._stop_reading()

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self.read_ready)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def read_ready(self) -> None:
        """Read what the socket has and give it to the protocol."""
        try:
            data = self._sock.recv(READ_SIZE, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        self.received(data)

    def received(self, data: bytes) -> None:
        """Give the protocol what was read: bytes, or the end of the stream when empty."""
        if data:
            self._protocol.data_received(data)
            return
        self._stop_reading()
        if not self._protocol.eof_received():
            self.close()

    # -- writing -------------------------------------------------------------------------------

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (LOW_WATER, HIGH_WATER)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        if self._nagle:
            self._nagle -= 1
            if not self._nagle:
                self._no_delay()
        if not self._buffer:
            try:
                sent = self._sock.send(data, DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._writing = True
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer += data
        if not self._throttled and len(self._buffer) > HIGH_WATER:
            self._throttled = True
            self._protocol.pause_writing()

    def _no_delay(self) -> None:
        """Turn Nagle's algorithm off, as uvloop does for every TCP connection, but only from a
        connection's second write: the first segment never waits, and most responses behind
        nginx are one write followed by the close, so most connections save the system call.
        From the second on, a small write would wait for the client's delayed ACK (40 ms)."""
        self._nagle = 0
        if self._sock.family != socket.AF_UNIX:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _write_ready(self) -> None:
        buffer = self._buffer
        try:
            sent = self._sock.send(buffer, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del buffer[:sent]
        if self._throttled and len(buffer) <= LOW_WATER:
            self._throttled = False
            self._protocol.resume_writing()
        if not buffer:
            self._stop_writing()
            if self._closing:
                self._finish(None)

    def _stop_writing(self) -> None:
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def can_write_eof(self) -> bool:
        return False

    # -- ending --------------------------------------------------------------------------------

    def abort(self) -> None:
        self._fail(None)

    def _fail(self, exc: Exception | None) -> None:
        """Drop the connection now, queued bytes and all."""
        if self._sock.fileno() < 0:
            return
        self._closing = True
        self._buffer.clear()
        self._stop_reading()
        self._finish(exc)

    def _finish(self, exc: Exception | None) -> None:
        self._stop_writing()
        self._sock.close()
        # The protocol points back at the transport: letting go of it here frees the pair by
        # reference counting once the connection is over, not by a later pass of the cyclic GC
        # (with all a request left behind), as asyncio's own transports do.
        protocol, self._protocol = self._protocol, _ENDED
        self._loop.call_soon(protocol.connection_lost, exc)


# What a transport's protocol is once the connection is over: calls after the end go nowhere.
_ENDED = asyncio.Protocol()
