"""Time every request of N kept-alive connections, to see where a p99 comes from.

wrk reports percentiles over all requests; it cannot say whether the slowest 1% is spread over
the connections (a queue that is fair) or held by a few of them (a connection starved by the
order the server serves them in), nor whether it comes from the first requests of the run. This
client keeps every request's latency with its connection and its number on that connection:

    python bench/latency_probe.py 127.0.0.1:8000 /page/ --connections 50 --duration 10

It prints the percentiles, the first requests apart, each second's median and slowest request,
and the connections that hold the slowest 1%. Run the server pinned as bench/run.py does and
this under `taskset -c 1`, after a warm-up (wrk's, for instance). Loopback addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import uvloop


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (s since the start), how long it took, on which connection."""

    sent: float
    seconds: float
    connection: int
    number: int  # its place on that connection, from 0


def _content_length(head: bytes) -> tuple[int | None, bool]:
    """The response's Content-Length (None when absent) and whether it closes the connection."""
    length: int | None = None
    closes = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and b"close" in value.lower():
            closes = True
    return length, closes


async def _client(
    host: str, port: int, request: bytes, index: int, start: float, end: float, out: list[Sample]
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    number = 0
    while time.monotonic() < end:
        if reader is None or writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        sent = time.monotonic()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError):
            # A server that closes each connection without saying so (uWSGI's --http-socket):
            # the request went to a closed connection, so it is sent again on a new one.
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            sent = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        length, closes = _content_length(head)
        if length is None:
            await reader.read()  # the body runs to the end of the connection
            closes = True
        elif length:
            await reader.readexactly(length)
        out.append(Sample(sent - start, time.monotonic() - sent, index, number))
        number += 1
        if closes:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def _ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def report(samples: list[Sample], duration: float) -> str:
    """The percentiles, the first requests, each second, and who holds the slowest 1%."""
    if not samples:
        return "no request completed"
    latencies = sorted(sample.seconds for sample in samples)

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    lines = [
        f"requests {len(latencies)}: p50 {_ms(quantile(0.5))} ms, p90 {_ms(quantile(0.9))}, "
        f"p99 {_ms(quantile(0.99))}, max {_ms(latencies[-1])}",
    ]
    first = [sample.seconds for sample in samples if sample.number == 0]
    lines.append(f"first request of each connection: mean {_ms(statistics.mean(first))} ms, "
                 f"max {_ms(max(first))}")  # fmt: skip
    for second in range(int(duration)):
        spell = sorted(s.seconds for s in samples if second <= s.sent < second + 1)
        if spell:
            lines.append(
                f"  second {second}: {len(spell)} requests, median {_ms(spell[len(spell) // 2])} "
                f"ms, slowest {_ms(spell[-1])}"
            )
    slowest = sorted(samples, key=lambda sample: -sample.seconds)[: max(1, len(samples) // 100)]
    holders = Counter(sample.connection for sample in slowest)
    lines.append(
        f"slowest 1% ({len(slowest)} requests): on {len(holders)} connections, the most on one "
        f"{holders.most_common(1)[0][1]}; {sum(1 for s in slowest if s.number == 0)} of them "
        "first requests"
    )
    return "\n".join(lines)


async def probe(host: str, port: int, path: str, connections: int, duration: float) -> str:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("latin-1")
    samples: list[Sample] = []
    start = time.monotonic()
    end = start + duration
    await asyncio.gather(
        *(_client(host, port, request, i, start, end, samples) for i in range(connections))
    )
    return report(samples, duration)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time every request of kept-alive connections.")
    parser.add_argument("address", help="HOST:PORT of the server, a loopback address")
    parser.add_argument("path", nargs="?", default="/", help="the URL path to GET [/]")
    parser.add_argument("--connections", type=int, default=50, help="kept-alive clients [50]")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds [10]")
    args = parser.parse_args(argv)
    host, _, port = args.address.rpartition(":")
    host = host.strip("[]")
    # A load generator: it must not be pointed at anything but this machine.
    if not ipaddress.ip_address(host).is_loopback:
        parser.error(f"{host} is not a loopback address: the probe loads loopback servers only")
    if not 1 <= args.connections <= 1000 or not 0 < args.duration <= 600:
        parser.error("--connections must be 1 to 1000 and --duration 0 to 600 seconds")
    # uvloop (one of usher's own dependencies) keeps the client's overhead small beside the server's.
    print(uvloop.run(probe(host, int(port), args.path, args.connections, args.duration)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
