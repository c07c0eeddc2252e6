"""Output a person can follow: one line per step and host, a summary table, or JSON for CI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass


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

    With `as_json`, nothing is written until `finish`, which writes one JSON document.
    """

    def __init__(
        self, write: Callable[[str], None], as_json: bool = False, heartbeat: float = 10.0
    ) -> None:
        self._write = write
        self.as_json = as_json
        # Seconds between the "still running" lines of a long step.
        self.heartbeat = heartbeat
        self.records: list[StepRecord] = []
        self.notes: list[str] = []

    def step(
        self, host: str, phase: str, step: str, status: str, seconds: float, detail: str = ""
    ) -> None:
        """A step ended on a host."""
        record = StepRecord(host, phase, step, status, round(seconds, 2), detail[:100])
        self.records.append(record)
        if not self.as_json:
            mark = "ok  " if status == "ok" else "FAIL"
            tail = f"  {record.detail}" if record.detail else ""
            self._write(f"{host:<22} {phase:<8} {step:<10} {mark} {seconds:6.1f}s{tail}")

    def running(self, host: str, phase: str, step: str, seconds: float) -> None:
        """A step still runs: a line every few seconds, so a long pip install shows life."""
        if not self.as_json:
            self._write(f"{host:<22} {phase:<8} {step:<10} ...  {seconds:6.0f}s")

    def report(self, host: str, text: str) -> None:
        """A failed step's whole output (check --deploy's report), indented under its host."""
        self.notes.extend(f"{host}: {line}" for line in text.splitlines() if line.strip())
        if not self.as_json:
            for line in text.splitlines():
                if line.strip():
                    self._write(f"{host:<22} | {line}")

    def note(self, text: str) -> None:
        """A line that is not a step: a second failure, a lock taken, an undo."""
        self.notes.append(text)
        if not self.as_json:
            self._write(text)

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
            self._write(f"usher deploy: {outcome}")
            return
        hosts: dict[str, list[StepRecord]] = {}
        for record in self.records:
            hosts.setdefault(record.host, []).append(record)
        self._write("")
        self._write(f"{'host':<22} {'steps':>5} {'failed':>6} {'seconds':>8}")
        for host, records in hosts.items():
            failed = sum(record.status != "ok" for record in records)
            self._write(
                f"{host:<22} {len(records):>5} {failed:>6} {sum(r.seconds for r in records):>8.1f}"
            )
        self._write(f"usher deploy: {outcome}")
