"""The option table's section of WebSockets (see usher.options.settings), with uWSGI's names."""

from __future__ import annotations

import dataclasses

from usher.options.spec import option

# Its own heading in --help and docs/options.md, after the sections listed before it.
WEBSOCKETS = "WebSockets"


@dataclasses.dataclass(frozen=True)
class WebSocketOptions:
    """WebSockets of ASGI apps (usher.adapters.asgi_websocket)."""

    http_websockets: bool = option(
        False,
        group=WEBSOCKETS,
        help="Accepted for uWSGI configs: usher's HTTP listeners always hand WebSocket upgrade "
        "requests to an ASGI app (a WSGI app answers them as plain requests).",
    )
    # A message is gathered whole before the app sees it: the bound is what one peer may make a
    # worker hold. uWSGI's default and unit (KiB); websockets' and uvicorn's default is 1 MiB too.
    websockets_max_size: int = option(
        1024,
        group=WEBSOCKETS,
        aliases=("websocket-max-size",),
        minimum=0,
        metavar="KB",
        help="Largest WebSocket message accepted, in KiB; a larger one closes the connection "
        "with 1009 (message too big). 0 = unbounded.",
    )
    # Proxies and NAT tables drop connections idle for a minute or so (nginx's
    # proxy_read_timeout is 60 s); a ping every 30 s (uWSGI's default) keeps them open and finds
    # dead peers.
    websockets_ping_freq: int = option(
        30,
        group=WEBSOCKETS,
        aliases=("websocket-ping-freq",),
        minimum=0,
        metavar="SECONDS",
        help="Send a ping on every WebSocket this often. 0 = never.",
    )
    websockets_pong_tolerance: int = option(
        3,
        group=WEBSOCKETS,
        aliases=("websocket-pong-tolerance",),
        minimum=1,
        metavar="SECONDS",
        help="Drop a WebSocket whose pong has not come this long after a ping.",
    )
