"""wrk, pinned to its own CPU, and the figures read from its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

CONNECTIONS = 50
CLIENT_CPU = 1  # wrk's CPU, shared with nginx in the uwsgi_pass rows
# wrk stops itself after --duration; this margin covers its start and the report, not a hang.
WRK_GRACE = 30.0

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkError(Exception):
    """wrk failed or printed a report this module cannot read."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    mean_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers, failed connects, write errors and timeouts
    read_errors: int  # also counts a server closing the connection after each response

    @property
    def in_flight(self) -> float:
        """Requests in flight on average (Little's law: rate x mean latency).

        Close to the connection count when every connection was served; close to 1 when the server
        answered one connection at a time and left the others waiting.
        """
        return self.rps * self.mean_ms / 1000

    @property
    def summary(self) -> str:
        return (
            f"{self.rps:,.0f} req/s, p99 {self.p99_ms:.2f} ms, {self.in_flight:.1f} in flight, "
            f"{self.errors} errors"
        )


def wrk_command(url: str, duration: int) -> list[str]:
    """The wrk command line: one thread on CPU 1, 50 connections, latency percentiles."""
    return [
        "taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency",
        url,
    ]  # fmt: skip


def run_wrk(url: str, duration: int) -> WrkResult:
    """Load `url` for `duration` seconds and parse the report."""
    try:
        done = subprocess.run(
            wrk_command(url, duration),
            capture_output=True,
            text=True,
            timeout=duration + WRK_GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk did not finish within {duration + WRK_GRACE:.0f} s") from None
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def _duration_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(report: str) -> WrkResult:
    """Read requests, rate, p99 latency and error counts from wrk --latency output."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", report)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    mean = re.search(r"Latency\s+([\d.]+)(us|ms|s|m|h)", report)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)", report, re.MULTILINE)
    if total is None or rate is None or mean is None or p99 is None:
        raise WrkError(f"unreadable wrk report:\n{report}")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    connect = read = write = timeout = 0
    if socket_errors is not None:
        connect, read, write, timeout = (int(group) for group in socket_errors.groups())
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    non_2xx = int(bad_status.group(1)) if bad_status is not None else 0
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_duration_ms(total.group(2), total.group(3)) / 1000,
        rps=float(rate.group(1)),
        mean_ms=_duration_ms(mean.group(1), mean.group(2)),
        p99_ms=_duration_ms(p99.group(1), p99.group(2)),
        errors=non_2xx + connect + write + timeout,
        read_errors=read,
    )
