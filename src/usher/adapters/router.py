"""The router: static files in front of everything (`with_static`); then, for WSGI, mounts, internal routing and response header edits, around the WSGI handler.

A listener gets a `RouterHandler` instead of the plain `WsgiHandler` only when something here is
configured (mount, route, response-route, add-header, del-header, collect-header): with none, no
object of this module is on a request's path. Its exchange is a `WsgiExchange` that, once the
request is complete and its environ built:

1. runs the request chain (usher.adapters.routes) over the environ: `rewrite` and `setvar`
   change it in place, `donotlog` sets the responder's `quiet` flag (the worker then writes no
   access log line), and a redirect, `return` or `break` answers without calling any app;
2. picks the app: the mount whose prefix is the longest match (with manage-script-name, on
   PATH_INFO, the prefix moving to SCRIPT_NAME as uWSGI does; without it, on the SCRIPT_NAME
   the front server sent), else the default app, or a 404 under no-default-app;
3. edits the app's headers in start_response: del-header, add-header and the chain's addheader
   and delheader; collect-header stores a header's value in a request variable; then the
   response chain runs.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop
from asyncio.events import _set_running_loop
from collections import ChainMap
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any

from usher.adapters.base import Handler
from usher.adapters.routes import Effects, Program, parse_rules, run_chain
from usher.adapters.static import StaticHandler
from usher.adapters.static_files import StaticConfig
from usher.adapters.wsgi import ExcInfo, Report, WsgiApp, WsgiExchange, WsgiHandler
from usher.options import Settings
from usher.protocols.events import Request, unescaped_path


@dataclass(frozen=True, slots=True)
class Routing:
    """What the router does, read once from the settings."""

    request: Program
    response: Program
    add_headers: tuple[tuple[str, str], ...]
    del_headers: frozenset[str]  # lower-cased
    collect: tuple[tuple[str, str], ...]  # (lower-cased header, variable)
    manage_script_name: bool
    no_default_app: bool


def routing_from_settings(settings: Settings) -> Routing | None:
    """The router's configuration, or None when nothing asks for a router."""
    if not (
        settings.mount
        or settings.route
        or settings.response_route
        or settings.add_header
        or settings.del_header
        or settings.collect_header
        or settings.no_default_app
    ):
        return None
    added = tuple(_header_pair(line) for line in settings.add_header)
    collect = tuple(
        (header.lower(), var) for header, var in (line.split() for line in settings.collect_header)
    )
    return Routing(
        request=parse_rules(settings.route, response=False),
        response=parse_rules(settings.response_route, response=True),
        add_headers=added,
        del_headers=frozenset(name.strip().lower() for name in settings.del_header),
        collect=collect,
        manage_script_name=settings.manage_script_name,
        no_default_app=settings.no_default_app,
    )


def with_static(
    handler: Handler, static: StaticConfig | None, routing: Routing | None = None
) -> Handler:
    """A listener's handler with its static files in front: a request a file answers never
    reaches the mounts or the app (usher.adapters.static); the routing options apply to it as
    `FileRouting` says."""
    if static is None:
        return handler
    return StaticHandler(handler, static, None if routing is None else FileRouting(routing))


class FileRouting:
    """The routing options as static files see them, as uWSGI applies them to a file it serves:
    the request chain runs before the file is sent (a redirect, return or break answers instead;
    addheader, delheader and donotlog apply), and add-header and del-header edit every response.
    Mounts, rewrites and the response chain concern the app's responses only."""

    __slots__ = ("routing",)

    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    def request_effects(self, request: Request, peer: tuple[str, str]) -> Effects:
        rules = self.routing.request.rules
        if not rules:
            return Effects()
        return run_chain(rules, request_variables(request, peer), Effects())

    def edit(self, headers: list[tuple[str, str]], effects: Effects) -> list[tuple[str, str]]:
        routing = self.routing
        if routing.del_headers:
            headers = [pair for pair in headers if pair[0].lower() not in routing.del_headers]
        headers = [*headers, *routing.add_headers]
        if effects.del_headers:
            headers = [pair for pair in headers if pair[0].lower() not in effects.del_headers]
        return [*headers, *effects.add_headers]


def request_variables(request: Request, peer: tuple[str, str]) -> dict[str, object]:
    """The CGI variables the rules test, for a request no environ is built for: the front
    server's over uwsgi, else the request line's and headers' (as the WSGI environ names them)."""
    if request.vars is not None:
        return dict(request.vars)
    path, query = request.path, request.query
    variables: dict[str, object] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unescaped_path(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "REQUEST_URI": (path + b"?" + query if query else path).decode("latin-1"),
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": peer[1],
    }
    for name, value in request.headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        variables.setdefault(key, value.decode("latin-1"))
    return variables


def _header_pair(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The app of a request no mount takes under no-default-app."""
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Not Found\n"]


def mount_prefix(text: str) -> str:
    """A mount's prefix as SCRIPT_NAME holds it: no trailing slash ("/" mounts at "")."""
    return text.rstrip("/")


class RouterHandler(WsgiHandler):
    """A WSGI handler whose exchanges route first (see the module's docstring)."""

    __slots__ = ("mounts", "routing")

    def __init__(
        self,
        app: WsgiApp,
        base_environ: dict[str, Any],
        *,
        routing: Routing,
        mounts: tuple[tuple[str, WsgiApp], ...],
        spool_threshold: int,
        loop: AbstractEventLoop,
        pool: Executor | None,
        report: Report,
        write_exceptions: bool = True,
    ) -> None:
        # WsgiHandler's arguments spelled out: the compiled form does not forward **kwargs to a
        # compiled base class's keyword-only parameters.
        super().__init__(
            not_found if routing.no_default_app else app,
            base_environ,
            spool_threshold=spool_threshold,
            loop=loop,
            pool=pool,
            report=report,
            write_exceptions=write_exceptions,
        )
        self.routing = routing
        # Longest prefix first, so the first match is the longest (uWSGI's rule).
        self.mounts = tuple(
            sorted(((mount_prefix(p), a) for p, a in mounts), key=lambda m: -len(m[0]))
        )
        self.begin = partial(RoutedExchange, self)

    def pick(self, environ: dict[str, Any]) -> WsgiApp:
        """The app for this request; with manage-script-name, SCRIPT_NAME/PATH_INFO split."""
        if self.routing.manage_script_name:
            path: str = environ["PATH_INFO"]
            for prefix, app in self.mounts:
                size = len(prefix)
                # On a segment boundary: /blog takes /blog and /blog/x, not /blogger.
                if path.startswith(prefix) and (len(path) == size or path[size] == "/"):
                    environ["SCRIPT_NAME"] = prefix
                    environ["PATH_INFO"] = path[size:]
                    return app
        else:
            script = mount_prefix(environ.get("SCRIPT_NAME", ""))
            for prefix, app in self.mounts:
                if script == prefix:
                    return app
        return self.app


class RoutedExchange(WsgiExchange):
    """A WSGI exchange that routes before the app and edits the app's headers."""

    __slots__ = ("app", "effects")

    def receive_end(self) -> None:
        """Build the environ, run the request chain, pick the app and run it (as WsgiExchange
        does, with the routing between, so that the plain exchange keeps no hook on its path)."""
        environ = self.complete_environ()
        handler = self.handler
        assert isinstance(handler, RouterHandler)
        if self.failed_store is not None:
            self._refuse_body(self.failed_store)
            return
        self.effects = effects = Effects()
        rules = handler.routing.request.rules
        if rules:
            run_chain(rules, environ, effects)
        self.out.quiet = effects.quiet  # set on every request: a connection's responder is reused
        if effects.answer is not None:
            self._answer(*effects.answer)
            return
        self.app = app = handler.pick(environ)
        if handler.pool is not None:
            self.out.threaded = True
            handler.pool.submit(self._run_threaded)
            return
        hide = handler.hide_per_call
        if hide:
            _set_running_loop(None)
        try:
            self.deliver(app(environ, self.start_response))
        except Exception as exc:
            self.failed(exc)
        finally:
            if hide:
                _set_running_loop(handler.loop)

    def begin(self) -> bool:
        """On a pool thread: call the picked app and send what can be sent now."""
        return self.deliver(self.app(self.environ, self.start_response))

    def _answer(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        if not status:  # break with no status: uWSGI ends the request without a response
            self.out.abort()
            return
        self.start_response(status, headers)
        self._send_whole(body)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 start_response, with the configured header edits applied first."""
        if type(status) is str and type(headers) is list:
            headers = self._edit(status, headers)
        return super().start_response(status, headers, exc_info)

    def _edit(self, status: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        handler = self.handler
        assert isinstance(handler, RouterHandler)
        routing = handler.routing
        effects: Effects = self.effects
        for header, var in routing.collect:
            for name, value in headers:
                if name.lower() == header:
                    self.environ[var] = value
                    break
        added, dropped = effects.add_headers, effects.del_headers
        if routing.response.rules:
            # A fresh Effects: start_response may come twice (exc_info), each with its own run.
            variables = ChainMap({"uwsgi[status]": status[:3]}, self.environ)
            response = run_chain(routing.response.rules, variables, Effects())
            if response.quiet:
                self.out.quiet = True
            added = [*added, *response.add_headers]
            dropped = [*dropped, *response.del_headers]
        # del-header drops the app's headers and add-header's go after (so the pair replaces
        # one); a rule's delheader drops any, add-header's included, and its addheader is last.
        if routing.del_headers:
            headers = [pair for pair in headers if pair[0].lower() not in routing.del_headers]
        headers = [*headers, *routing.add_headers]
        if dropped:
            headers = [pair for pair in headers if pair[0].lower() not in dropped]
        return [*headers, *added]
