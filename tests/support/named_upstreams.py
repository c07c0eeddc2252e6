"""Tiny loopback HTTP servers that answer their own name, and nginx run on a whole config.

The balancing tests put nginx in front of several of these and read, from each answer, which
server nginx chose. A request to a path under `/hold/` is held until the test releases it (the
server notes its arrival first), so a test can keep connections open on chosen servers and
exercise least-connections exactly.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.nginx import NGINX, NginxProcess, _user_directive, _wait_accepting
from tests.support.server import free_port

# Bounds a held request: a test that forgets to release must not hang the suite.
HOLD_LIMIT = 10.0


@dataclass
class NamedServer:
    """One server; `name` is its address as an nginx `server` line writes it."""

    server: ThreadingHTTPServer
    arrivals: queue.Queue[str]  # shared by a group: the name of each server a held request reached
    release: threading.Event = field(default_factory=threading.Event)
    cookies: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"


def _handler(named: NamedServer) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/hold/"):
                named.arrivals.put(named.name)
                named.release.wait(HOLD_LIMIT)
            named.cookies.append(self.headers.get("Cookie", ""))
            body = named.name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Answer


@contextlib.contextmanager
def named_servers(count: int) -> Iterator[list[NamedServer]]:
    """`count` servers on loopback ports, each in its own thread; shut down on exit."""
    servers: list[NamedServer] = []
    arrivals: queue.Queue[str] = queue.Queue()
    try:
        for _ in range(count):
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
            httpd.daemon_threads = True
            named = NamedServer(httpd, arrivals)
            httpd.RequestHandlerClass = _handler(named)
            threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
            servers.append(named)
        yield servers
    finally:
        for named in servers:
            named.release.set()
            named.server.shutdown()
            named.server.server_close()


def dead_address() -> str:
    """A loopback address nothing listens on: connecting is refused at once."""
    return f"127.0.0.1:{free_port()}"


def start_nginx_with(tmp_path: Path, http_block: Callable[[int], str]) -> NginxProcess:
    """nginx running `http { ... }` built by `http_block(port)` (the port its server must
    listen on); checked with `nginx -t` first. The caller stops it."""
    prefix = tmp_path / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    temp_paths = "\n".join(
        f"    {name}_temp_path {prefix / (name + '_temp')};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process on;\nworker_processes 1;\n{_user_directive()}\n"
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        "events {\n    worker_connections 256;\n}\n"
        f"http {{\n    access_log off;\n{temp_paths}\n{http_block(port)}\n}}\n"
    )
    base = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise AssertionError(f"nginx -t rejected the config:\n{check.stderr}\n{conf.read_text()}")
    with open(prefix / "console.log", "wb") as console:
        proc = subprocess.Popen(
            base, stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True
        )
    nginx = NginxProcess(proc, prefix, port, None, os.pidfd_open(proc.pid))
    try:
        _wait_accepting(nginx, port)
    except BaseException:
        nginx.stop()
        raise
    return nginx


def get(
    port: int, target: str, *, source: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """One HTTP/1.0 GET to 127.0.0.1:port from the loopback address `source`; (status, body)."""
    lines = [f"GET {target} HTTP/1.0", "Host: balance.test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()
