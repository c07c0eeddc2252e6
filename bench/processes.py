"""Server processes: started in a session of their own, waited for, measured through /proc, stopped.

A session per server lets the harness find every process the server forked (master, workers,
helpers) without trusting pid files, and end exactly those.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Django imports and a uWSGI master forking its worker take well under this on the 2-core machine;
# a server that needs longer is broken, and the run moves on to the next one.
START_TIMEOUT = 60.0
# SIGINT asks each server for a quick exit; one that ignores it for this long is killed.
STOP_TIMEOUT = 10.0


class StartupError(Exception):
    """The server exited, or did not answer correctly, before the deadline."""


@dataclass
class ServerProcess:
    """A started server: its session leader and the file its output goes to."""

    label: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def session(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """Every live process of the server."""
        return session_pids(self.session)

    def worker_pids(self) -> list[int]:
        """The processes that serve: everything but the master, or the one process if alone."""
        others = [pid for pid in self.pids() if pid != self.session]
        return others or [self.session]

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise StartupError(f"{self.label} exited with status {code}:\n{self.log_tail()}")


def start(label: str, argv: list[str], environ: dict[str, str], log_path: Path) -> ServerProcess:
    """Start `argv` in a new session with its output in `log_path`."""
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ServerProcess(label, popen, log_path)


def stop(server: ServerProcess) -> None:
    """End every process of the server's session: SIGINT first, SIGKILL for what stays."""
    if server.popen.poll() is None:
        _signal_all(server.pids(), signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.popen.wait(STOP_TIMEOUT)
    # Workers can outlive a master that died first; they are still ours, found by session id.
    _signal_all(server.pids(), signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.popen.wait(STOP_TIMEOUT)


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def wait_for_notify(server: ServerProcess, sock: socket.socket, deadline: float) -> None:
    """Block until the server sends READY=1 on its notify socket."""
    while True:
        server.check_alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StartupError(f"{server.label} sent no READY=1:\n{server.log_tail()}")
        # Wake at least every half second to notice a server that died without notifying.
        readable, _, _ = select.select([sock], [], [], min(remaining, 0.5))
        if readable and b"READY=1" in sock.recv(4096).split(b"\n"):
            return


def wait_for_port(server: ServerProcess, port: int, deadline: float) -> None:
    """Block until 127.0.0.1:port accepts a connection.

    Peers offer no readiness signal, so this polls; each try is cheap and the loop is bounded.
    """
    while True:
        server.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise StartupError(
                    f"{server.label} never listened on {port}:\n{server.log_tail()}"
                ) from None
            time.sleep(0.05)


def probe(port: int, path: str, expect: bytes, deadline: float) -> None:
    """GET path once and require a 200 whose body contains `expect`, proving the app is served."""
    while True:
        remaining = max(deadline - time.monotonic(), 1.0)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=remaining)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            # A master can accept before its worker has imported the app; retry until the deadline.
            if time.monotonic() > deadline:
                raise StartupError(f"GET {path} on port {port} failed: {exc}") from None
            time.sleep(0.05)
            continue
        finally:
            connection.close()
        if response.status != 200 or expect not in body:
            raise StartupError(
                f"GET {path} on port {port} answered {response.status}: {body[:300]!r}"
            )
        return


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces; the fields after it are fixed.
    return text[text.rindex(")") + 2 :].split()


def session_pids(session: int) -> list[int]:
    """Live processes whose session id is `session`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[3]) == session:
                found.append(int(entry))
    return sorted(found)


def cpu_split_ticks(pids: list[int]) -> dict[int, tuple[int, int]]:
    """utime and stime of each process, in clock ticks."""
    ticks = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks[pid] = (int(fields[11]), int(fields[12]))
    return ticks


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """utime + stime of each process, in clock ticks."""
    return {pid: user + system for pid, (user, system) in cpu_split_ticks(pids).items()}


def cpu_seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU time spent between two cpu_ticks() readings; a process born in between counts whole."""
    spent = sum(count - before.get(pid, 0) for pid, count in after.items())
    return spent / CLOCK_TICKS


def cpu_split_between(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> tuple[float, float]:
    """User and system CPU seconds spent between two cpu_split_ticks() readings, counted as
    cpu_seconds_between() counts their sum."""
    user = {pid: ticks[0] for pid, ticks in before.items()}
    system = {pid: ticks[1] for pid, ticks in before.items()}
    return (
        cpu_seconds_between(user, {pid: ticks[0] for pid, ticks in after.items()}),
        cpu_seconds_between(system, {pid: ticks[1] for pid, ticks in after.items()}),
    )


def cpu_busy_seconds(cpu: int) -> float:
    """Time CPU `cpu` has run processes (user, nice, system) or lost to the hypervisor (steal).

    Interrupt and softirq time are left out: on loopback they are mostly the benchmark's own
    packets, which the kernel does not charge to any process.
    """
    for line in Path("/proc/stat").read_text().splitlines():
        name, *counts = line.split()
        if name == f"cpu{cpu}":
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, counts[:8])
            return (user + nice + system + steal) / CLOCK_TICKS
    raise ValueError(f"no cpu{cpu} in /proc/stat")


def rss_mib(pids: list[int]) -> float:
    """Sum of VmRSS of `pids`, in MiB."""
    return _sum_field(pids, "status", "VmRSS:")


def pss_mib(pids: list[int]) -> float:
    """Sum of the proportional set size of `pids`, in MiB: each page shared with the master or
    with other processes counts as its share, so this is what each worker really adds."""
    return _sum_field(pids, "smaps_rollup", "Pss:")


def _sum_field(pids: list[int], name: str, field: str) -> float:
    total_kib = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(field):
                total_kib += int(line.split()[1])
    return total_kib / 1024
