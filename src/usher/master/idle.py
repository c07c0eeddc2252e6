"""`idle` with `die-on-idle`: the server stops by itself after a quiet period.

uWSGI's use of it is the emperor's on-demand vassals: a vassal nobody talks to exits, and the
emperor, which kept its socket, starts it again at the next connection. Activity is read from
the scoreboard once a second (a worker's request count changed, or a request is in progress),
so the request path pays nothing for it. Without die-on-idle uWSGI's idle stops workers
("cheap" mode), which usher leaves to cheaper.
"""

from __future__ import annotations


class IdleWatch:
    """Decides, from one reading per tick, when the server has been idle for `limit` seconds."""

    def __init__(self, limit: float, now: float) -> None:
        self.limit = limit
        self.last_activity = now
        self.last_reading: tuple[int, ...] = ()

    def idle_for_too_long(self, requests: tuple[int, ...], busy: bool, now: float) -> bool:
        """`requests` are the live workers' counters (any change is activity), `busy` whether a
        request is in progress."""
        if busy or requests != self.last_reading:
            self.last_activity = now
        self.last_reading = requests
        return now - self.last_activity >= self.limit
