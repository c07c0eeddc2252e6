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
from usher.protocols.response import (
    CONTINUE_100,
    LAST_CHUNK,
    encode_chunk,
    encode_head,
    error_response,
    format_date,
)
from usher.protocols.uwsgi import UwsgiCodec, encode_uwsgi_request

__all__ = [
    "CONTINUE_100",
    "LAST_CHUNK",
    "CodecState",
    "ContinueRequested",
    "Event",
    "HttpCodec",
    "Limits",
    "ProtocolError",
    "Request",
    "RequestBody",
    "UwsgiCodec",
    "encode_chunk",
    "encode_head",
    "encode_uwsgi_request",
    "error_response",
    "format_date",
]
