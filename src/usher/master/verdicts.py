"""The limits' verdicts: the master's once-a-second judgement of each worker against harakiri,
reload-on-rss, evil-reload-on-rss, reload-on-as and max-worker-lifetime.

Pure decisions from figures (a scoreboard row with the memory read from /proc, the process's age);
the master's commands carry them out and log one line for each. Not to be confused with
`usher.protocols.Limits`, the codecs' bounds on what a client may send.
"""

from __future__ import annotations

from dataclasses import dataclass

from usher.options import Settings
from usher.scoreboard import RowView
from usher.worker.board import FLUSH_INTERVAL

# A reporter thread late by this much is not yet a stuck worker: it runs once a second and may wait
# for the interpreter while the app computes in Python.
STALE_SLACK_NS = 2 * int(FLUSH_INTERVAL * 1e9)
_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a worker, and the sentence the log says why."""

    action: str  # "harakiri", "kill" (SIGKILL now) or "recycle" (graceful, successor at once)
    reason: str


def judge(settings: Settings, row: RowView, age: float, now_ns: int) -> Verdict | None:
    """The verdict on one worker, or None to leave it alone."""
    if settings.harakiri:
        verdict = _harakiri(settings.harakiri * 1_000_000_000, row, now_ns)
        if verdict is not None:
            return verdict
    rss_mb = row.rss / _MB
    if settings.evil_reload_on_rss and rss_mb > settings.evil_reload_on_rss:
        return Verdict(
            "kill", f"rss {rss_mb:.0f} MB > evil-reload-on-rss {settings.evil_reload_on_rss} MB"
        )
    if settings.reload_on_rss and rss_mb > settings.reload_on_rss:
        if age < settings.min_worker_lifetime:
            return None  # recycled once it has lived min-worker-lifetime
        return Verdict(
            "recycle", f"rss {rss_mb:.0f} MB > reload-on-rss {settings.reload_on_rss} MB"
        )
    vsz_mb = row.vsz / _MB
    if settings.reload_on_as and vsz_mb > settings.reload_on_as:
        if age < settings.min_worker_lifetime:
            return None
        return Verdict(
            "recycle", f"address space {vsz_mb:.0f} MB > reload-on-as {settings.reload_on_as} MB"
        )
    lifetime = worker_lifetime(settings, row.worker_id)
    if lifetime and age > lifetime:
        return Verdict("recycle", f"it has run {age:.0f}s, max-worker-lifetime {lifetime}s")
    return None


def worker_lifetime(settings: Settings, worker_id: int) -> int:
    """max-worker-lifetime for one worker, spread by worker id x max-worker-lifetime-delta as in
    uWSGI, so that workers started together are not all recycled in the same second; 0: none."""
    if not settings.max_worker_lifetime:
        return 0
    return settings.max_worker_lifetime + worker_id * settings.max_worker_lifetime_delta


def _harakiri(limit_ns: int, row: RowView, now_ns: int) -> Verdict | None:
    started = row.oldest_start()
    # The worker's reporter saw the request still running past the limit: the ordinary case.
    if started and row.flushed_ns - started > limit_ns:
        return Verdict("harakiri", _request_text(row, started, now_ns))
    # The reporter itself has not run for longer than the limit: the app holds the interpreter
    # inside C code, so no Python thread of the worker can run. Something has run that long.
    stale = now_ns - row.flushed_ns
    if row.flushed_ns and stale > limit_ns + STALE_SLACK_NS:
        what = _request_text(row, started, now_ns) if started else "a request"
        return Verdict(
            "harakiri",
            f"{what}; its Python threads have not run for {stale / 1e9:.1f}s "
            "(stuck in C code that holds the interpreter)",
        )
    return None


def _request_text(row: RowView, started: int, now_ns: int) -> str:
    core = next(core for core in row.cores if core.started_ns == started)
    elapsed = (now_ns - started) / 1e9
    if not core.method:
        return f"a request running for {elapsed:.1f}s (its details were not yet recorded)"
    return f"{core.method} {core.uri} from {core.client} running for {elapsed:.1f}s"
