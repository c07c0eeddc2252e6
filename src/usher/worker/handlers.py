"""A worker's handlers: for each listener, the app called as WSGI or ASGI (or a handler source's
own handler), behind the router, the mounts and static files as the options ask, with the
listener's codec limits. Built once per worker, after the fork."""

from __future__ import annotations

import dataclasses
from typing import Any

from usher.adapters.asgi import AsgiHandler
from usher.adapters.asgi_scope import ScopeFrame, Trusted
from usher.adapters.asgi_websocket import WebSocketHandler, WebSocketLimits
from usher.adapters.base import App, Handler, HandlerSource
from usher.adapters.lifespan import Lifespans
from usher.adapters.load import app_interface, is_asgi
from usher.adapters.mounted import MountedHandler
from usher.adapters.router import (
    RouterHandler,
    Routing,
    not_found,
    routing_from_settings,
    with_static,
)
from usher.adapters.static_files import StaticConfig, config_from_settings
from usher.adapters.wsgi import WsgiHandler, base_environ
from usher.options import Settings
from usher.protocols.events import Limits
from usher.protocols.uwsgi import VarsDecoder
from usher.sockets import Listener
from usher.worker.context import ListenerContext, WorkerContext


def listener_contexts(
    settings: Settings,
    listeners: list[Listener],
    app: App,
    ctx: WorkerContext,
    mounts: tuple[tuple[str, App], ...] = (),
    lifespans: Lifespans | None = None,
) -> list[ListenerContext]:
    """Each listener's codec limits and handler (the app, over that listener's base environ)."""
    # One decoder per worker: it learns the front server's run of uwsgi variables once.
    decoder = VarsDecoder()
    routing = routing_from_settings(settings)
    static = config_from_settings(settings)
    contexts = []
    for listener in listeners:
        name, port = listener.server_name_port()
        contexts.append(
            listener_context(
                settings,
                ctx,
                app,
                listener.protocol,
                name,
                port,
                decoder,
                routing,
                mounts,
                lifespans=lifespans,
                static=static,
            )
        )
    return contexts


def listener_context(
    settings: Settings,
    ctx: WorkerContext,
    app: App,
    protocol: str,
    server_name: str,
    server_port: str,
    decoder: VarsDecoder,
    routing: Routing | None = None,
    mounts: tuple[tuple[str, App], ...] = (),
    *,
    lifespans: Lifespans | None = None,
    static: StaticConfig | None = None,
) -> ListenerContext:
    """One listener's limits and handler: the app called as ASGI, or as WSGI over the listener's
    base environ, behind the router when mounts, routes or header edits are configured
    (`routing`); ASGI mounts, and WSGI mounts beside an ASGI app, are picked by prefix first
    (usher.adapters.mounted); static files in front of all of it when static maps are configured
    (`static`)."""
    asgi_mounts = [(prefix, one) for prefix, one in mounts if is_asgi(one, "auto")]
    wsgi_mounts = tuple((prefix, one) for prefix, one in mounts if not is_asgi(one, "auto"))
    where = (server_name, server_port)
    handler: Handler
    picked: list[tuple[str, Handler]] = [
        (prefix, _asgi_handler(settings, ctx, one, where, lifespans, prefix, protocol))
        for prefix, one in asgi_mounts
    ]
    if isinstance(app, HandlerSource):
        handler = app.handler(ctx.loop, where)
    elif is_asgi(app, app_interface(settings)):
        handler = _asgi_handler(settings, ctx, app, where, lifespans, settings.root_path, protocol)
        if wsgi_mounts and routing is not None:
            # Beside an ASGI app, a WSGI mount is reached by its prefix: the router splits
            # SCRIPT_NAME from PATH_INFO as manage-script-name does.
            split = dataclasses.replace(routing, manage_script_name=True, no_default_app=True)
            router = _wsgi_handler(settings, ctx, not_found, *where, split, wsgi_mounts)
            picked += [(prefix, router) for prefix, _ in wsgi_mounts]
    else:
        handler = _wsgi_handler(settings, ctx, app, *where, routing, wsgi_mounts)
    if picked:
        handler = MountedHandler(picked, handler)
    handler = with_static(handler, static, routing)
    limits = Limits(
        max_head=settings.buffer_size,
        max_body=settings.limit_post,
        max_fields=settings.limit_request_fields,
    )
    return ListenerContext(protocol, limits, handler, decoder)


def websocket_limits(settings: Settings) -> WebSocketLimits:
    """The websockets-* options, in bytes and seconds."""
    return WebSocketLimits(
        max_message=settings.websockets_max_size * 1024,
        ping_every=float(settings.websockets_ping_freq),
        pong_within=float(settings.websockets_pong_tolerance),
    )


def _asgi_handler(
    settings: Settings,
    ctx: WorkerContext,
    app: App,
    where: tuple[str, str],
    lifespans: Lifespans | None,
    root_path: str,
    protocol: str,
) -> AsgiHandler:
    server_name, server_port = where
    port = int(server_port) if server_port.isdigit() else None
    trusted = Trusted.parse(settings.forwarded_allow_ips) if settings.proxy_headers else None
    frame = ScopeFrame(root_path, trusted) if root_path or trusted else None
    handler = AsgiHandler(
        app,  # called as ASGI: is_asgi checked that calling it makes a coroutine
        (server_name, port),
        loop=ctx.loop,
        report=ctx.report_exception,
        state=None if lifespans is None else lifespans.state_for(app, _app_name(app)),
        frame=frame,
    )
    if protocol == "http":  # only an HTTP connection can switch to a WebSocket
        handler.upgrades = WebSocketHandler(handler, websocket_limits(settings))
    return handler


def _app_name(app: App) -> str:
    return getattr(app, "__qualname__", None) or type(app).__qualname__


def _wsgi_handler(
    settings: Settings,
    ctx: WorkerContext,
    app: App,
    server_name: str,
    server_port: str,
    routing: Routing | None,
    mounts: tuple[tuple[str, App], ...],
) -> WsgiHandler:
    environ = base_environ(
        server_name=server_name,
        server_port=server_port,
        multithread=settings.threads > 1,
        multiprocess=settings.processes > 1,
    )
    common: dict[str, Any] = {
        "spool_threshold": settings.post_buffering,
        "loop": ctx.loop,
        "pool": ctx.pool,
        "report": ctx.report_exception,
        "write_exceptions": not settings.disable_write_exception,
    }
    if routing is None:
        return WsgiHandler(app, environ, **common)
    return RouterHandler(app, environ, routing=routing, mounts=mounts, **common)
