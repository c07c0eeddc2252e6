"""Apps of both kinds side by side: `mount = /prefix=app` where an app is ASGI.

The WSGI router (usher.adapters.router) picks among WSGI apps once a request's environ is built;
an ASGI app needs its request from the head on, so the pick among kinds happens earlier, in
`begin`: a `MountedHandler` sends a request to the handler of the first prefix it falls under
(longest prefix first, on a segment boundary: /api takes /api and /api/x, not /apix), or to
the listener's default handler. Over the uwsgi protocol a SCRIPT_NAME equal to a prefix picks it
too, as uWSGI picks mounts without manage-script-name.

An ASGI mount's scopes have the prefix as `root_path` (usher.adapters.asgi_scope). Only
listeners with an ASGI mount, or WSGI mounts beside an ASGI app, get this handler.
"""

from __future__ import annotations

from usher.adapters.base import Exchange, Handler, Responder
from usher.protocols.events import Request

_SLASH = ord("/")


class MountedHandler:
    """Sends each request to its mount's handler by prefix, else to the default handler."""

    __slots__ = ("default", "mounts", "runs_coroutines")

    def __init__(self, mounts: list[tuple[str, Handler]], default: Handler) -> None:
        # Longest prefix first, so the first match is the longest (the router's rule).
        ordered = sorted(mounts, key=lambda mount: -len(mount[0]))
        self.mounts = tuple((prefix.rstrip("/").encode(), handler) for prefix, handler in ordered)
        self.default = default
        self.runs_coroutines = any(h.runs_coroutines for _, h in mounts) or default.runs_coroutines

    def serving(self, loop_shared: bool) -> None:
        """Pass the news on to every handler behind this one."""
        self.default.serving(loop_shared)
        for _, handler in self.mounts:
            handler.serving(loop_shared)

    def pick(self, request: Request) -> Handler:
        """The handler of the mount `request` falls under, or the default one."""
        path = request.path
        variables = request.vars
        script = variables.get("SCRIPT_NAME", "").rstrip("/").encode() if variables else b""
        for prefix, handler in self.mounts:
            if script and script == prefix:
                return handler
            size = len(prefix)
            if path.startswith(prefix) and (len(path) == size or path[size] == _SLASH):
                return handler
        return self.default

    def begin(self, request: Request, responder: Responder) -> Exchange:
        """Take a request whose head has been read (usher.adapters.base.Handler)."""
        return self.pick(request).begin(request, responder)
