"""The lifespan conversation in process: startup and shutdown messages, failures by message and by
exception, apps without lifespan support under auto and on, the state, and the timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from usher.adapters.lifespan import Lifespan, LifespanFailed, Lifespans


class Recorded:
    """A lifespan-aware app that records the messages it receives."""

    def __init__(self, startup: dict[str, Any], shutdown: dict[str, Any]) -> None:
        self.answers = {"lifespan.startup": startup, "lifespan.shutdown": shutdown}
        self.received: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan" and scope["asgi"]["version"] == "3.0"
        while True:
            message = await receive()
            self.received.append(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["pool"] = "open"
            await send(self.answers[message["type"]])
            if message["type"] == "lifespan.shutdown":
                return


COMPLETE = ({"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"})


def run(lifespan: Lifespan, *, timeout: float = 5.0) -> None:
    async def both() -> None:
        await lifespan.startup(timeout)
        await lifespan.shutdown(timeout)

    asyncio.run(both())


def test_startup_then_shutdown_and_the_state() -> None:
    app, said = Recorded(*COMPLETE), []
    lifespan = Lifespan(app, "app", "auto", said.append)
    run(lifespan)
    assert app.received == ["lifespan.startup", "lifespan.shutdown"]
    assert lifespan.state == {"pool": "open"} and said == []


def test_a_startup_failed_message_is_a_failure_with_its_reason() -> None:
    app = Recorded({"type": "lifespan.startup.failed", "message": "no db"}, COMPLETE[1])
    with pytest.raises(LifespanFailed, match="app: lifespan startup failed: no db"):
        run(Lifespan(app, "app", "auto", print))


async def takes_then_raises(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    raise RuntimeError("cache warm-up failed")


async def http_only(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("not lifespan")


async def never_answers(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await asyncio.Event().wait()


def test_an_exception_after_the_startup_message_is_a_failure() -> None:
    with pytest.raises(LifespanFailed, match="RuntimeError: cache warm-up failed"):
        run(Lifespan(takes_then_raises, "app", "auto", print))


def test_an_app_that_never_asked_is_served_without_lifespan_under_auto_only() -> None:
    said: list[str] = []
    lifespan = Lifespan(http_only, "app", "auto", said.append)
    run(lifespan)
    assert not lifespan.supported
    assert said == ["app: the app does not support the ASGI lifespan protocol"]
    with pytest.raises(LifespanFailed, match="ValueError: not lifespan"):
        run(Lifespan(http_only, "app", "on", print))


def test_off_sends_nothing() -> None:
    app = Recorded(*COMPLETE)
    run(Lifespan(app, "app", "off", print))
    assert app.received == []


def test_a_startup_without_an_answer_times_out() -> None:
    with pytest.raises(LifespanFailed, match=r"did not complete in 0\.05 s"):
        run(Lifespan(never_answers, "app", "on", print), timeout=0.05)


def test_one_lifespan_per_distinct_app() -> None:
    lifespans = Lifespans("auto", print)
    app = Recorded(*COMPLETE)
    assert lifespans.state_for(app, "a") is lifespans.state_for(app, "a")
    lifespans.state_for(Recorded(*COMPLETE), "b")
    assert len(lifespans.all) == 2
