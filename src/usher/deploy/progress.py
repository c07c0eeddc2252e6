"""Output a person can follow: one line per step and host, a summary table, or JSON for CI.

On a terminal (a `Screen`), long steps also get a bar redrawn below the finished lines (see
`bars` for what a bar measures). Elsewhere (CI logs, pipes) every line is plain and final; a long
step adds a "still running" line every `heartbeat` seconds so that a CI log shows life.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from usher.deploy.bars import Screen, bar_line


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One finished step on one host."""

    host: str
    phase: str
    step: str
    status: str
    seconds: float
    detail: str = ""


class Progress:
    """Collects step records and writes lines through `write` (stdout in the CLI).

    With `as_json`, nothing is written until `finish`, which writes one JSON document. With a
    `screen`, lines go to it instead of `write`, and long steps are drawn as bars.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        as_json: bool = False,
        heartbeat: float = 30.0,
        screen: Screen | None = None,
    ) -> None:
        self._write = write
        self.as_json = as_json
        self._screen = None if as_json else screen
        # Seconds between updates of a long step: a bar is redrawn four times a second, a plain
        # "still running" line is written every 30 s (often enough for CI's no-output timeouts).
        self.heartbeat = 0.25 if self._screen else heartbeat
        self.records: list[StepRecord] = []
        self.notes: list[str] = []
        # The long steps running now, by (host, step): (phase, seconds so far, expected seconds).
        self._running: dict[tuple[str, str], tuple[str, float, float]] = {}

    def _emit(self, line: str) -> None:
        if self._screen is None:
            self._write(line)
        else:
            self._screen.show([line], self._bars())

    def _bars(self) -> list[str]:
        return [
            bar_line(host, phase, step, seconds, expected)
            for (host, step), (phase, seconds, expected) in self._running.items()
        ]

    def step(
        self, host: str, phase: str, step: str, status: str, seconds: float, detail: str = ""
    ) -> None:
        """A step ended on a host."""
        record = StepRecord(host, phase, step, status, round(seconds, 2), detail[:100])
        self.records.append(record)
        self._running.pop((host, step), None)
        if not self.as_json:
            mark = "ok  " if status == "ok" else "FAIL"
            tail = f"  {record.detail}" if record.detail else ""
            self._emit(f"{host:<22} {phase:<8} {step:<10} {mark} {seconds:6.1f}s{tail}")

    def running(
        self, host: str, phase: str, step: str, seconds: float, expected: float = 0.0
    ) -> None:
        """A long step still runs: its bar is redrawn, or a plain line says so."""
        if self.as_json:
            return
        if self._screen is None:
            self._write(f"{host:<22} {phase:<8} {step:<10} ...  {seconds:6.0f}s")
            return
        self._running[(host, step)] = (phase, seconds, expected)
        self._screen.show([], self._bars())

    def stop_running(self, host: str, step: str) -> None:
        """Remove a long step's bar (a no-op once `step` has recorded its end)."""
        if self._running.pop((host, step), None) is not None and self._screen is not None:
            self._screen.show([], self._bars())

    def report(self, host: str, text: str) -> None:
        """A failed step's whole output (check --deploy's report), indented under its host."""
        self.notes.extend(f"{host}: {line}" for line in text.splitlines() if line.strip())
        if not self.as_json:
            for line in text.splitlines():
                if line.strip():
                    self._emit(f"{host:<22} | {line}")

    def note(self, text: str) -> None:
        """A line that is not a step: a second failure, a lock taken, an undo."""
        self.notes.append(text)
        if not self.as_json:
            self._emit(text)

    def finish(self, outcome: str, error: str = "") -> None:
        """The summary: a table per host, or the JSON document."""
        if self.as_json:
            document = {
                "outcome": outcome,
                "error": error,
                "steps": [asdict(r) for r in self.records],
                "notes": self.notes,
            }
            self._write(json.dumps(document, indent=2))
            return
        if not self.records:
            self._emit(f"usher deploy: {outcome}")
            return
        hosts: dict[str, list[StepRecord]] = {}
        for record in self.records:
            hosts.setdefault(record.host, []).append(record)
        self._emit("")
        self._emit(f"{'host':<22} {'steps':>5} {'failed':>6} {'seconds':>8}")
        for host, records in hosts.items():
            failed = sum(record.status != "ok" for record in records)
            self._emit(
                f"{host:<22} {len(records):>5} {failed:>6} {sum(r.seconds for r in records):>8.1f}"
            )
        self._emit(f"usher deploy: {outcome}")
