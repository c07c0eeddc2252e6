"""The master's worker pool, where it can be driven without forking a worker: which slots start,
readiness records, deadlines, and retiring and killing a real child process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from usher.master.pool import WorkerPool
from usher.master.slots import WorkerProcess
from usher.options import load_settings
from usher.worker.process import READY_RECORD


def make_pool(*argv: str) -> WorkerPool:
    settings = load_settings(["--http-socket", ":0", *argv], {}).settings
    return WorkerPool(settings, None, [], in_child=lambda: None)


def adopt(pool: WorkerPool, pid: int, worker_id: int) -> WorkerProcess:
    """Put a process into a slot as if the pool had forked it."""
    proc = WorkerProcess(pid, worker_id, None, time.monotonic(), time.time())
    pool.procs[pid] = proc
    pool.slots[worker_id].current = proc
    return proc


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "30"])
    yield process
    process.kill()
    process.wait()


def test_cheaper_starts_cheaper_initial_workers_and_marks_the_rest_cheap() -> None:
    pool = make_pool("--processes", "4", "--cheaper", "1", "--cheaper-initial", "2")
    assert [slot.worker_id for slot in pool.initial_slots()] == [1, 2]
    assert [slot.cheap for slot in pool.slots.values()] == [False, False, True, True]
    assert [slot.worker_id for slot in pool.serving_slots()] == [1, 2]


def test_readiness_records_mark_their_workers_and_strangers_are_ignored() -> None:
    pool = make_pool("--processes", "2")
    one, two = adopt(pool, 101, 1), adopt(pool, 102, 2)
    records = READY_RECORD.pack(1, 101) + READY_RECORD.pack(2, 999) + READY_RECORD.pack(1, 102)
    os.write(pool.ready_w, records)
    assert pool.read_ready() == [one]
    assert (one.ready, two.ready, pool.all_ready()) == (True, False, False)
    os.write(pool.ready_w, READY_RECORD.pack(2, 102))
    assert pool.read_ready() == [two]
    assert pool.all_ready()
    assert pool.status_text() == "serving with 2 workers"


def test_the_next_deadline_is_the_earliest_respawn_kill_or_drain() -> None:
    pool = make_pool("--processes", "2")
    assert pool.next_deadline() is None
    pool.slots[2].respawn_at = 50.0
    adopt(pool, 101, 1).kill_at = 40.0
    assert pool.next_deadline() == 40.0
    pool.drain_deadline = 30.0
    assert pool.next_deadline() == 30.0


def test_a_respawn_due_for_a_slot_made_cheap_is_dropped() -> None:
    pool = make_pool("--processes", "2")
    pool.slots[2].cheap = True
    pool.slots[2].respawn_at = 1.0
    pool.respawn_due(now=2.0)
    assert pool.slots[2].respawn_at is None
    assert pool.procs == {}


def test_retiring_asks_with_sigterm_and_the_deadline_kills(child: subprocess.Popen[bytes]) -> None:
    pool = make_pool("--processes", "1")
    # SIGTERM would end `sleep` at once: hold it, so that only the deadline's SIGKILL can.
    os.kill(child.pid, signal.SIGSTOP)
    # Until it has stopped, a SIGTERM sent now could still be taken first (a lower number).
    os.waitpid(child.pid, os.WUNTRACED)
    proc = adopt(pool, child.pid, 1)
    pool.retire(proc)
    assert proc.retiring and pool.slots[1].current is None
    assert proc.kill_at is not None and proc.kill_at > time.monotonic()
    pool.enforce_deadlines(proc.kill_at)
    assert proc.kill_at is None
    assert child.wait(timeout=10) == -signal.SIGKILL


def test_a_drain_signals_every_worker_and_kills_them_when_it_expires(
    child: subprocess.Popen[bytes],
) -> None:
    pool = make_pool("--processes", "1")
    adopt(pool, child.pid, 1)
    pool.drain(signal.SIGSTOP)
    assert pool.drain_deadline is not None
    pool.enforce_deadlines(pool.drain_deadline)
    assert pool.drain_deadline is None
    assert child.wait(timeout=10) == -signal.SIGKILL


def test_a_retired_successor_leaves_its_slot(child: subprocess.Popen[bytes]) -> None:
    pool = make_pool("--processes", "1")
    current = adopt(pool, 101, 1)
    successor = WorkerProcess(child.pid, 1, None, time.monotonic(), time.time())
    pool.procs[child.pid] = pool.slots[1].successor = successor
    pool.retire(successor, brutal=True)
    assert (pool.slots[1].current, pool.slots[1].successor) == (current, None)
    assert child.wait(timeout=10) == -signal.SIGKILL


def test_ending_a_worker_says_why_and_kills_it_after_the_grace(
    child: subprocess.Popen[bytes],
) -> None:
    pool = make_pool("--processes", "1")
    proc = adopt(pool, child.pid, 1)
    pool.end(proc, signal.SIGSTOP, "harakiri", grace=5.0)
    assert proc.ended_for == "harakiri"
    assert proc.kill_at is not None
    pool.enforce_deadlines(proc.kill_at)
    assert child.wait(timeout=10) == -signal.SIGKILL


def test_signalling_a_worker_that_is_gone_is_not_an_error() -> None:
    pool = make_pool("--processes", "1")
    # Past pid_max no process can exist (a reaped child's pid could already be someone else's).
    with open("/proc/sys/kernel/pid_max") as handle:
        gone = int(handle.read()) + 1
    adopt(pool, gone, 1)
    pool.signal_all(signal.SIGTERM)
