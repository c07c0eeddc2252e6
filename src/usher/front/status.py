"""The front's status page: each upstream server's state and figures, as JSON or Prometheus text.

The figures are this worker's (each worker balances and checks on its own); `worker` in the JSON
says which one answered, and `all_workers` has each server's figures summed over every worker
(usher.front.shared), as the stats document's `front` section.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from usher.front.pool import PoolState
from usher.front.upstream import IdleConnections


def server_rows(
    pool: PoolState, idle: list[IdleConnections], now: float
) -> list[dict[str, object]]:
    """One dict per server of `pool`."""
    rows: list[dict[str, object]] = []
    for health, kept in zip(pool.health, idle, strict=True):
        peer = health.peer
        rows.append(
            {
                "server": str(peer.server.address),
                "state": health.state(now),
                "backup": peer.server.backup,
                "weight": peer.server.weight,
                "weight_now": pool.weight_now(health, now),
                "active": peer.active,
                "requests": health.requests,
                "fails": health.fails,
                "failures": health.failures,
                "last_failure": health.last_failure,
                "latency_ms": round(health.latency * 1000, 3),
                "idle_connections": len(kept.waiting),
                "check_passes": health.check_passes,
                "check_failures": health.check_failures,
            }
        )
    return rows


def render_status(
    pools: Mapping[str, PoolState],
    idle: Mapping[str, list[IdleConnections]],
    now: float,
    *,
    prometheus: bool = False,
    every: Mapping[str, object] | None = None,
) -> str:
    """The status page's text; `every` is the figures summed over the workers
    (usher.front.shared), shown as `all_workers` beside this worker's own."""
    if prometheus:
        return render_prometheus(pools, idle, now)
    document: dict[str, object] = {
        "worker": os.getpid(),
        "upstreams": {
            name: {"panics": pool.panics, "servers": server_rows(pool, idle[name], now)}
            for name, pool in pools.items()
        },
    }
    if every is not None:
        document["all_workers"] = every
    return json.dumps(document, indent=1) + "\n"


STATES = ("up", "slow_start", "ejected", "unhealthy", "down")
METRICS = (
    ("requests", "counter", "Attempts sent to the server."),
    ("failures", "counter", "Failed attempts (connect errors, timeouts, broken answers)."),
    ("active", "gauge", "Requests in flight on the server."),
    ("latency_ms", "gauge", "Moving average of the time to the response head, in ms."),
    ("idle_connections", "gauge", "Kept-alive connections waiting."),
)


def render_prometheus(
    pools: Mapping[str, PoolState], idle: Mapping[str, list[IdleConnections]], now: float
) -> str:
    """Prometheus' text format, one series per upstream server."""
    pid = os.getpid()
    lines: list[str] = []
    rows = {name: server_rows(pool, idle[name], now) for name, pool in pools.items()}
    for key, kind, text in METRICS:
        metric = f"usher_front_upstream_{key}"
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
        for name, servers in rows.items():
            for row in servers:
                labels = f'upstream="{name}",server="{row["server"]}",worker="{pid}"'
                lines.append(f"{metric}{{{labels}}} {row[key]}")
    metric = "usher_front_upstream_state"
    lines += [f"# HELP {metric} 1 for the server's current state.", f"# TYPE {metric} gauge"]
    for name, servers in rows.items():
        for row in servers:
            for state in STATES:
                labels = (
                    f'upstream="{name}",server="{row["server"]}",state="{state}",worker="{pid}"'
                )
                lines.append(f"{metric}{{{labels}}} {int(row['state'] == state)}")
    return "\n".join(lines) + "\n"
