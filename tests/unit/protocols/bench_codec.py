"""Micro-benchmark of the HTTP/1 codec (not a test: pytest does not collect ``bench_*`` files).

Run: ``python tests/unit/protocols/bench_codec.py [iterations]``. It times one codec parsing the request wrk
sends by default, reused across requests as a keep-alive connection would, and prints µs/request
(each request gives ``[request, END]``). A small GET should stay well under 5 µs.
"""

from __future__ import annotations

import sys
import time

from usher.protocols import END, HttpCodec, Limits, Request
from usher.protocols.response import encode_head, format_date

WRK_GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
BROWSER_GET = (
    b"GET /articles/2024/?page=2&sort=new HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Cookie: sessionid=abcdef0123456789; csrftoken=0123456789abcdef\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
LIMITS = Limits(max_head=4096, max_body=0)


def best_of(runs: int, fn: object, n: int) -> float:
    """Best per-iteration time in µs over ``runs`` runs of ``n`` calls (the least disturbed)."""
    assert callable(fn)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def parse_many(request: bytes) -> object:
    codec = HttpCodec(LIMITS)
    feed = codec.receive_data

    def run(n: int) -> None:
        for _ in range(n):
            feed(request)

    return run


def new_codec_each(n: int) -> None:
    for _ in range(n):
        HttpCodec(LIMITS).receive_data(WRK_GET)


def encode_many(n: int) -> None:
    date = format_date(time.time())
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    for _ in range(n):
        encode_head(
            "200 OK",
            headers,
            http_version="1.1",
            keep_alive=True,
            chunked=False,
            date=date,
            server=b"usher",
        )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    events = HttpCodec(LIMITS).receive_data(WRK_GET)
    assert len(events) == 2 and isinstance(events[0], Request) and events[1] is END, events
    print(f"wrk GET, keep-alive codec : {best_of(5, parse_many(WRK_GET), n):6.2f} µs/request")
    print(f"browser GET, 7 headers    : {best_of(5, parse_many(BROWSER_GET), n):6.2f} µs/request")
    print(f"wrk GET, codec per request: {best_of(5, new_codec_each, n):6.2f} µs/request")
    print(f"encode_head, 2 headers    : {best_of(5, encode_many, n):6.2f} µs/response")


if __name__ == "__main__":
    main()
