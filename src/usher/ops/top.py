"""`usher top ADDR`: the stats of a running server in a terminal, refreshed every second.

ADDR is what `stats` was given (host:port, a unix socket path, @abstract) or an http:// URL for
`stats-http`. Plain ANSI escapes, no curses and no dependency: the screen is redrawn whole each
second, which any terminal (and `watch`-style logging with --once) handles.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from usher.sockets import parse_address

# A stats document is a few kilobytes per worker; a reader that gets more is not talking to usher.
MAX_DOCUMENT = 16 * 1024 * 1024
TIMEOUT = 5.0
_CLEAR = "\x1b[H\x1b[2J"
_BOLD, _GREEN, _MAGENTA, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[35m", "\x1b[0m"


def fetch(address: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Read one stats document from `address`."""
    if address.startswith(("http://", "https://")):
        with urllib.request.urlopen(address, timeout=timeout) as response:
            data: bytes = response.read(MAX_DOCUMENT)
    else:
        data = _read_socket(address, timeout)
    document: dict[str, Any] = json.loads(data)
    return document


def _read_socket(address: str, timeout: float) -> bytes:
    family, target = parse_address(address)
    if isinstance(target, tuple) and target[0] == "0.0.0.0":
        target = ("127.0.0.1", target[1])  # `:1717` listens everywhere; ask it locally
    chunks = []
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(target)
        received = 0
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            received += len(chunk)
            if received > MAX_DOCUMENT:
                raise ValueError("stats document too large")
    return b"".join(chunks)


def render(
    document: dict[str, Any], previous: dict[int, int], elapsed: float, *, color: bool
) -> str:
    """One screen: a header, then a line per worker with its rate since the previous screen (or
    a line per vassal, for an emperor's document)."""
    if "vassals" in document:
        return render_emperor(document)
    workers = document.get("workers", [])
    total = sum(worker["requests"] for worker in workers)
    rates = {
        w["id"]: (w["requests"] - previous.get(w["id"], w["requests"])) / elapsed for w in workers
    }
    busy = sum(1 for worker in workers if worker["status"] == "busy")
    lines = [
        f"usher {document.get('version', '?')} - master pid {document.get('pid', '?')} - "
        f"{time.strftime('%H:%M:%S')} - {total} requests, {sum(rates.values()):.0f} req/s - "
        f"{busy}/{len(workers)} busy - listen queue {document.get('listen_queue', 0)}",
        *_reload_warning(document),
        "",
        _row(
            "WID", "PID", "STATUS", "REQ", "REQ/S", "EXC", "AVG", "RSS", "RESP", "HARA", "REQUEST"
        ),
    ]
    if color:
        lines[-1] = _BOLD + lines[-1] + _RESET
    for worker in workers:
        line = _worker_line(worker, rates[worker["id"]])
        if color and worker["status"] in ("busy", "cheap"):
            line = (_GREEN if worker["status"] == "busy" else _MAGENTA) + line + _RESET
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_emperor(document: dict[str, Any]) -> str:
    """An emperor's screen: a line per vassal (uWSGI's emperor document, as usher writes it)."""
    vassals = document.get("vassals", [])
    ready = sum(1 for vassal in vassals if vassal.get("ready"))
    lines = [
        f"usher {document.get('version', '?')} - emperor pid {document.get('pid', '?')} - "
        f"{time.strftime('%H:%M:%S')} - {len(vassals)} vassals, {ready} ready - watching "
        f"{' '.join(document.get('emperor', []))}",
        "",
        f"{'VASSAL':<24} {'PID':>8} {'STATUS':<10} {'RESPAWNS':>8} {'UID':>6}  LAST EXIT",
    ]
    for vassal in vassals:
        lines.append(
            f"{vassal['id']:<24} {vassal['pid']:>8} {vassal.get('status', ''):<10} "
            f"{vassal.get('respawns', 0):>8} {vassal.get('uid', ''):>6}  {vassal.get('last_exit', '')}"
        )
    return "\n".join(lines) + "\n"


def _reload_warning(document: dict[str, Any]) -> list[str]:
    failed = document.get("last_reload_failed", 0)
    if not failed:
        return []
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(failed))
    return [f"LAST RELOAD FAILED at {at}: {document.get('last_reload_error', '')}"]


def _row(*cells: str) -> str:
    widths = (4, 8, 7, 9, 7, 5, 8, 8, 5, 5)
    fixed = "".join(cell.rjust(width) + " " for cell, width in zip(cells, widths, strict=False))
    return fixed + " " + " ".join(cells[len(widths) :])


def _worker_line(worker: dict[str, Any], rate: float) -> str:
    return _row(
        str(worker["id"]),
        str(worker["pid"]),
        worker["status"],
        str(worker["requests"]),
        f"{rate:.0f}",
        str(worker["exceptions"]),
        _duration(worker["avg_rt"]),
        _size(worker["rss"]),
        str(worker["respawn_count"]),
        str(worker["harakiri_count"]),
        _current_request(worker),
    )


def _current_request(worker: dict[str, Any]) -> str:
    now = time.time()
    parts = []
    for core in worker.get("cores", []):
        if not core.get("in_request"):
            continue
        found = dict(item.split("=", 1) for item in core.get("vars", []) if "=" in item)
        started = core.get("req_info", {}).get("request_start", now)
        parts.append(
            f"{found.get('REQUEST_METHOD', '?')} {found.get('REQUEST_URI', '?')} "
            f"from {found.get('REMOTE_ADDR', '?')} for {max(now - started, 0):.0f}s"
        )
    return "; ".join(parts)


def _duration(micros: int) -> str:
    return f"{micros / 1000:.1f}ms" if micros >= 1000 else f"{micros}us"


def _size(count: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def main(argv: Sequence[str]) -> int:
    """Entry point of `usher top`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="usher top", description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the stats address (host:port, path, @name or http://)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between screens")
    parser.add_argument("--once", action="store_true", help="print one screen and exit")
    args = parser.parse_args(list(argv))
    color = sys.stdout.isatty() and not args.once
    previous: dict[int, int] = {}
    last = time.monotonic()
    try:
        while True:
            try:
                document = fetch(args.address)
            except (OSError, ValueError) as exc:
                print(f"usher top: cannot read stats from {args.address}: {exc}", file=sys.stderr)
                return 1
            now = time.monotonic()
            screen = render(document, previous, max(now - last, 1e-6), color=color)
            previous = {w["id"]: w["requests"] for w in document.get("workers", [])}
            last = now
            if args.once:
                sys.stdout.write(screen)
                return 0
            sys.stdout.write(_CLEAR + screen)
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
