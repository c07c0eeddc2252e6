"""Reloads with real processes: a chain reload under steady load fails no request, a chain reload
onto broken code keeps the old workers, touch-reload and touch-chain-reload, and the systemd
notifications around each (RELOADING=1, then READY=1 once the new workers serve)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ops import (
    OPS_APP,
    expect_status,
    fifo_command,
    forget_notices,
    read_stats,
)
from tests.support.events import EventListener
from tests.support.http import get
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(120)


class Load:
    """Client threads sending GET /pid, each on a fresh connection, until stopped; every answer
    that is not a 200 (or no answer at all) is a failure."""

    def __init__(self, site: tuple[str, int], clients: int) -> None:
        self.site = site
        self.sent = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.progress = threading.Condition(self.lock)
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(15)

    def _client(self) -> None:
        while not self.stopped.is_set():
            try:
                response = get(self.site, "/pid", timeout=10)
                failure = None if response.status == 200 else f"status {response.status}"
            except OSError as exc:
                failure = repr(exc)
            with self.progress:
                self.sent += 1
                if failure:
                    self.failures.append(failure)
                self.progress.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Wait until `count` more requests have been answered."""
        with self.progress:
            target = self.sent + count
            assert self.progress.wait_for(lambda: self.sent >= target, timeout), self.sent


@pytest.fixture
def lazy_server(
    serve: Serve, events: EventListener, sock_dir: Path
) -> Iterator[tuple[ServerProcess, tuple[str, int], tuple[str, int], str]]:
    port, stats = free_port(), free_port()
    fifo = str(sock_dir / "master.fifo")
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--wsgi-file", str(OPS_APP),
            "--master", "--processes", "3", "--lazy-apps",
            "--stats", f"127.0.0.1:{stats}",
            "--master-fifo", fifo,
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    yield server, ("127.0.0.1", port), ("127.0.0.1", stats), fifo


def pids(stats: tuple[str, int]) -> set[int]:
    return {worker["pid"] for worker in read_stats(stats)["workers"]}


def test_chain_reload_under_load_fails_no_request(
    lazy_server: tuple[ServerProcess, tuple[str, int], tuple[str, int], str],
) -> None:
    server, site, stats, fifo = lazy_server
    before = pids(stats)
    with Load(site, clients=4) as load:
        load.wait_for(200)
        forget_notices(server)
        fifo_command(fifo, "c")
        expect_status(server, "RELOADING=1")
        expect_status(server, "READY=1", timeout=60)
        load.wait_for(200)
    after = pids(stats)
    print(f"chain reload under load: {load.sent} requests sent, {len(load.failures)} failed")
    assert load.failures == []
    assert before.isdisjoint(after) and len(after) == 3
    log = server.log_text()
    assert "chain reload of 3 worker(s)" in log
    assert log.count("usher: chain reload: worker") == 3
    assert "chain reload complete: 3 worker(s) replaced" in log


def test_a_chain_reload_onto_broken_code_keeps_the_old_workers(
    serve: Serve, events: EventListener, tmp_path: Path, sock_dir: Path
) -> None:
    app = tmp_path / "app.py"
    shutil.copy(OPS_APP, app)
    port, stats = free_port(), free_port()
    fifo = str(sock_dir / "master.fifo")
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(app),
            "--processes", "2", "--lazy-apps", "--stats", f"127.0.0.1:{stats}",
            "--master-fifo", fifo,
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    before = pids(("127.0.0.1", stats))
    app.write_text("raise ImportError('the new release is broken')\n")
    forget_notices(server)
    fifo_command(fifo, "c")
    expect_status(server, "READY=1", timeout=30)
    assert "chain reload stopped: the new worker 1" in server.log_text()
    assert pids(("127.0.0.1", stats)) == before
    assert get(("127.0.0.1", port), "/").status == 200


def test_touch_chain_reload(serve: Serve, events: EventListener, tmp_path: Path) -> None:
    touched = tmp_path / "reload.trigger"
    touched.write_text("")
    port, stats = free_port(), free_port()
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP),
            "--processes", "2", "--lazy-apps", "--stats", f"127.0.0.1:{stats}",
            "--touch-chain-reload", str(touched),
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    before = pids(("127.0.0.1", stats))
    forget_notices(server)
    os.utime(touched, ns=(1, 1))
    expect_status(server, "RELOADING=1")
    expect_status(server, "READY=1")
    assert pids(("127.0.0.1", stats)).isdisjoint(before)
    assert f"touch-chain-reload {touched}: chain reload of 2 worker(s)" in server.log_text()


def test_touch_reload_reexecutes_the_master(serve: Serve, tmp_path: Path) -> None:
    touched = tmp_path / "reload.trigger"
    port, stats = free_port(), free_port()
    server = serve(
        [
            "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP),
            "--stats", f"127.0.0.1:{stats}", "--touch-reload", str(touched),
        ]
    )  # fmt: skip
    before = pids(("127.0.0.1", stats))
    forget_notices(server)
    touched.write_text("deploy")
    expect_status(server, "RELOADING=1")
    notice = expect_status(server, "READY=1")
    assert f"MAINPID={server.pid}" in notice  # the same master, re-executed
    assert pids(("127.0.0.1", stats)).isdisjoint(before)
    assert get(("127.0.0.1", port), "/").status == 200
    assert f"touch-reload {touched}: reloading gracefully" in server.log_text()


def test_sighup_on_lazy_apps_notifies_reloading_then_ready(
    lazy_server: tuple[ServerProcess, tuple[str, int], tuple[str, int], str],
) -> None:
    import signal

    server, site, stats, _ = lazy_server
    before = pids(stats)
    forget_notices(server)
    server.send_signal(signal.SIGHUP)
    reloading = expect_status(server, "RELOADING=1")
    assert "MONOTONIC_USEC=" in reloading
    expect_status(server, "READY=1")
    assert pids(stats).isdisjoint(before)
    assert get(site, "/").status == 200
