"""uWSGI's cron lines: parsing, matching a moment, and deciding which jobs are due.

A line (parsed by usher.options.cronspec) is five numbers and a command: `minute hour day month weekday command`. As in uWSGI, -1
matches any value, a negative -N matches every N-th value (the value is a multiple of N: minute
-5 is :00, :05, ...), and any other number matches only itself. Weekday 0 is Sunday (7 is also
read as Sunday, as cron does). When both day and weekday are restricted, either one matching is
enough: the rule of cron(8), which uWSGI follows.

Pure: no clock and no processes. `CronTable.due` is given the time and answers which jobs to run;
the master's sidecars run them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from usher.options.cronspec import CronJob


@dataclass
class CronTable:
    """The jobs, and the last minute each one ran in: a job runs at most once per minute, however
    often the master looks."""

    jobs: list[CronJob]
    last_run: dict[int, int] = field(default_factory=dict)  # job index -> minute number

    def due(self, now: float) -> list[tuple[int, CronJob]]:
        """The (index, job) pairs to run at the wall-clock time `now` (seconds since the epoch),
        each marked as run for this minute."""
        minute = int(now // 60)
        moment = time.localtime(now)
        ready = []
        for index, job in enumerate(self.jobs):
            if self.last_run.get(index) != minute and job.matches(moment):
                self.last_run[index] = minute
                ready.append((index, job))
        return ready
