"""The ASGI lifespan protocol: an app's startup before its worker serves, its shutdown after.

Each worker runs each of its ASGI apps' lifespans on its own loop (connection pools an app opens at
startup belong to that loop). The worker reports ready to the master only once every startup has
completed; a startup that fails ends the worker with the app's message, and the master, which has
never seen the server ready, stops the boot. Shutdown runs once the worker stopped serving (a
graceful stop, a reload, max-requests), bounded in time.

`asgi-lifespan` says what to do with apps that do not take part:

- `on`: the app must complete startup; anything else is a failure;
- `off`: no lifespan scope is sent;
- `auto` (the default): an app that raises, or returns, before it has asked for the startup
  message (Django's ASGIHandler raises at once on a scope it does not serve) does not support the
  protocol, and is served without it. Once the app has received `lifespan.startup`, it speaks the
  protocol, and an exception is a failed startup, as `lifespan.startup.failed` is.

The scope's `state` is kept by the handler: each request's scope gets a shallow copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from usher.adapters.asgi import AsgiApp, Message

MODES = ("auto", "on", "off")

# How long a startup may take before the worker gives up on it. The master waits for readiness
# without a bound of its own, so a startup hung on an unreachable database would hang the boot;
# 60 s is hypercorn's startup timeout, above what opening pools and warming caches takes.
STARTUP_TIMEOUT = 60.0

Log = Callable[[str], None]


class LifespanFailed(Exception):
    """An app's lifespan startup failed; str() is one line with the app's reason."""


class Lifespan:
    """One ASGI app's lifespan conversation, driven by the worker."""

    def __init__(self, app: AsgiApp, name: str, mode: str, log: Log) -> None:
        self.app = app
        self.name = name
        self.mode = mode
        self.log = log
        self.state: dict[str, Any] = {}
        self.supported = mode != "off"
        self._asked = False  # the app awaited receive() at least once
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._startup: asyncio.Future[str | None] | None = None  # None, or the failure message
        self._shutdown: asyncio.Future[str | None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Send `lifespan.startup` and wait for the app's answer; raise LifespanFailed."""
        if not self.supported:
            return
        loop = asyncio.get_running_loop()
        self._startup = loop.create_future()
        self._task = loop.create_task(self._run())
        self._inbox.put_nowait({"type": "lifespan.startup"})
        try:
            failure = await asyncio.wait_for(asyncio.shield(self._startup), timeout)
        except TimeoutError:
            message = f"{self.name}: lifespan startup did not complete in {timeout:g} s"
            raise LifespanFailed(message) from None
        if failure is not None:
            raise LifespanFailed(f"{self.name}: lifespan startup failed: {failure}")

    async def shutdown(self, timeout: float) -> None:
        """Send `lifespan.shutdown` and wait for the app's answer (at most `timeout` s)."""
        task = self._task
        if not self.supported or task is None or task.done():
            return
        self._shutdown = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            failure = await asyncio.wait_for(asyncio.shield(self._shutdown), timeout)
        except TimeoutError:
            failure = f"did not complete in {timeout:g} s"
        if failure is not None:
            self.log(f"{self.name}: lifespan shutdown failed: {failure}")
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            self._ended(f"{type(exc).__name__}: {exc}")
            return
        self._ended(None)

    def _ended(self, error: str | None) -> None:
        """The app's lifespan call returned (error None) or raised."""
        startup = self._startup
        if startup is not None and not startup.done():
            if not self._asked and self.mode == "auto":
                # Never asked for the startup message: the app does not speak the protocol.
                self.supported = False
                self.log(f"{self.name}: the app does not support the ASGI lifespan protocol")
                startup.set_result(None)
                return
            startup.set_result(error or "the app returned before completing startup")
            return
        shutdown = self._shutdown
        if shutdown is not None and not shutdown.done():
            shutdown.set_result(error)
        elif error is not None:
            self.log(f"{self.name}: the lifespan task raised {error}")

    async def _receive(self) -> Message:
        self._asked = True
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        reason = str(message.get("message") or "no message given")
        if kind == "lifespan.startup.complete":
            _settle(self._startup, None)
        elif kind == "lifespan.startup.failed":
            _settle(self._startup, reason)
        elif kind == "lifespan.shutdown.complete":
            _settle(self._shutdown, None)
        elif kind == "lifespan.shutdown.failed":
            _settle(self._shutdown, reason)
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on the lifespan scope")


def _settle(future: asyncio.Future[str | None] | None, value: str | None) -> None:
    if future is None or future.done():
        raise RuntimeError("lifespan message out of order")
    future.set_result(value)


class Lifespans:
    """The lifespans of a worker's distinct ASGI apps, started and stopped together."""

    def __init__(self, mode: str, log: Log) -> None:
        self.mode = mode
        self.log = log
        self.all: list[Lifespan] = []
        self.started = False  # every startup completed: shutdown is owed

    def state_for(self, app: AsgiApp, name: str) -> dict[str, Any]:
        """The lifespan state of `app`, which its handler copies into each request's scope."""
        for lifespan in self.all:
            if lifespan.app is app:
                return lifespan.state
        lifespan = Lifespan(app, name, self.mode, self.log)
        self.all.append(lifespan)
        return lifespan.state

    async def startup(self) -> None:
        """Start every app in order; raise LifespanFailed at the first failure."""
        for lifespan in self.all:
            await lifespan.startup()
        self.started = True

    async def shutdown(self, timeout: float) -> None:
        """Shut every started app down, the last started first."""
        for lifespan in reversed(self.all):
            await lifespan.shutdown(timeout)
