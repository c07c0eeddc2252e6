"""The WebSocket rows' load generator: a separate process, pinned to the client's CPU.

    python bench/ws_load.py echo PORT --connections 50 --size 32 --warmup 1 --duration 5
    python bench/ws_load.py idle PORT --kind websocket|http --connections 10000

echo: each connection sends a masked text message and waits for its echo before the next (one
in flight per connection, as a chat or an RPC client does). It prints `measuring` when the
warm-up ends and `done MESSAGES SECONDS` after the measured run.

idle: opens the connections (a WebSocket handshake, or one keep-alive HTTP request each), prints
`open N` once all are open and idle, and keeps them until its stdin closes.

The client does as little as possible per message (the frame is built once; the answer is
counted, not decoded) so that the server, not the client, is what runs out of CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import struct
import sys
import time

import uvloop

HANDSHAKE = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
HTTP_GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# Connections opened at once in idle mode: within the server's listen backlog (100), so no SYN
# is dropped and retried a second later.
OPENING = 64


def text_frame(size: int) -> bytes:
    """A masked text frame of `size` ASCII bytes (a client must mask, RFC 6455 section 5.3)."""
    payload = b"m" * size
    mask = b"\x11\x22\x33\x44"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    head = (
        struct.pack("!BB", 0x81, 0x80 | size)
        if size < 126
        else struct.pack("!BBH", 0x81, 0xFE, size)
    )
    return head + mask + masked


class Client(asyncio.Protocol):
    """One connection: the opening (handshake or request), then echo or idle."""

    def __init__(self, opening: bytes, frame: bytes | None, counts: list[int]) -> None:
        self.opening = opening
        self.frame = frame
        self.counts = counts
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.opening)

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0 or (self.opening is HTTP_GET and not self.buffer.endswith(b"Hello, World!")):
                return
            status = self.buffer[: self.buffer.find(b"\r\n")]
            if b" 101 " not in status and b" 200 " not in status:
                self.opened.set_exception(RuntimeError(f"answered {status!r}"))
                return
            self.buffer = self.buffer[end + 4 :] if self.opening is not HTTP_GET else b""
            self.opened.set_result(None)
            if self.frame is not None:
                self.transport.write(self.frame)  # type: ignore[union-attr]
            return
        if self.frame is None:
            return
        buffer = self.buffer + data if self.buffer else data
        done = 0
        while len(buffer) >= 2:
            size = buffer[1] & 0x7F
            at = 2
            if size == 126:
                if len(buffer) < 4:
                    break
                size, at = struct.unpack_from("!H", buffer, 2)[0], 4
            if len(buffer) < at + size:
                break
            if buffer[0] & 0x0F in (0x1, 0x2):
                done += 1
            buffer = buffer[at + size :]
        self.buffer = buffer
        if done:
            self.counts[0] += done
            self.transport.write(self.frame * done)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before it opened"))
        self.counts[1] += 1


def opening(kind: str) -> bytes:
    if kind == "http":
        return HTTP_GET
    key = base64.b64encode(os.urandom(16)).decode()
    return HANDSHAKE.format(key=key).encode()


async def connect(port: int, kind: str, frame: bytes | None, counts: list[int]) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: Client(opening(kind), frame, counts), "127.0.0.1", port
    )
    await client.opened
    return client


async def echo(args: argparse.Namespace) -> None:
    counts = [0, 0]  # echoes received, connections lost
    frame = text_frame(args.size)
    await asyncio.gather(
        *(connect(args.port, "websocket", frame, counts) for _ in range(args.connections))
    )
    await asyncio.sleep(args.warmup)
    print("measuring", flush=True)
    start, began = counts[0], time.monotonic()
    await asyncio.sleep(args.duration)
    messages, seconds = counts[0] - start, time.monotonic() - began
    if counts[1]:
        raise SystemExit(f"{counts[1]} connections were lost during the run")
    print(f"done {messages} {seconds:.3f}", flush=True)


async def idle(args: argparse.Namespace) -> None:
    counts = [0, 0]
    clients: list[Client] = []
    for start in range(0, args.connections, OPENING):
        batch = min(OPENING, args.connections - start)
        clients += await asyncio.gather(
            *(connect(args.port, args.kind, None, counts) for _ in range(batch))
        )
    print(f"open {len(clients)}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
    if counts[1]:
        print(f"lost {counts[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=("echo", "idle"))
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--size", type=int, default=32, help="echo: message size in bytes")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--kind", choices=("websocket", "http"), default="websocket")
    args = parser.parse_args()
    uvloop.run(echo(args) if args.mode == "echo" else idle(args))


if __name__ == "__main__":
    main()
