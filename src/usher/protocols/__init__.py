"""Sans-I/O protocol codecs: bytes in, events out; responses as bytes.

Nothing here touches a socket, a clock or a thread, so every codec can be driven by tests with
bytes alone.
"""

from usher.protocols.body import RequestBody
from usher.protocols.events import (
    CodecState,
    ContinueRequested,
    Event,
    Limits,
    ProtocolError,
    Request,
)
from usher.protocols.http1 import HttpCodec

__all__ = [
    "CodecState",
    "ContinueRequested",
    "Event",
    "HttpCodec",
    "Limits",
    "ProtocolError",
    "Request",
    "RequestBody",
]
