"""Active health checks (Tengine's `check`): each worker probes each server of a checked pool.

Every `interval` all servers of the pool are probed at once, each within `timeout`: a TCP check
connects and closes; an HTTP check sends `GET uri HTTP/1.0` and reads the status line, which
passes when its class is in `check_http_expect_alive`. The verdicts go to the pool
(PoolState.checked), which applies rise and fall.
"""

from __future__ import annotations

import asyncio
import contextlib

from usher.front.model import Address, CheckType, HealthCheck
from usher.front.pool import PoolState


async def probe(address: Address, check: HealthCheck) -> bool:
    """Whether one check of the server at `address` passes."""
    try:
        return await asyncio.wait_for(_probe(address, check), check.timeout)
    except (OSError, TimeoutError, ValueError):
        return False


async def _probe(address: Address, check: HealthCheck) -> bool:
    if address.unix is not None:
        reader, writer = await asyncio.open_unix_connection(address.unix)
    else:
        reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        if check.type is CheckType.TCP:
            return True
        host = check.host or str(address)
        writer.write(
            f"GET {check.uri} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: usher-check\r\n\r\n".encode()
        )
        line = await reader.readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return False
        return f"{chr(parts[1][0])}xx" in check.expect_alive
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class Checker:
    """Runs the checks of every checked pool on a worker's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pools: list[PoolState]) -> None:
        self.loop = loop
        self.pools = [pool for pool in pools if pool.upstream.check is not None]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for pool in self.pools:
            self.tasks.append(self.loop.create_task(self.run(pool)))

    async def run(self, pool: PoolState) -> None:
        check = pool.upstream.check
        assert check is not None
        while True:
            await self.round(pool, check)
            await asyncio.sleep(check.interval)

    async def round(self, pool: PoolState, check: HealthCheck) -> None:
        """Probe every server of `pool` once, together."""
        servers = [health.peer.server for health in pool.health]
        verdicts = await asyncio.gather(*(probe(server.address, check) for server in servers))
        now = self.loop.time()
        for index, passed in enumerate(verdicts):
            pool.checked(index, passed, now)
