"""New clients are accepted while an inline app keeps the worker busy.

libuv takes one connection per loop iteration; with slow requests from already-connected clients,
each iteration lasts their whole round, and a burst of new clients would wait in the accept queue
for seconds. The worker must take them in between requests.
"""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(60)

BUSY_CLIENTS = 10
SLOW_REQUEST = "/sleep?seconds=0.02"  # ten of them make one loop iteration last ~200 ms
NEW_CLIENTS = 20
# One accept per 200 ms iteration would need ~4 s for twenty clients; accepted between requests,
# they are all in within two iterations.
NEW_CLIENTS_DEADLINE = 2.0
BUSY_RUN_LIMIT = 30.0  # the busy clients stop by themselves even if the test fails midway


def keep_busy(port: int, stop: threading.Event, started: threading.Barrier) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        started.wait()
        deadline = time.monotonic() + BUSY_RUN_LIMIT
        while not stop.is_set() and time.monotonic() < deadline:
            conn.request("GET", SLOW_REQUEST)
            conn.getresponse().read()
    finally:
        conn.close()


def test_burst_of_new_clients_is_accepted_while_the_worker_is_busy(serve: Serve) -> None:
    port = free_port()
    serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), "--processes", "1"])
    stop = threading.Event()
    started = threading.Barrier(BUSY_CLIENTS + 1)
    busy = [
        threading.Thread(target=keep_busy, args=(port, stop, started), daemon=True)
        for _ in range(BUSY_CLIENTS)
    ]
    for thread in busy:
        thread.start()
    started.wait()
    try:
        # Every busy client has its first request answered before the burst, so all are connected.
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        probe.request("GET", "/pid")
        assert probe.getresponse().status == 200
        probe.close()

        began = time.monotonic()
        clients = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(NEW_CLIENTS)
        ]
        for client in clients:
            client.request("GET", "/pid")
        statuses = [client.getresponse().status for client in clients]
        elapsed = time.monotonic() - began
        for client in clients:
            client.close()
    finally:
        stop.set()
        for thread in busy:
            thread.join(timeout=15)
    assert statuses == [200] * NEW_CLIENTS
    assert elapsed < NEW_CLIENTS_DEADLINE, f"{NEW_CLIENTS} new clients took {elapsed:.2f} s"
