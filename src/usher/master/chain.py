"""Chain reload: replace the workers one at a time, each only after its successor is ready.

The successor is forked while the old worker still serves; only when the successor's readiness
record arrives is the old worker told to finish its requests and leave, and the next worker id
follows. At every moment at least `processes - 1` workers accept connections, and a successor
that cannot start (new code that fails to import) stops the chain with the old workers still
serving: a broken deploy degrades nothing.

Successors import the code anew only with `lazy-apps`; without it they are forks of the master and
run the code it imported at startup (a chain reload then refreshes processes, not code).
"""

from __future__ import annotations

from collections import deque

from usher.logs import write_line
from usher.master.lifecycle import Lifecycle
from usher.master.pool import WorkerPool
from usher.master.slots import WorkerSlot
from usher.options import Settings
from usher.supervise import systemd


class ChainReload:
    """The chain in progress, if any: the worker ids still to replace and the one being replaced."""

    def __init__(self, settings: Settings, pool: WorkerPool, lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.pool = pool
        self.lifecycle = lifecycle
        self.queue: deque[int] = deque()
        self.slot: WorkerSlot | None = None
        self.replaced = 0

    @property
    def active(self) -> bool:
        return self.slot is not None

    def start(self, why: str) -> None:
        """Begin replacing every serving worker, one at a time (not while a chain is running or
        the master winds down)."""
        if self.active or self.lifecycle.winding_down:
            write_line(f"usher: {why}: chain reload not started (a reload or stop is in progress)")
            return
        self.queue = deque(
            slot.worker_id for slot in self.pool.serving_slots() if slot.current is not None
        )
        self.replaced = 0
        code = "" if self.settings.lazy_apps else " (without lazy-apps the code is not re-imported)"
        write_line(f"usher: {why}: chain reload of {len(self.queue)} worker(s){code}")
        systemd.reloading("chain reload")
        self._next()

    def _next(self) -> None:
        pool = self.pool
        while self.queue:
            slot = pool.slots[self.queue.popleft()]
            if slot.current is not None and not slot.cheap:
                self.slot = slot
                pool.spawn_successor(slot)
                return
        self.slot = None
        write_line(f"usher: chain reload complete: {self.replaced} worker(s) replaced")
        systemd.ready(pool.status_text())

    def successor_ready(self, slot: WorkerSlot) -> None:
        """The successor reported ready: the old worker may leave, and the chain moves on."""
        old, new = slot.current, slot.successor
        assert new is not None
        slot.current, slot.successor = new, None
        if old is not None:
            self.pool.retire(old)
        self.replaced += 1
        write_line(
            f"usher: chain reload: worker {slot.worker_id} replaced (pid {old.pid if old else 0} "
            f"-> {new.pid})"
        )
        systemd.status(f"chain reload: {self.replaced} worker(s) replaced")
        self._next()

    def successor_failed(self, slot: WorkerSlot, how: str) -> None:
        """The successor died before it was ready: stop, and keep the old workers serving."""
        self.queue.clear()
        self.slot = None
        write_line(
            f"usher: chain reload stopped: the new worker {slot.worker_id} {how} before it was "
            f"ready; {self.replaced} worker(s) were replaced, the others keep serving"
        )
        systemd.ready(self.pool.status_text())

    def abort(self) -> None:
        """The server stops or reloads whole: forget the chain."""
        self.queue.clear()
        self.slot = None
