"""The front's figures of every worker, in memory the master and the workers share.

Each worker balances on its own (usher.front.pool), so each knows only its own share of a
server's requests. The master maps this area (anonymous, MAP_SHARED) before it forks, as it does
the scoreboard (usher.scoreboard); each worker claims a row and rewrites it on its tick, and any
process sums the live rows: the stats document (read in the master) and the status page (read in
the answering worker) then show the front's figures, not one worker's.

A row: the owner's pid and its server count, then one record per upstream server: its pool and
address, state, requests, failures, fails in the current window, active requests, idle
connections and latency. Bounded: `ROWS` processes (twice the workers, for those a reload
replaces while they finish) and `SERVERS` servers per row (the rest of a larger set is left out
of the figures, never of the balancing).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

HEAD: Final = struct.Struct("=2q")  # pid, records written
NAME_SIZE: Final = 120
RECORD: Final = struct.Struct(f"={NAME_SIZE}s7q")
# name ("pool address"), state, requests, failures, fails, active, idle, latency in µs
# Enough for the pools of a front; a subscription pool of more servers shows its first ones.
SERVERS: Final = 256
ROW_SIZE: Final = HEAD.size + SERVERS * RECORD.size
# The state words in order of gravity: summed over workers, a server shows the gravest any
# worker sees (one worker's ejection is news).
STATES: Final = ("up", "slow_start", "ejected", "unhealthy", "down")


@dataclass(slots=True)
class ServerFigures:
    """One upstream server's figures: a worker's, or their sum."""

    pool: str
    server: str
    state: str = "up"
    requests: int = 0
    failures: int = 0
    fails: int = 0
    active: int = 0
    idle: int = 0
    latency_us: int = 0  # a worker's moving average; summed, weighted by requests

    def add(self, other: ServerFigures) -> None:
        total = self.requests + other.requests
        if total:
            self.latency_us = (
                self.latency_us * self.requests + other.latency_us * other.requests
            ) // total
        self.requests = total
        self.failures += other.failures
        self.fails += other.fails
        self.active += other.active
        self.idle += other.idle
        if STATES.index(other.state) > STATES.index(self.state):
            self.state = other.state


class SharedFigures:
    """The area, made in the master before the fork; each worker writes its own row."""

    def __init__(self, workers: int) -> None:
        self.rows = max(2 * workers, 2)
        self.memory = mmap.mmap(-1, self.rows * ROW_SIZE)  # anonymous and MAP_SHARED
        # Taken only to claim a row (once per worker): two workers forked together must not
        # take the same free row. A semaphore made before the fork is shared by the workers.
        self.claiming = multiprocessing.get_context("fork").Lock()
        self.row: int | None = None
        self.pid = 0

    def claim(self) -> int | None:
        """This process's row: its own, else a free one (never written, or its owner gone)."""
        pid = os.getpid()
        if self.row is not None and self.pid == pid:
            return self.row
        with self.claiming:
            for index in range(self.rows):
                owner, _ = HEAD.unpack_from(self.memory, index * ROW_SIZE)
                if owner == pid or owner == 0 or not _alive(owner):
                    HEAD.pack_into(self.memory, index * ROW_SIZE, pid, 0)
                    self.row, self.pid = index, pid
                    return index
        return None

    def publish(self, servers: Iterable[ServerFigures]) -> None:
        """Rewrite this worker's row."""
        row = self.claim()
        if row is None:
            return  # more processes than rows: this one's figures are left out
        base = row * ROW_SIZE
        count = 0
        for item in servers:
            if count == SERVERS:
                break
            name = f"{item.pool} {item.server}".encode()[:NAME_SIZE]
            RECORD.pack_into(
                self.memory,
                base + HEAD.size + count * RECORD.size,
                name,
                STATES.index(item.state),
                item.requests,
                item.failures,
                item.fails,
                item.active,
                item.idle,
                item.latency_us,
            )
            count += 1
        HEAD.pack_into(self.memory, base, self.pid, count)

    def read(self) -> tuple[int, list[ServerFigures]]:
        """The number of live workers that wrote, and each server's sum over them, in the order
        the first of them lists them."""
        summed: dict[str, ServerFigures] = {}
        workers = 0
        for index in range(self.rows):
            base = index * ROW_SIZE
            pid, count = HEAD.unpack_from(self.memory, base)
            if pid == 0 or not _alive(pid):
                continue
            workers += 1
            for number in range(min(count, SERVERS)):
                raw = RECORD.unpack_from(self.memory, base + HEAD.size + number * RECORD.size)
                name = raw[0].rstrip(b"\0").decode(errors="replace")
                pool, _, server = name.partition(" ")
                item = ServerFigures(pool, server, STATES[raw[1]], *raw[2:])
                if name in summed:
                    summed[name].add(item)
                else:
                    summed[name] = item
        return workers, list(summed.values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def document(shared: SharedFigures) -> dict[str, object]:
    """The front's section of the stats document."""
    workers, servers = shared.read()
    return {
        "workers": workers,
        "upstreams": [
            {
                "pool": item.pool,
                "server": item.server,
                "state": item.state,
                "requests": item.requests,
                "failures": item.failures,
                "fails": item.fails,
                "active": item.active,
                "idle_connections": item.idle,
                "latency_ms": round(item.latency_us / 1000, 3),
            }
            for item in servers
        ],
    }
