"""Sans-I/O protocol codecs: bytes in, events out; responses as bytes.

Nothing here touches a socket, a file, a clock or a thread, so every codec can be driven by tests
with bytes alone. A request comes out as a stream of events (``Request``, ``Data``..., ``END``,
then ``Upgraded`` bytes after a switch of protocols: see usher.protocols.events); whoever consumes
the body (the WSGI adapter's spool, a streaming handler) stores it.
"""

from usher.protocols.events import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    EndOfMessage,
    Event,
    Limits,
    ProtocolError,
    Request,
    Upgraded,
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
from usher.protocols.uwsgi import UwsgiCodec, VarsDecoder, encode_uwsgi_request

__all__ = [
    "CONTINUE_100",
    "END",
    "LAST_CHUNK",
    "CodecState",
    "ContinueRequested",
    "Data",
    "EndOfMessage",
    "Event",
    "HttpCodec",
    "Limits",
    "ProtocolError",
    "Request",
    "Upgraded",
    "UwsgiCodec",
    "VarsDecoder",
    "encode_chunk",
    "encode_head",
    "encode_uwsgi_request",
    "error_response",
    "format_date",
]
