"""A front pool whose members announce themselves: usher app servers, and a uWSGI one (the
pyuwsgi wheel), join it with subscribe-to, serve through the front, and leave it when they stop
(uWSGI's subscription system end to end)."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from pathlib import Path

from tests.support.named_upstreams import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port
from tests.support.uwsgi_node import start_uwsgi, stop_uwsgi

WAIT = 10.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_line(server: ServerProcess, text: str, after: int = 0) -> int:
    """Wait until the server's log has `text` past offset `after`; the new offset. The front
    logs each join and leave as it applies it, so the pool is rebuilt once the line is there."""
    deadline = time.monotonic() + WAIT
    pidfd = os.pidfd_open(server.pid)
    try:
        while True:
            log = server.stderr_text()
            found = log.find(text, after)
            if found >= 0:
                return found + len(text)
            assert time.monotonic() < deadline, server.describe()
            # Between reads of the log the wait is on the front's pidfd: a front that dies is
            # noticed at once.
            assert not select.select([pidfd], [], [], 0.02)[0], server.describe()
    finally:
        os.close(pidfd)


def test_app_servers_join_and_leave_a_subscribed_pool(tmp_path: Path, serve: Serve) -> None:
    front_port, udp_port = free_port(), free_udp_port()
    ini = tmp_path / "front.ini"
    ini.write_text(
        f"[front]\nlisten = 127.0.0.1:{front_port}\n"
        f"http-subscription-server = 127.0.0.1:{udp_port}\nsubscription_tolerance = 5s\n\n"
        "[upstream app]\nsubscription = example.com\n\n"
        "[location /]\nproxy_pass = http://app\nproxy_connect_timeout = 1s\n"
    )
    front = serve(["front", "--ini", str(ini)])
    status, _ = get(front_port, "/before")
    assert status in (502, 503)  # nobody announced yet

    apps = []
    for _ in range(2):
        port = free_port()
        app = serve(
            [
                "--http-socket", f"127.0.0.1:{port}",
                "--wsgi-file", str(FIXTURES / "wsgi_apps.py"),
                "--callable", "echo",
                "--subscribe-to", f"127.0.0.1:{udp_port}:example.com",
                "--subscribe-freq", "1",
            ]
        )  # fmt: skip
        apps.append((port, app))
    offset = 0
    for port, _ in apps:
        offset = max(offset, wait_for_line(front, f"127.0.0.1:{port} joined 'example.com'"))
    pids = set()
    for n in range(4):
        status, body = get(front_port, f"/hello/{n}")
        assert status == 200, (status, body, front.describe())
        seen = json.loads(body)
        assert seen["PATH_INFO"] == f"/hello/{n}"
        pids.add(seen["pid"])
    assert len(pids) == 2  # round-robin over both app servers

    first_port, first = apps[0]
    first.stop()  # it unsubscribes as it stops
    wait_for_line(front, f"127.0.0.1:{first_port} left 'example.com'", offset)
    for n in range(3):
        status, _ = get(front_port, f"/after/{n}")
        assert status == 200  # only the one left serves, no failed attempt on the stopped one
    apps[1][1].stop()
    wait_for_line(front, f"127.0.0.1:{apps[1][0]} left 'example.com'", offset)
    status, _ = get(front_port, "/gone")
    assert status in (502, 503)


def test_a_uwsgi_server_joins_a_uwsgi_pass_pool(tmp_path: Path, serve: Serve) -> None:
    front_port, udp_port, node_port = free_port(), free_udp_port(), free_port()
    ini = tmp_path / "front.ini"
    ini.write_text(
        f"[front]\nlisten = 127.0.0.1:{front_port}\n"
        f"fastrouter-subscription-server = 127.0.0.1:{udp_port}\n\n"
        "[upstream nodes]\nsubscription = example.com\n\n"
        "[location /]\nuwsgi_pass = nodes\n"
    )
    front = serve(["front", "--ini", str(ini)])
    node = start_uwsgi(
        [
            "--master",
            "--socket", f"127.0.0.1:{node_port}",
            "--wsgi-file", str(FIXTURES / "wsgi_apps.py"),
            "--callable", "echo",
            "--subscribe-to", f"127.0.0.1:{udp_port}:example.com",
            "--subscribe-freq", "1",
        ],
        tmp_path / "uwsgi.log",
    )  # fmt: skip
    try:
        offset = wait_for_line(front, f"127.0.0.1:{node_port} joined 'example.com'")
        status, body = get(front_port, "/through/front?x=1")
        assert status == 200, (status, body, front.describe())
        seen = json.loads(body)
        assert seen["PATH_INFO"] == "/through/front" and seen["QUERY_STRING"] == "x=1"
        assert seen["pid"] != front.pid
    finally:
        stop_uwsgi(node)
    wait_for_line(front, f"127.0.0.1:{node_port} left 'example.com'", offset)
