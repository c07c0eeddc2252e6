"""`usher front` with real processes: usher app servers behind it, clients in front of it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES
from tests.support.server import ServerProcess, free_port, start_server

APPS = FIXTURES / "front_apps.py"
USHER = [sys.executable, "-m", "usher"]
CHECK_INTERVAL = 0.3  # seconds: the front's active checks in these tests


STARTED: list[ServerProcess] = []


def _stop_strays(tmp: Path) -> None:
    """A site that failed half-way stops what it had started."""
    while STARTED:
        STARTED.pop().close()


def start_app(name: str, port: int, tmp: Path) -> ServerProcess:
    return _started(
        start_server(
            ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(APPS), "--disable-logging"],
            log_dir=tmp / f"app-{name}-{time.monotonic_ns()}",
            env={**_env(), "FRONT_APP_NAME": name},
            command=USHER,
        )
    )


def _started(server: ServerProcess) -> ServerProcess:
    STARTED.append(server)
    return server


def _env() -> dict[str, str]:
    return dict(os.environ)


class UpgradeEcho:
    """An upstream that switches to an echo of raw bytes after any Upgrade request, in a
    thread: the front's tunnel is tested without depending on a WebSocket library's server."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.heads: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    def echo(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            head, _, early = head.partition(b"\r\n\r\n")
            self.heads.append(head)
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n" + early
            )
            while data := conn.recv(4096):
                conn.sendall(data)

    def close(self) -> None:
        self.listener.close()


class Closer:
    """An upstream that reads a request head and closes without answering: every attempt on it
    fails after the request was sent."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.methods: list[bytes] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
                    head += data
                self.methods.append(head.partition(b" ")[0])

    def close(self) -> None:
        self.listener.close()


class Site:
    """Three app servers and a uwsgi one behind a front, on free ports."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = {name: free_port() for name in "abc"}
        self.apps = {name: start_app(name, port, tmp) for name, port in self.ports.items()}
        self.uwsgi_port = free_port()
        self.uwsgi = _started(
            start_server(
                [
                    "--socket",
                    f"127.0.0.1:{self.uwsgi_port}",
                    "--wsgi-file",
                    str(APPS),
                    "--disable-logging",
                ],
                log_dir=tmp / "app-u",
                env={**_env(), "FRONT_APP_NAME": "u"},
                command=USHER,
            )
        )
        self.echo = UpgradeEcho()
        self.closers = [Closer(), Closer()]
        self.dead_port = free_port()
        self.port = free_port()
        static = tmp / "static"
        static.mkdir()
        (static / "hello.txt").write_text("static hello\n")
        (static / "escape.ini").symlink_to(tmp / "front.ini")
        servers = "\n".join(
            f"server = 127.0.0.1:{port} weight=10 slow_start=3s" for port in self.ports.values()
        )
        ini = tmp / "front.ini"
        ini.write_text(
            f"""
[front]
processes = 1
listen = 127.0.0.1:{self.port}
client_max_body_size = 64k
client_body_buffer_size = 1k

[upstream app]
{servers}
check = interval={int(CHECK_INTERVAL * 1000)} rise=1 fall=1 timeout=500 type=http
check_http_send = /
panic_threshold = 0

[upstream legacy]
server = 127.0.0.1:{self.uwsgi_port}

[upstream ws]
server = 127.0.0.1:{self.echo.port}

[location /ws/]
proxy_pass = http://ws

[upstream closers]
server = 127.0.0.1:{self.closers[0].port} max_fails=0
server = 127.0.0.1:{self.closers[1].port} max_fails=0

[location /closers/]
proxy_pass = http://closers

[upstream nowhere]
server = 127.0.0.1:{self.dead_port}

[location /]
proxy_pass = http://app
proxy_read_timeout = 1s

[location /legacy/]
uwsgi_pass = legacy

[location /nowhere/]
proxy_pass = http://nowhere

[location ^~ /static/]
alias = {static}/

[location = /old]
return = 301 https://example.com/new

[location = /front-status]
status
"""
        )
        self.front = start_server(
            ["front", "--ini", str(ini)], log_dir=tmp / "front", command=USHER
        )

    def close(self) -> None:
        for server in [self.front, self.uwsgi, *self.apps.values()]:
            server.close()
        self.echo.close()
        STARTED.clear()
        for closer in self.closers:
            closer.close()

    def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def status(self) -> dict[str, dict[str, object]]:
        _, _, body = self.get("/front-status")
        servers = json.loads(body)["upstreams"]["app"]["servers"]
        return {str(row["server"]).rpartition(":")[2]: row for row in servers}

    def state_of(self, name: str) -> str:
        return str(self.status()[str(self.ports[name])]["state"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("front")
    try:
        running = Site(tmp)
    except BaseException:
        _stop_strays(tmp)
        raise
    try:
        yield running
    finally:
        running.close()


def test_balances_over_every_server(site: Site) -> None:
    seen = Counter(site.get("/")[2].decode() for _ in range(30))
    assert set(seen) == {"a", "b", "c"}
    assert max(seen.values()) - min(seen.values()) <= 1  # equal weights: round-robin


def test_uwsgi_pass_static_return_and_status(site: Site) -> None:
    assert site.get("/legacy/x")[::2] == (200, b"u")
    status, headers, body = site.get("/static/hello.txt")
    assert (status, body) == (200, b"static hello\n")
    assert headers["content-type"] == "text/plain"
    # usher's static-file handler answers the location: validators, conditionals and ranges.
    assert site.get("/static/hello.txt", {"If-None-Match": headers["etag"]})[0] == 304
    status, headers, body = site.get("/static/hello.txt", {"Range": "bytes=0-5"})
    assert (status, body, headers["content-range"]) == (206, b"static", "bytes 0-5/13")
    # Dot segments are resolved before a location is chosen, as nginx does: out of /static/.
    assert site.get("/static/%2e%2e/front.ini")[2] in (b"a", b"b", b"c")
    assert site.get("/static/../../front.ini")[0] == 400  # above the root
    assert site.get("/static/escape.ini")[0] == 404  # a symlink out of the directory
    status, headers, _ = site.get("/old")
    assert (status, headers["location"]) == (301, "https://example.com/new")
    _, headers, body = site.get("/front-status?format=prometheus", {})
    assert headers["content-type"].startswith("text/plain")
    assert b"usher_front_upstream_requests{" in body and b'state="up"' in body


def test_proxy_headers_are_the_fronts_own(site: Site) -> None:
    status, _, body = site.get(
        "/headers",
        {
            "X-Forwarded-Proto": "https",
            "X-Real-IP": "6.6.6.6",
            "X-Forwarded-For": "1.2.3.4",
            "Connection": "keep-alive, X-Secret",
            "X-Secret": "hop",
            "Keep-Alive": "timeout=5",
        },
    )
    seen = json.loads(body)
    assert status == 200
    assert seen["HTTP_X_FORWARDED_PROTO"] == "http"  # spoofed https ignored: no trusted proxy
    assert seen["HTTP_X_REAL_IP"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_FOR"] == "1.2.3.4, 127.0.0.1"
    assert "HTTP_X_SECRET" not in seen  # named in Connection: hop-by-hop
    assert "HTTP_KEEP_ALIVE" not in seen


def test_bodies_limits_and_framing(site: Site) -> None:
    payload = b"x" * 20000  # past client_body_buffer_size: spooled to a file first
    assert site.get("/echo", method="POST", body=payload)[::2] == (200, payload)
    assert site.get("/echo", method="POST", body=iter([b"ab", b"cd"]))[::2] == (200, b"abcd")
    assert site.get("/echo", method="POST", body=b"y" * 70000)[0] == 413
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(raw)
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_a_slow_client_holds_no_upstream_connection(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf.")
        # The front has the head and half the body: no upstream is chosen until the rest comes.
        assert site.get("/")[0] == 200  # the front has handled what was sent before this
        assert all(row["active"] == 0 for row in site.status().values())
        sock.sendall(b"half!")
        answer = b""
        while not answer.endswith(b"half.half!"):
            chunk = sock.recv(4096)
            assert chunk
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")


def test_an_http10_client_without_host_is_passed_with_one(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200")


def test_a_request_that_reached_a_server_is_retried_only_if_idempotent(site: Site) -> None:
    assert site.get("/closers/a")[0] == 502
    assert sorted(m for c in site.closers for m in c.methods) == [b"GET", b"GET"]
    for closer in site.closers:
        closer.methods.clear()
    assert site.get("/closers/a", method="POST", body=b"once")[0] == 502
    assert [m for c in site.closers for m in c.methods] == [b"POST"]  # never sent twice


def test_upstream_errors_are_502_and_504(site: Site) -> None:
    status, _, body = site.get("/nowhere/x")
    assert status == 502 and b"connect failed" in body
    status, _, _ = site.get("/slow?s=3", method="POST", body=b"")  # not idempotent: no retry
    assert status == 504


def test_websocket_upgrade_is_tunnelled(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(
            b"GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert (
            b"sec-websocket-accept: test" in head.lower() and b"upgrade: websocket" in head.lower()
        )
        for message in (b"\x81\x05hello", b"second frame" * 100):
            sock.sendall(message)
            echoed = b""
            while len(echoed) < len(message):
                echoed += sock.recv(65536)
            assert echoed == message
    upstream_head = site.echo.heads[-1].lower()
    assert b"upgrade: websocket" in upstream_head and b"connection: upgrade" in upstream_head
    assert b"sec-websocket-key: dghlihnhbxbszsbub25jzq==" in upstream_head


def _load(site: Site, stop: threading.Event, failures: list[str], answers: Counter[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    while not stop.is_set():
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            body = response.read().decode()
            if response.status != 200:
                failures.append(f"{response.status} {body}")
            answers[body] += 1
        except (OSError, http.client.HTTPException) as exc:
            failures.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    conn.close()


def test_kill_one_under_load_then_bring_it_back(site: Site) -> None:
    stop = threading.Event()
    failures: list[str] = []
    answers: Counter[str] = Counter()
    clients = [
        threading.Thread(target=_load, args=(site, stop, failures, answers)) for _ in range(4)
    ]
    for client in clients:
        client.start()
    try:
        _wait(lambda: sum(answers.values()) > 200, 10)
        site.apps["c"].kill_group()  # SIGKILL master and worker: connections reset mid-load
        killed_at = time.monotonic()
        _wait(lambda: site.state_of("c") != "up", 5)
        ejected_after = time.monotonic() - killed_at
        before = Counter(answers)
        _wait(lambda: sum(answers.values()) > sum(before.values()) + 200, 10)
        assert answers["c"] == before["c"]  # nothing more reaches it
        site.apps["c"].close()
        site.apps["c"] = start_app("c", site.ports["c"], site.tmp)
        _wait(lambda: site.state_of("c") == "slow_start", 5, site)
        row = site.status()[str(site.ports["c"])]
        assert int(str(row["weight_now"])) < 10  # ramping from 1 to its weight of 10
        back = Counter(answers)
        _wait(lambda: answers["c"] > back["c"], 5)
        _wait(lambda: site.state_of("c") == "up", 6)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert failures == []  # every idempotent request was answered, on another server if need be
    assert ejected_after < CHECK_INTERVAL + 0.5


def _wait(condition: object, timeout: float, site: Site | None = None) -> None:
    deadline = time.monotonic() + timeout
    assert callable(condition)
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {site.status() if site else ''}")
        time.sleep(0.02)  # polling a figure over HTTP: nothing to wait on


def test_a_bad_config_is_one_line_and_status_2(tmp_path: Path) -> None:
    ini = tmp_path / "front.ini"
    ini.write_text("[location /]\nproxy_pas = http://app\n")
    done = subprocess.run(
        [*USHER, "front", "--ini", str(ini)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"usher: {ini}:2: unknown key 'proxy_pas' in [location] (did you mean proxy_pass?)"
    )
    checked = subprocess.run(
        [*USHER, "--check-config", "front", "--ini", str(ini)], capture_output=True, timeout=30
    )
    assert checked.returncode == 2
