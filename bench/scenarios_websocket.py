"""The WebSocket rows: echo messages/s against uvicorn, and a worker's memory with idle connections.

    python bench/run.py --apps websocket,idle [--only usher,uvicorn] [--duration S]

- `websocket`: every server serves bench/apps/ws_echo.py with one process pinned to the server's
  CPU; bench/ws_load.py (pinned to the client's CPU) keeps 50 WebSockets busy, one 32-byte text
  message in flight on each, and counts the echoes. Reported: messages/s, the server's CPU time
  per message and its RSS after the run.
- `idle`: a fresh server per row; ws_load.py opens 10,000 connections (keep-alive HTTP after one
  request each, or WebSockets after the handshake) and leaves them idle; the worker's RSS is read
  before and with them. The client is its own process: each side holds 10,000 descriptors, under
  the 20,000 open files a process may have here.

uvicorn runs with httptools and uvloop, as its `standard` install does; its two WebSocket
implementations are both measured: `websockets` (its default) and `wsproto` (the codec usher uses).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen import CLIENT_CPU
from processes import (
    START_TIMEOUT,
    ServerProcess,
    StartupError,
    cpu_seconds_between,
    cpu_ticks,
    free_port,
    probe,
    rss_mib,
    start,
    stop,
    wait_for_port,
)
from servers import APPS_DIR, BENCH_DIR
from servers import SERVERS as TABLE_SERVERS

SERVER_CPU = 0
WS_APPS = ("websocket", "idle")
ECHO_CONNECTIONS = 50
MESSAGE_SIZE = 32
IDLE_CONNECTIONS = 10_000
# Opening 10,000 connections takes a few seconds; a minute means something is stuck.
IDLE_OPEN_TIMEOUT = 120.0
RSS_TARGET_MIB = 100e6 / 2**20  # the issue says 100 MB
Log = Callable[[str], None]


@dataclass(frozen=True)
class WsServer:
    name: str
    family: str
    label: str
    argv: Callable[[int], list[str]]
    # The server's keep-alive timeout must outlast the idle run.
    idle_argv: tuple[str, ...] = ()


def _usher(port: int) -> list[str]:
    return [
        sys.executable, "-m", "usher", "--http-socket", f"127.0.0.1:{port}",
        "--wsgi-file", str(APPS_DIR / "ws_echo.py"), "--processes", "1", "--disable-logging",
    ]  # fmt: skip


def _uvicorn(ws: str) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "ws_echo:application", "--app-dir", str(APPS_DIR),
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
            "--ws", ws, "--no-access-log", "--log-level", "warning", "--lifespan", "off",
        ]  # fmt: skip

    return argv


SERVERS = (
    WsServer("usher", "usher", "usher --http-socket", _usher, ("--http-timeout", "600")),
    WsServer("uvicorn", "uvicorn", "uvicorn --ws websockets", _uvicorn("websockets"),
             ("--timeout-keep-alive", "600")),
    WsServer("uvicorn-wsproto", "uvicorn", "uvicorn --ws wsproto", _uvicorn("wsproto"),
             ("--timeout-keep-alive", "600")),
)  # fmt: skip


def split_apps(names: str) -> tuple[list[str], str]:
    """The WebSocket apps asked for in --apps, and the rest of --apps for the WSGI rows."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    return [n for n in wanted if n in WS_APPS], ",".join(n for n in wanted if n not in WS_APPS)


def wsgi_only(only: str | None) -> str | None:
    """--only without the names only these rows know (uvicorn-wsproto), for the table's select."""
    if only is None:
        return None
    table = {s.name for s in TABLE_SERVERS} | {s.family for s in TABLE_SERVERS}
    mine = {s.name for s in SERVERS} | {s.family for s in SERVERS}
    parts = [p.strip() for p in only.split(",") if p.strip()]
    return ",".join(p for p in parts if p in table or p not in mine)


def _selected(only: str | None) -> list[WsServer]:
    if only is None:
        return list(SERVERS)
    wanted = {part.strip() for part in only.split(",")}
    return [s for s in SERVERS if s.name in wanted or s.family in wanted]


def _launch(
    server: WsServer, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[ServerProcess, int]:
    port = free_port()
    argv = ["taskset", "-c", str(SERVER_CPU), *server.argv(port), *extra]
    proc = start(server.label, argv, dict(os.environ), workdir / "server.out")
    deadline = time.monotonic() + START_TIMEOUT
    try:
        wait_for_port(proc, port, deadline)
        probe(port, "/", b"Hello, World!", deadline)
    except BaseException:
        stop(proc)
        raise
    return proc, port


def _client(args: list[str]) -> subprocess.Popen[str]:
    argv = ["taskset", "-c", str(CLIENT_CPU), sys.executable, str(BENCH_DIR / "ws_load.py"), *args]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _line(client: subprocess.Popen[str], prefix: str) -> list[str]:
    assert client.stdout is not None
    line = client.stdout.readline()
    if not line.startswith(prefix):
        client.kill()
        raise StartupError(f"the load generator said {line!r} (status {client.wait()})")
    return line.split()


def echo_row(server: WsServer, workdir: Path, duration: int, warmup: int) -> str:
    proc, port = _launch(server, workdir)
    try:
        client = _client([
            "echo", str(port), "--connections", str(ECHO_CONNECTIONS), "--size", str(MESSAGE_SIZE),
            "--warmup", str(warmup), "--duration", str(duration),
        ])  # fmt: skip
        with contextlib.ExitStack() as stack:
            stack.callback(client.kill)
            _line(client, "measuring")
            before = cpu_ticks(proc.pids())
            _, messages, seconds = _line(client, "done")
            after = cpu_ticks(proc.pids())
        proc.check_alive()
        count = int(messages)
        rate = count / float(seconds)
        cpu_us = cpu_seconds_between(before, after) * 1e6 / max(count, 1)
        rss = rss_mib(proc.worker_pids())
    finally:
        stop(proc)
    return f"| {server.label} | {rate:,.0f} | {cpu_us:.1f} | {rss:.1f} |"


def idle_row(server: WsServer, kind: str, workdir: Path) -> tuple[str, float]:
    proc, port = _launch(server, workdir, server.idle_argv)
    try:
        before = rss_mib(proc.worker_pids())
        client = _client(
            ["idle", str(port), "--kind", kind, "--connections", str(IDLE_CONNECTIONS)]
        )
        with contextlib.ExitStack() as stack:
            stack.callback(client.kill)
            _line(client, "open")
            proc.check_alive()
            with_idle = rss_mib(proc.worker_pids())
            assert client.stdin is not None
            client.stdin.close()
            client.wait(timeout=IDLE_OPEN_TIMEOUT)
    finally:
        stop(proc)
    per_kib = (with_idle - before) * 1024 / IDLE_CONNECTIONS
    row = f"| {server.label} | {kind} | {before:.1f} | {with_idle:.1f} | {per_kib:.1f} |"
    return row, with_idle


def run(
    apps: list[str], only: str | None, duration: int, warmup: int, tmp: Path, log: Log
) -> tuple[str, bool]:
    """The markdown of the asked WebSocket rows, and whether every row was measured."""
    servers = _selected(only)
    parts: list[str] = []
    ok = True
    if "websocket" in apps and servers:
        lines = [
            f"#### WebSocket echo ({ECHO_CONNECTIONS} connections, {MESSAGE_SIZE}-byte text, "
            "one message in flight each)\n",
            "| server | messages/s | server CPU µs/message | RSS MiB |",
            "|---|---:|---:|---:|",
        ]
        rates: dict[str, float] = {}
        for server in servers:
            log(f"[websocket] {server.label} ...")
            workdir = tmp / f"ws-{server.name}"
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                line = echo_row(server, workdir, duration, warmup)
            except (StartupError, OSError, subprocess.SubprocessError) as exc:
                log(f"[websocket] {server.label}: FAILED\n{exc}")
                ok = False
                continue
            log(f"[websocket] {server.label}: {line}")
            rates[server.name] = float(line.split("|")[2].replace(",", ""))
            lines.append(line)
        if "usher" in rates and "uvicorn" in rates:
            ratio = rates["usher"] / rates["uvicorn"]
            verdict = "met" if ratio >= 1.0 else "NOT met"
            lines.append(f"\nTarget: usher ≥ 1x uvicorn messages/s: {ratio:.2f}x, {verdict}.")
        parts.append("\n".join(lines))
    if "idle" in apps and servers:
        lines = [
            f"#### Idle connections: the worker's RSS with {IDLE_CONNECTIONS:,} of them\n",
            "| server | connections | RSS before MiB | RSS with them MiB | KiB each |",
            "|---|---|---:|---:|---:|",
        ]
        targets = []
        for server in servers:
            for kind in ("http", "websocket"):
                log(f"[idle] {server.label} {kind} ...")
                workdir = tmp / f"idle-{server.name}-{kind}"
                workdir.mkdir(parents=True, exist_ok=True)
                try:
                    line, rss = idle_row(server, kind, workdir)
                except (StartupError, OSError, subprocess.SubprocessError) as exc:
                    log(f"[idle] {server.label} {kind}: FAILED\n{exc}")
                    ok = False
                    continue
                log(f"[idle] {line}")
                lines.append(line)
                if server.name == "usher":
                    verdict = "met" if rss < RSS_TARGET_MIB else "NOT met"
                    targets.append(f"usher, 10,000 idle {kind}: {rss:.1f} MiB < 100 MB, {verdict}.")
        parts.append("\n".join([*lines, "", *(f"Target: {t}" for t in targets)]))
    return "\n\n".join(parts) + ("\n" if parts else ""), ok
