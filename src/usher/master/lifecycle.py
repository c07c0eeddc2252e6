"""Where the master is in its life: one `Phase`, changed only by the transitions below.

| phase | entered by | left by |
| --- | --- | --- |
| STARTING | the master's start | every worker ready -> SERVING; re-exec -> REEXECUTING; stop -> STOPPING |
| SERVING | every worker ready | worker reload -> RELOADING; re-exec -> REEXECUTING; stop -> STOPPING |
| RELOADING | a worker reload: every worker replaced from this master | every worker ready -> SERVING; re-exec -> REEXECUTING; stop -> STOPPING |
| REEXECUTING | a re-exec: the workers leave, then the master execs itself | stop -> STOPPING (or the exec) |
| STOPPING | a stop | a forced stop again (it escalates); the master exits once its workers are gone |

- a stop: SIGTERM, SIGINT, FIFO `q` (graceful); SIGQUIT, FIFO `Q`, an app that cannot load (forced);
- a re-exec: SIGHUP, FIFO `r`/`R` or touch-reload, without lazy-apps;
- a worker reload: the same with lazy-apps, or FIFO `w`/`W` (a chain reload changes no phase).

In REEXECUTING and STOPPING the master is winding down: its workers leave and none is respawned,
reloaded, added or recycled (a harakiri or an evil-reload-on-rss kill still applies). A reload of the workers during STARTING stays STARTING: the readiness
it waits for is still the first one, and the log says "ready" (not "reload complete") when it comes.

The lifecycle only decides; the commands act (signal the workers, log, notify systemd) once a
transition was accepted.
"""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    """The master's phase."""

    STARTING = "starting"
    SERVING = "serving"
    RELOADING = "reloading"
    REEXECUTING = "re-executing"
    STOPPING = "stopping"


# The phases that wait for every worker to report ready, and end when they have.
AWAITING_READY = frozenset({Phase.STARTING, Phase.RELOADING})
WINDING_DOWN = frozenset({Phase.REEXECUTING, Phase.STOPPING})


class Lifecycle:
    """The phase, and the exit status a stop chose."""

    def __init__(self) -> None:
        self.phase = Phase.STARTING
        self.exit_status = 0

    @property
    def awaiting_ready(self) -> bool:
        """The master waits for every worker to report ready (at startup, or after a reload)."""
        return self.phase in AWAITING_READY

    @property
    def winding_down(self) -> bool:
        """The master stops or re-executes: workers leave, and none is replaced or added."""
        return self.phase in WINDING_DOWN

    def request_stop(self, status: int, *, graceful: bool) -> bool:
        """Enter STOPPING with `status`. A graceful stop while stopping is refused (False); a
        forced one is accepted again, so that SIGQUIT can cut a graceful stop short."""
        if self.phase is Phase.STOPPING and graceful:
            return False
        self.phase = Phase.STOPPING
        self.exit_status = status
        return True

    def request_reexec(self) -> bool:
        """Enter REEXECUTING; refused (False) while winding down."""
        if self.winding_down:
            return False
        self.phase = Phase.REEXECUTING
        return True

    def begin_worker_reload(self) -> bool:
        """Every worker is being replaced from this master; refused (False) while winding down."""
        if self.winding_down:
            return False
        if self.phase is Phase.SERVING:
            self.phase = Phase.RELOADING
        return True

    def workers_ready(self) -> Phase | None:
        """Every worker reported ready: back to SERVING. Returns the phase that ended (STARTING
        or RELOADING), or None when the master was not waiting for readiness."""
        ended = self.phase
        if not self.awaiting_ready:
            return None
        self.phase = Phase.SERVING
        return ended
