"""The stats document, in the JSON layout of uWSGI's stats server, which uwsgitop and exporters read.

Times follow uWSGI's units: running_time and avg_rt in microseconds, last_spawn and request_start
in unix seconds. Keys uWSGI reports for features usher does not have (signals, locks, offloading)
are present with zeros, so that readers written for uWSGI find every key they expect.
"""

from __future__ import annotations

import json
from typing import Any

from usher.ops.figures import CoreFigures, ServerFigures, SocketFigures, WorkerFigures


def render_json(figures: ServerFigures) -> bytes:
    """The document as sent on the stats socket."""
    return json.dumps(document(figures), separators=(",", ":")).encode()


def render_http(body: bytes, content_type: str = "application/json") -> bytes:
    """An HTTP/1.0 response carrying `body` (stats-http and the Prometheus page)."""
    head = (
        "HTTP/1.0 200 OK\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def document(figures: ServerFigures) -> dict[str, Any]:
    """The document as a dict."""
    doc: dict[str, Any] = {
        "version": figures.version,
        "listen_queue": figures.listen_queue,
        "listen_queue_errors": figures.listen_queue_errors,
        "signal_queue": 0,
        "load": figures.listen_queue,
        "pid": figures.pid,
        "uid": figures.uid,
        "gid": figures.gid,
        "cwd": figures.cwd,
        "locks": [],
        "sockets": [_socket(item) for item in figures.sockets],
        "workers": [_worker(item) for item in figures.workers],
        # usher's own: the last reload abandoned because the new code did not import (0 and ""
        # when none failed since the master started).
        "last_reload_failed": figures.reload_failed_at,
        "last_reload_error": figures.reload_error,
    }
    doc.update(figures.sections)
    return doc


def _socket(item: SocketFigures) -> dict[str, Any]:
    return {
        "name": item.name,
        "proto": item.proto,
        "queue": item.queue,
        "max_queue": item.max_queue,
        "shared": 0,
        "can_offload": 0,
    }


def _worker(item: WorkerFigures) -> dict[str, Any]:
    return {
        "id": item.id,
        "pid": item.pid,
        "accepting": int(item.accepting),
        "requests": item.requests,
        "delta_requests": item.delta_requests,
        "exceptions": item.exceptions,
        "harakiri_count": item.harakiri_count,
        "signals": 0,
        "signal_queue": 0,
        "status": item.status,
        "rss": item.rss,
        "vsz": item.vsz,
        "running_time": item.running_time_us,
        "last_spawn": item.last_spawn,
        "respawn_count": item.respawn_count,
        "tx": item.tx,
        "avg_rt": item.avg_rt_us,
        "apps": [_app(item)],
        "cores": [_core(core) for core in item.cores],
    }


def _app(item: WorkerFigures) -> dict[str, Any]:
    return {
        "id": 0,
        "modifier1": 0,
        "mountpoint": "",
        "startup_time": 0,
        "requests": item.requests,
        "exceptions": item.exceptions,
        "chdir": "",
    }


def _core(core: CoreFigures) -> dict[str, Any]:
    request_vars = []
    if core.in_request and core.method:
        request_vars = [
            f"REQUEST_METHOD={core.method}",
            f"REQUEST_URI={core.uri}",
            f"REMOTE_ADDR={core.client}",
        ]
    return {
        "id": core.id,
        "requests": core.requests,
        "static_requests": 0,
        "routed_requests": 0,
        "offloaded_requests": 0,
        "write_errors": 0,
        "read_errors": 0,
        "in_request": int(core.in_request),
        "vars": request_vars,
        "req_info": {"request_start": core.request_start} if core.in_request else {},
    }
