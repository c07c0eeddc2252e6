"""A worker driven in process: a Connection on a WorkerContext whose loop never runs, over a
transport that records what is written. The end of a loop's turn is played on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvloop

from usher.options import load_settings
from usher.protocols.uwsgi import VarsDecoder
from usher.worker.connection import Connection
from usher.worker.context import WorkerContext
from usher.worker.handlers import listener_context


class RecordingTransport:
    """Records what the connection writes and whether it closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


class Turn:
    """A worker with a loop that never runs: queued callbacks are kept and run on demand."""

    def __init__(self, app: Callable[..., Any], *args: str) -> None:
        settings = load_settings(["--http-socket", ":0", "--disable-logging", *args], {}).settings
        self.loop = uvloop.new_event_loop()
        self.state = WorkerContext(settings, 1, self.loop)
        self.queued: list[Callable[[], None]] = []
        self.state.loop.call_soon = self._queue  # type: ignore[method-assign]
        self.context = listener_context(settings, self.state, app, "http", "t", "80", VarsDecoder())
        # As a worker whose handlers are all WSGI starts serving: the loop is hidden once, and no
        # request restores it (this loop never runs).
        self.context.handler.serving(False)

    def _queue(self, callback: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        self.queued.append(lambda: callback(*args))

    def connect(self) -> tuple[Connection, RecordingTransport]:
        conn = Connection(self.state, self.context)
        transport = RecordingTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        return conn, transport

    def end(self) -> None:
        queued, self.queued = self.queued, []
        for callback in queued:
            callback()

    def close(self) -> None:
        self.loop.close()
