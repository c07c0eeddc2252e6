"""More worker limits with real processes: max-worker-lifetime recycles a worker gracefully,
reload-on-as recycles one whose address space is too large, max-fd is what the workers inherit,
and harakiri-graceful-timeout delays the kill after a harakiri."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from tests.integration.ops import OPS_APP, worker_pid
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not server_is_usher(), reason="usher's log lines"),
]

# The limits here fire within 3 s of a worker's start; a loaded machine gets five times that.
REPLACE_DEADLINE = 15.0


def args(port: int, *extra: str) -> list[str]:
    return ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP), "--master", *extra]


def next_worker(site: tuple[str, int], first: int) -> int:
    """Ask until another worker answers (each try is a round trip; the master judges once a
    second), for at most REPLACE_DEADLINE seconds."""
    deadline = time.monotonic() + REPLACE_DEADLINE
    while time.monotonic() < deadline:
        try:
            pid = worker_pid(site)
        except OSError:
            continue
        if pid != first:
            return pid
    raise AssertionError("the worker was not replaced")


def test_max_worker_lifetime_recycles_the_worker(serve: Serve) -> None:
    port = free_port()
    server = serve(args(port, "--max-worker-lifetime", "1"))
    site = ("127.0.0.1", port)
    next_worker(site, worker_pid(site))
    assert "max-worker-lifetime 1s; respawning" in server.log_text()


def test_reload_on_as_recycles_a_worker_with_a_large_address_space(serve: Serve) -> None:
    port = free_port()
    server = serve(args(port, "--reload-on-as", "1", "--min-worker-lifetime", "0"))
    site = ("127.0.0.1", port)
    next_worker(site, worker_pid(site))
    assert "> reload-on-as 1 MB; respawning" in server.log_text()


def test_max_fd_is_the_workers_open_file_limit(serve: Serve) -> None:
    port = free_port()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(soft, 4096) - 7  # lowering is always allowed
    serve(args(port, "--max-fd", str(wanted)))
    pid = worker_pid(("127.0.0.1", port))
    limits = Path(f"/proc/{pid}/limits").read_text()
    line = next(text for text in limits.splitlines() if text.startswith("Max open files"))
    assert line.split()[3:5] == [str(wanted), str(wanted)]
