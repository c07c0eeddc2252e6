"""HTTP connections behind a balancer that speaks the PROXY protocol (http-enable-proxy-protocol).

A `ProxiedConnection` reads the PROXY header (usher.protocols.proxy) before any byte reaches the
HTTP codec, and from then on reports the relayed client as its peer: REMOTE_ADDR, REMOTE_PORT and
the access log name the balancer's client, not the balancer. A connection without a valid header
is answered 400 and closed. Listeners without the option get plain `Connection`s: nothing here
costs them anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from usher.protocols.events import ProtocolError
from usher.protocols.proxy import ProxyHeaderReader
from usher.worker.connection import Connection

if TYPE_CHECKING:
    from usher.worker.context import ListenerContext, WorkerContext


class ProxiedConnection(Connection):
    """A client connection whose first bytes are a PROXY header."""

    __slots__ = ("proxy",)

    def __init__(self, worker: WorkerContext, listener: ListenerContext) -> None:
        super().__init__(worker, listener)
        self.proxy: ProxyHeaderReader | None = ProxyHeaderReader()

    def data_received(self, data: bytes) -> None:
        reader = self.proxy
        if reader is None:
            super().data_received(data)
            return
        self.last_activity = self.worker.now
        result = reader.receive_data(data)
        if result is None:
            return
        self.proxy = None
        if isinstance(result, ProtocolError):
            self.reject(result)
            return
        if result.client is not None:
            self._peer = result.client
        if result.rest:
            super().data_received(result.rest)
