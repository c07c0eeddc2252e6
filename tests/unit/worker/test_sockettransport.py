"""SocketTransport over a real socket pair on a running uvloop loop: reading on demand, queued
writes with backpressure, the close that waits for them, abort, and the end of the stream."""

from __future__ import annotations

import _socket
import asyncio
import gc
import socket
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import uvloop

from usher.worker.transport import HIGH_WATER, SocketTransport


class Recorder(asyncio.Protocol):
    """Keeps what the transport reports, and resolves `lost` when the connection ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.events: list[str] = []
        self.lost: asyncio.Future[Exception | None] = loop.create_future()
        self.got: asyncio.Future[None] = loop.create_future()
        self.eof: asyncio.Future[None] = loop.create_future()
        self.keep_open_on_eof = False

    def data_received(self, data: bytes) -> None:
        self.data += data
        if not self.got.done():
            self.got.set_result(None)

    def eof_received(self) -> bool:
        self.events.append("eof")
        self.eof.set_result(None)
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    made = uvloop.new_event_loop()
    yield made
    made.close()


def pair(loop: asyncio.AbstractEventLoop) -> tuple[SocketTransport, Recorder, socket.socket]:
    ours, theirs = socket.socketpair()
    sock = _socket.socket(ours.family, ours.type, 0, ours.detach())
    protocol = Recorder(loop)
    return SocketTransport(loop, sock, ("127.0.0.1", 1), protocol), protocol, theirs


def run(loop: asyncio.AbstractEventLoop, future: Any) -> Any:
    return loop.run_until_complete(asyncio.wait_for(future, 5))


def test_reads_only_once_asked(loop: asyncio.AbstractEventLoop) -> None:
    transport, protocol, peer = pair(loop)
    peer.sendall(b"hello")
    assert not transport.is_reading()
    transport.resume_reading()
    run(loop, protocol.got)
    assert bytes(protocol.data) == b"hello"
    transport.pause_reading()
    assert not transport.is_reading()
    transport.close()
    run(loop, protocol.lost)
    peer.close()


def test_a_large_write_is_queued_paced_and_delivered_before_the_close(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport, protocol, peer = pair(loop)
    payload = bytes(range(256)) * 16384  # 4 MiB: more than the socket buffers hold
    transport.write(payload)
    assert transport.get_write_buffer_size() > HIGH_WATER
    assert protocol.events == ["pause"]
    transport.close()  # waits for the queue
    assert transport.is_closing() and not protocol.lost.done()
    received = bytearray()

    async def drain() -> None:
        reader, writer = await asyncio.open_connection(sock=peer)
        while chunk := await reader.read(1 << 20):
            received.extend(chunk)
        writer.close()

    run(loop, drain())
    run(loop, protocol.lost)
    assert bytes(received) == payload
    assert protocol.events == ["pause", "resume", "lost"]


def test_a_finished_connection_is_freed_without_the_cyclic_gc(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport, protocol, peer = pair(loop)
    protocol.transport = transport  # type: ignore[attr-defined]  # as a Connection holds it
    gone = weakref.ref(protocol)
    transport.write(b"bye")
    transport.close()
    run(loop, protocol.lost)
    gc.disable()
    try:
        del transport, protocol
        assert gone() is None
    finally:
        gc.enable()
    peer.close()


def test_abort_drops_the_queue_and_ends_the_connection(loop: asyncio.AbstractEventLoop) -> None:
    transport, protocol, peer = pair(loop)
    transport.write(b"x" * (8 << 20))
    transport.abort()
    assert transport.get_write_buffer_size() == 0
    assert run(loop, protocol.lost) is None
    transport.write(b"ignored after the end")
    peer.close()


def test_end_of_stream_closes_unless_the_protocol_keeps_writing(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport, protocol, peer = pair(loop)
    transport.resume_reading()
    peer.shutdown(socket.SHUT_WR)
    run(loop, protocol.lost)
    assert protocol.events == ["eof", "lost"]
    peer.close()

    transport, protocol, peer = pair(loop)
    protocol.keep_open_on_eof = True
    transport.resume_reading()
    peer.shutdown(socket.SHUT_WR)
    run(loop, protocol.eof)
    transport.write(b"answer after the client's end")
    transport.close()
    run(loop, protocol.lost)
    assert peer.recv(100) == b"answer after the client's end"
    peer.close()


def test_a_write_to_a_vanished_peer_ends_the_connection(loop: asyncio.AbstractEventLoop) -> None:
    transport, protocol, peer = pair(loop)
    peer.close()
    transport.write(b"anyone there?")
    transport.write(b"x" * (8 << 20))
    assert isinstance(run(loop, protocol.lost), OSError)
