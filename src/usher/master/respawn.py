"""The respawn plan: when a worker that exited is replaced, and the one log line that says why.

A decision, not an action: the master's loop forks the successor when the delay is over. The
back-off itself is usher.supervise.backoff, which an emperor shares.
"""

from __future__ import annotations

import os
import signal
import time

from usher.exits import EXIT_HARAKIRI, EXIT_MAX_REQUESTS
from usher.logs import write_line
from usher.master.slots import WorkerProcess, WorkerSlot
from usher.supervise.backoff import boot_failures, respawn_delay


def describe_status(status: int) -> str:
    """A wait status as a log reads it: "was killed by SIGKILL", "exited with status 1"."""
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    if os.WEXITSTATUS(status) == EXIT_HARAKIRI:
        return "ended itself after harakiri"
    return f"exited with status {os.WEXITSTATUS(status)}"


def plan_respawn(slot: WorkerSlot, proc: WorkerProcess, status: int, request_limit: int) -> float:
    """Seconds before the slot's next worker starts, after `proc` exited with `status`; logs the
    one line that says why (unless the master ended it and said so already)."""
    if proc.ended_for is not None:
        return 0.0
    where = f"usher: worker {slot.worker_id} (pid {proc.pid})"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_MAX_REQUESTS:
        write_line(f"{where} recycled after {request_limit} requests (max-requests); respawning")
        return 0.0
    lived = time.monotonic() - proc.spawned_at
    slot.boot_failures = boot_failures(slot.boot_failures, lived)
    delay = respawn_delay(slot.boot_failures)
    write_line(
        f"{where} {describe_status(status)} after {lived:.1f}s; "
        f"respawning{f' in {delay:.1f}s' if delay else ''}"
    )
    return delay
