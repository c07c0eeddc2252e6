"""The cheaper subsystem's spare algorithm: how many workers to run, from how many are idle.

Checked once a second. When no running worker is idle, the server is overloaded; after
`cheaper-overload` such checks in a row, `cheaper-step` more workers start (never past
`processes`). When two or more are idle for as many checks in a row, one worker stops (never
below `cheaper`). One idle worker is the balance the algorithm aims for, so it changes nothing and
resets both counts, which keeps the worker count from flapping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Spare:
    """The decision state: how many checks in a row found overload, or spare workers."""

    minimum: int
    maximum: int
    step: int
    patience: int  # cheaper-overload
    overloaded: int = 0
    spare: int = 0

    def decide(self, running: int, idle: int) -> int:
        """Workers to start (> 0) or stop (< 0) now, given `running` workers of which `idle`."""
        if idle == 0:
            self.overloaded += 1
            self.spare = 0
            if self.overloaded >= self.patience and running < self.maximum:
                self.overloaded = 0
                return min(self.step, self.maximum - running)
        elif idle >= 2:
            self.spare += 1
            self.overloaded = 0
            if self.spare >= self.patience and running > self.minimum:
                self.spare = 0
                return -1
        else:
            self.overloaded = self.spare = 0
        return 0
