"""The front's benchmark: one usher app server behind usher's front, nginx and HAProxy.

    python bench/run.py front [--duration S] [--warmup S] [--only direct,nginx-proxy,...]

The app server (hello world, one usher worker) runs on CPU 0; the front under test and wrk share
CPU 1, as nginx does in the main table's uwsgi_pass rows. Each row reports requests/s, the front's
user and system CPU time per request, and the latency at p50 and p99 with what the front adds to
the direct row. Rows: the app server alone (`direct`), nginx `proxy_pass` with upstream keep-alive
and `uwsgi_pass`, HAProxy (when installed), and usher's front over HTTP and uwsgi (one process),
plus the front with 2 processes on both CPUs (`usher-front-2p`, unpinned: it competes with the app
and wrk, as it would on a 2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen import CLIENT_CPU, wrk_command
from nginx_front import UWSGI_PARAMS, nginx_binary, nginx_command, nginx_config
from processes import (
    START_TIMEOUT,
    ServerProcess,
    cpu_split_between,
    cpu_split_ticks,
    free_port,
    probe,
    start,
    stop,
    wait_for_port,
)
from servers import HELLO, REPO_DIR

SERVER_CPU = 0

NGINX_CONFIG = """\
    upstream app {{
        server 127.0.0.1:{http_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            {pass_line}
        }}
    }}"""
PROXY_PASS = (
    'proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";'
    " proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
)
UWSGI_PASS = "include {params}; uwsgi_pass 127.0.0.1:{uwsgi_port};"

HAPROXY_CONFIG = """\
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    option forwardfor
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    http-reuse always
    server a 127.0.0.1:{http_port}
"""

FRONT_INI = """\
[front]
processes = {processes}
access_log = off
listen = 127.0.0.1:{port}

[upstream app]
server = 127.0.0.1:{upstream}
keepalive = 64

[location /]
{pass_line}
"""


@dataclass(frozen=True)
class Upstreams:
    """The one app server, listening over HTTP and over the uwsgi protocol."""

    http_port: int
    uwsgi_port: int


@dataclass(frozen=True)
class Row:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: tuple[float, float] | None  # the front's user and system CPU time per request
    errors: int

    def line(self, direct: Row | None) -> str:
        added = ""
        if direct is not None and self is not direct:
            added = f"{self.p50_ms - direct.p50_ms:+.2f} / {self.p99_ms - direct.p99_ms:+.2f}"
        cpu = " | ".join(f"{us:.1f}" for us in self.cpu_us) if self.cpu_us else "- | -"
        return (
            f"| {self.name} | {self.rps:,.0f} | {cpu} | {self.p50_ms:.2f} | {self.p99_ms:.2f} "
            f"| {added} | {self.errors} |"
        )


Launcher = Callable[[Path, Upstreams, int], list[str] | None]


def _usher(*args: str) -> list[str]:
    return [sys.executable, "-m", "usher", *args]


def launch_nginx(pass_template: str) -> Launcher:
    def launch(tmp: Path, up: Upstreams, port: int) -> list[str] | None:
        binary = nginx_binary()
        if binary is None:
            return None
        pass_line = pass_template.format(params=UWSGI_PARAMS, uwsgi_port=up.uwsgi_port)
        config = tmp / "nginx.conf"
        server = NGINX_CONFIG.format(port=port, http_port=up.http_port, pass_line=pass_line)
        config.write_text(nginx_config(tmp, server))
        return ["taskset", "-c", str(CLIENT_CPU), *nginx_command(binary, config)]

    return launch


def launch_haproxy(tmp: Path, up: Upstreams, port: int) -> list[str] | None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        return None
    config = tmp / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(port=port, http_port=up.http_port))
    return ["taskset", "-c", str(CLIENT_CPU), binary, "-db", "-f", str(config)]


def launch_front(protocol: str, processes: int = 1) -> Launcher:
    def launch(tmp: Path, up: Upstreams, port: int) -> list[str] | None:
        if protocol == "http":
            pass_line, upstream = "proxy_pass = http://app", up.http_port
        else:
            pass_line, upstream = "uwsgi_pass = app", up.uwsgi_port
        ini = tmp / "front.ini"
        ini.write_text(
            FRONT_INI.format(processes=processes, port=port, upstream=upstream, pass_line=pass_line)
        )
        argv = _usher("front", "--ini", str(ini))
        return argv if processes > 1 else ["taskset", "-c", str(CLIENT_CPU), *argv]

    return launch


def launch_direct(tmp: Path, up: Upstreams, port: int) -> list[str] | None:
    return None  # measured straight on the app server's port


ROWS: dict[str, Launcher] = {
    "direct": launch_direct,
    "nginx-proxy_pass": launch_nginx(PROXY_PASS),
    "nginx-uwsgi_pass": launch_nginx(UWSGI_PASS),
    "haproxy": launch_haproxy,
    "usher-front-http": launch_front("http"),
    "usher-front-uwsgi": launch_front("uwsgi"),
    "usher-front-2p": launch_front("http", processes=2),
}


def run_wrk(url: str, duration: int) -> tuple[int, float, float, float, int]:
    """requests, rps, p50 ms, p99 ms, errors."""
    done = subprocess.run(
        wrk_command(url, duration), capture_output=True, text=True, timeout=duration + 30
    )
    text = done.stdout
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(status.group(1)) if status else 0
    return requests, rps, _percentile(text, "50"), _percentile(text, "99"), errors


def _percentile(text: str, which: str) -> float:
    found = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if found is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
    return float(found.group(1)) * scale


def start_upstreams(stack: contextlib.ExitStack, tmp: Path) -> Upstreams:
    up = Upstreams(free_port(), free_port())
    argv = [
        "taskset", "-c", str(SERVER_CPU), *_usher(
            "--http-socket", f"127.0.0.1:{up.http_port}", "--socket", f"127.0.0.1:{up.uwsgi_port}",
            "--wsgi-file", str(HELLO.wsgi_file), "--processes", "1", "--disable-logging",
        ),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR / "src")}
    proc = start("app", argv, env, tmp / "app.out")
    stack.callback(stop, proc)
    deadline = time.monotonic() + START_TIMEOUT
    wait_for_port(proc, up.http_port, deadline)
    probe(up.http_port, "/", HELLO.expect, deadline)
    return up


def measure(name: str, tmp: Path, up: Upstreams, duration: int, warmup: int) -> Row | None:
    workdir = tmp / name
    workdir.mkdir()
    port = free_port()
    argv = ROWS[name](workdir, up, port)
    with contextlib.ExitStack() as stack:
        front: ServerProcess | None = None
        if argv is None:
            if name != "direct":
                print(f"{name}: skipped (not installed)", file=sys.stderr)
                return None
            port = up.http_port
        else:
            env = {**os.environ, "PYTHONPATH": str(REPO_DIR / "src")}
            front = start(name, argv, env, workdir / "front.out")
            stack.callback(stop, front)
            deadline = time.monotonic() + START_TIMEOUT
            wait_for_port(front, port, deadline)
            probe(port, "/", HELLO.expect, deadline)
        url = f"http://127.0.0.1:{port}/"
        run_wrk(url, warmup)
        before = cpu_split_ticks(front.pids()) if front else {}
        requests, rps, p50, p99, errors = run_wrk(url, duration)
        after = cpu_split_ticks(front.pids()) if front else {}
        user, system = cpu_split_between(before, after)
        per_request = 1e6 / max(requests, 1)
        cpu = (user * per_request, system * per_request) if front else None
        return Row(name, rps, p50, p99, cpu, errors)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py front")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="accepted for run.py's flags; one")
    parser.add_argument("--only", default=",".join(ROWS))
    args = parser.parse_args(argv)
    names = [name for name in args.only.split(",") if name]
    unknown = [name for name in names if name not in ROWS]
    if unknown:
        print(f"unknown rows {unknown}; choose from {', '.join(ROWS)}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="usher-bench-front-") as name,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(name)
        up = start_upstreams(stack, tmp)
        for row_name in names:
            print(f"[front] {row_name} ...", file=sys.stderr, flush=True)
            row = measure(row_name, tmp, up, args.duration, args.warmup)
            if row is not None:
                rows.append(row)
                print(f"[front] {row_name}: {row.rps:,.0f} req/s", file=sys.stderr, flush=True)
    direct = next((row for row in rows if row.name == "direct"), None)
    print(
        "| front | req/s | front user µs/req | front system µs/req | p50 ms | p99 ms "
        "| added p50 / p99 ms | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row.line(direct))
    nginx = next((row for row in rows if row.name == "nginx-proxy_pass"), None)
    ours = next((row for row in rows if row.name == "usher-front-http"), None)
    if nginx is not None and ours is not None:
        print(f"\nusher front / nginx proxy_pass: {ours.rps / nginx.rps:.2f}x (target >= 0.5x)")
    return 0
