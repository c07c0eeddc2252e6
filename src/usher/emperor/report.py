"""What the vassals say, and what the emperor says about them: notices in, systemd out.

A vassal's notices (usher.emperor.notify) set its readiness and its status line; the emperor's
own READY=1 waits until every vassal it started is ready, throttled or waiting for a first
connection, so units ordered after it start when the apps serve; then STATUS= follows the
vassals' states.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Mapping

from usher.emperor.notify import Notice
from usher.emperor.stats import state
from usher.emperor.vassal import Vassal
from usher.logs import write_line
from usher.supervise import systemd


def apply_notice(notice: Notice, running: Mapping[int, Vassal]) -> None:
    """Note what one message says about the vassal that sent it (others are ignored)."""
    vassal = running.get(notice.pid)
    if vassal is None:  # sent by one of its workers: it names its master
        with contextlib.suppress(ValueError):
            vassal = running.get(int(notice.fields.get("MAINPID", "0")))
    if vassal is None:
        return
    fields = notice.fields
    if fields.get("READY") == "1":
        vassal.ready, vassal.ready_at = True, time.time()
    if fields.get("RELOADING") == "1" or fields.get("STOPPING") == "1":
        vassal.ready = False
    if "STATUS" in fields:
        vassal.status = fields["STATUS"]


def summary(vassals: Collection[Vassal]) -> str:
    """One line for STATUS=: how many vassals in each state, and which are throttled."""
    counts: dict[str, int] = {}
    for vassal in vassals:
        word = state(vassal)
        counts[word] = counts.get(word, 0) + 1
    parts = ", ".join(f"{count} {word}" for word, count in sorted(counts.items()))
    throttled = sorted(vassal.name for vassal in vassals if vassal.respawn_at is not None)
    tail = f" (throttled: {' '.join(throttled)})" if throttled else ""
    return f"{len(vassals)} vassal(s): {parts or 'none'}{tail}"


class SystemdReport:
    """READY=1 once, then a STATUS= whenever the summary changes."""

    def __init__(self) -> None:
        self.ready_sent = False
        self.announced = ""

    def announce(self, vassals: Collection[Vassal]) -> None:
        text = summary(vassals)
        if not self.ready_sent:
            if all(vassal.ready or not vassal.running for vassal in vassals):
                self.ready_sent = True
                self.announced = text
                systemd.ready(text)
                write_line(f"usher emperor: ready: {text}")
            return
        if text != self.announced:
            self.announced = text
            # Never blocking: a manager that reads slowly must not stall the supervision, and
            # the next STATUS= replaces a dropped one.
            systemd.status(text, wait=False)
