"""uWSGI's cron lines as data: `minute hour day month weekday command`, -1 for any value and
-N for every N, parsed once from the options (cron, unique-cron). usher.supervise.cron runs them."""

from __future__ import annotations

import time
from dataclasses import dataclass

# (name, lowest, highest) of each of the five fields, in line order.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))
ANY = -1


@dataclass(frozen=True, slots=True)
class CronJob:
    """One parsed cron line; `unique` jobs are skipped while their previous run is alive."""

    minute: int
    hour: int
    day: int
    month: int
    weekday: int
    command: str
    unique: bool = False

    def matches(self, moment: time.struct_time) -> bool:
        """Whether the job is due in the minute of `moment` (local time)."""
        weekday = (moment.tm_wday + 1) % 7  # struct_time counts from Monday, cron from Sunday
        if not (
            _field_matches(self.minute, moment.tm_min)
            and _field_matches(self.hour, moment.tm_hour)
            and _field_matches(self.month, moment.tm_mon)
        ):
            return False
        day_ok = _field_matches(self.day, moment.tm_mday)
        week_ok = _field_matches(self.weekday % 7 if self.weekday >= 0 else self.weekday, weekday)
        if self.day != ANY and self.weekday != ANY:
            return day_ok or week_ok
        return day_ok and week_ok


def _field_matches(wanted: int, value: int) -> bool:
    if wanted == ANY:
        return True
    if wanted < 0:
        return value % -wanted == 0
    return wanted == value


def parse_cron(line: str, *, unique: bool = False) -> CronJob:
    """A `CronJob` from `minute hour day month weekday command`; ValueError says what is wrong."""
    parts = line.split(None, 5)
    if len(parts) < 6 or not parts[5].strip():
        raise ValueError(
            f"{line!r} is not a cron line: write minute hour day month weekday command, "
            "with -1 for any value"
        )
    numbers = [_parse_field(text, *spec) for text, spec in zip(parts[:5], FIELDS, strict=True)]
    minute, hour, day, month, weekday = numbers
    return CronJob(minute, hour, day, month, weekday, parts[5].strip(), unique)


def _parse_field(text: str, name: str, lowest: int, highest: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(
            f"cron {name} {text!r} is not a number (usher reads uWSGI's form: -1 for any, "
            "-N for every N)"
        ) from None
    if number < 0:
        if number == ANY or -number <= highest:
            return number
        raise ValueError(f"cron {name} {number}: every {-number} is more than {highest}")
    if not lowest <= number <= highest:
        raise ValueError(f"cron {name} {number} is outside {lowest}..{highest}")
    return number
