"""The front as a handler on usher's workers: each request goes to its virtual host's location.

`FrontSource` stands where an app stands: the master forks workers as for any app, and each
worker asks it for its listeners' handlers (usher.adapters.base.HandlerSource). The per-worker
state (pool health, idle upstream connections, active checks) is made then, after the fork: each
worker balances and checks on its own, as each nginx worker does without a shared zone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Final

from usher.adapters.base import Exchange, Handler, HandlerSource, Responder
from usher.adapters.static_files import StaticFiles
from usher.front.checks import Checker
from usher.front.choice import make_policy
from usher.front.dynamic import SharedSubscriptions, SubscribedPools, bind_shared, log_line
from usher.front.files import serve_file, static_files
from usher.front.headers import upstream_headers
from usher.front.model import (
    Front,
    Pass,
    Protocol,
    Return,
    Static,
    StatusPage,
    Upstream,
    VirtualHost,
)
from usher.front.peers import Pick
from usher.front.pool import PoolState
from usher.front.proxy import ProxyContext, ProxyExchange, check_period
from usher.front.routing import (
    choose_host,
    choose_location,
    decoded_path,
    host_name,
    subscription_keys,
)
from usher.front.shared import ServerFigures, SharedFigures, document
from usher.front.status import render_status
from usher.front.upstream import IdleConnections
from usher.protocols.events import Request
from usher.protocols.http1_client import encode_request_head
from usher.protocols.uwsgi import encode_uwsgi_vars

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
REASONS: Final = {
    200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 429: "Too Many Requests",
    444: "No Response", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
# Idle upstream connections past keepalive_timeout are closed on this period.
SWEEP_PERIOD: Final = 1.0


class FrontWorker:
    """One worker's share of the front: its pools, idle connections and checks."""

    def __init__(
        self,
        front: Front,
        loop: asyncio.AbstractEventLoop,
        shared: SharedFigures | None = None,
        subscriptions: SharedSubscriptions | None = None,
    ) -> None:
        self.front = front
        self.loop = loop
        self.shared = shared
        self.ctx = ProxyContext(loop)
        self.pools = {pool.name: PoolState(pool, make_policy(pool)) for pool in front.upstreams}
        self.idle = {
            pool.name: [
                IdleConnections(pool.keepalive, pool.keepalive_timeout) for _ in pool.servers
            ]
            for pool in front.upstreams
        }
        # The pools of the subscription keys, for the locations that pass to `$host`.
        self.host_pools: dict[str, PoolState] = {}
        self.host_idle: dict[str, list[IdleConnections]] = {}
        self.host_budget: int | None = None
        for host in front.hosts:
            for location in host.locations:
                if isinstance(location.action, Pass):
                    budget = location.action.retry.budget
                    if location.action.by_host:
                        self.host_budget = budget
                    else:
                        self.pools[location.action.upstream].set_budget(budget)
        passes = [
            location.action
            for host in front.hosts
            for location in host.locations
            if isinstance(location.action, Pass)
        ]
        self.period = check_period(
            [p.read_timeout for p in passes] + [p.connect_timeout for p in passes]
        )
        self.checker = Checker(loop, list(self.pools.values()))
        self.started = False
        self.subscribed: SubscribedPools | None = None
        if front.subscription_server is not None:
            by_host = self.replace_key if self.host_budget is not None else None
            self.subscribed = SubscribedPools(
                front, loop, self.replace_pool, log_line, by_host, subscriptions
            )

    def replace_pool(self, upstream: Upstream) -> None:
        """A pool's members changed (subscriptions): later requests use the new pool; those in
        flight finish on the old one."""
        old = self.pools[upstream.name]
        pool = PoolState(upstream, make_policy(upstream))
        pool.set_budget(old.budget_percent)
        self.pools[upstream.name] = pool
        self.idle[upstream.name] = [
            IdleConnections(upstream.keepalive, upstream.keepalive_timeout)
            for _ in upstream.servers
        ]

    def replace_key(self, key: str, upstream: Upstream | None) -> None:
        """A subscription key's nodes changed: its pool is rebuilt, or gone with its last node."""
        if upstream is None:
            self.host_pools.pop(key, None)
            self.host_idle.pop(key, None)
            return
        pool = PoolState(upstream, make_policy(upstream))
        if self.host_budget is not None:
            pool.set_budget(self.host_budget)
        self.host_pools[key] = pool
        self.host_idle[key] = [
            IdleConnections(upstream.keepalive, upstream.keepalive_timeout)
            for _ in upstream.servers
        ]

    def host_pool(self, keys: tuple[str, ...]) -> tuple[PoolState, list[IdleConnections]] | None:
        """The pool of the first of `keys` that has live nodes (routing.subscription_keys)."""
        for key in keys:
            pool = self.host_pools.get(key)
            if pool is not None:
                return pool, self.host_idle[key]
        return None

    def start(self) -> None:
        """The worker serves: start the active checks and the idle connections' sweep."""
        if self.started:
            return
        self.started = True
        self.publish()
        self.checker.start()
        if self.subscribed is not None:
            self.subscribed.start()
        self.loop.call_later(SWEEP_PERIOD, self.sweep)
        self.loop.call_later(self.period, self.check_limits)

    def check_limits(self) -> None:
        self.ctx.check(self.loop.time())
        self.loop.call_later(self.period, self.check_limits)

    def figures(self, now: float) -> list[ServerFigures]:
        """This worker's figures of each upstream server (the pools of subscribed hosts too)."""
        pools = {**self.host_pools, **self.pools}  # a configured pool's name wins over a key's
        idle = {**self.host_idle, **self.idle}
        return [
            ServerFigures(
                name,
                str(health.peer.server.address),
                health.state(now),
                health.requests,
                health.failures,
                health.fails,
                health.peer.active,
                len(kept.waiting),
                int(health.latency * 1e6),
            )
            for name, pool in pools.items()
            for health, kept in zip(pool.health, idle[name], strict=True)
        ]

    def publish(self) -> None:
        """Write this worker's figures where the master and the other workers read them."""
        if self.shared is not None:
            self.shared.publish(self.figures(self.loop.time()))

    def sweep(self) -> None:
        now = self.loop.time()
        for pools in (self.idle, self.host_idle):
            for servers in pools.values():
                for idle in servers:
                    idle.sweep(now)
        self.publish()
        if self.subscribed is not None:
            self.subscribed.sweep()
        self.loop.call_later(SWEEP_PERIOD, self.sweep)


class FrontSource(HandlerSource):
    """The front, standing where an app stands: a handler per listener, made in each worker."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.worker: FrontWorker | None = None
        self.pid = 0
        # Made here, in the master before it forks, so that every worker shares it.
        self.shared = SharedFigures(front.processes)
        # The subscription server's socket and the membership every worker reads
        # (usher.front.shared_membership), made here for the same reason.
        self.subscriptions = bind_shared(front, log_line)

    def figures(self) -> dict[str, object] | None:
        """The front's section of the stats document: each upstream server's figures summed
        over the workers."""
        return {"front": document(self.shared)}

    def handler(self, loop: asyncio.AbstractEventLoop, address: tuple[str, str]) -> Handler:
        if self.worker is None or self.pid != os.getpid():
            self.worker = FrontWorker(self.front, loop, self.shared, self.subscriptions)
            self.pid = os.getpid()
        return FrontHandler(self.worker, hosts_at(self.front, address))


def hosts_at(front: Front, address: tuple[str, str]) -> tuple[VirtualHost, ...]:
    """The virtual hosts listening at a listener's (host, port)."""
    host, port = address
    here = tuple(
        vhost
        for vhost in front.hosts
        if any(
            str(item.port) == port and item.host in (host, "0.0.0.0", "::", "")
            for item in vhost.listen
        )
    )
    return here or front.hosts


class FrontHandler:
    """Routes each request of one listener to its location's action."""

    runs_coroutines = False  # the proxy's tasks are its own; no app's coroutines share the loop

    def __init__(self, worker: FrontWorker, hosts: tuple[VirtualHost, ...]) -> None:
        self.worker = worker
        self.front = worker.front
        self.hosts = hosts
        self.spool = self.front.limits.client_body_buffer_size
        self.files: dict[int, StaticFiles] = {}  # by id() of a static location

    def serving(self, loop_shared: bool) -> None:
        self.worker.start()

    def begin(self, request: Request, responder: Responder) -> Exchange:
        path = decoded_path(request.path)
        if path is None:
            return Fixed(responder, 400, "bad request path\n")
        host = self.hosts[0] if len(self.hosts) == 1 else choose_host(self.hosts, _host(request))
        location = choose_location(host.locations, path)
        if location is None:
            return Fixed(responder, 404, "not found\n")
        action = location.action
        if type(action) is Pass:
            return self._pass(action, request, responder)
        if type(action) is Return:
            return returned(responder, action)
        if type(action) is Static:
            files = self.files.get(id(location))
            if files is None:  # built on a location's first request, kept for the worker's life
                files = self.files[id(location)] = static_files(action, location.pattern)
            answer = serve_file(responder, request, files)
            return answer if answer is not None else Fixed(responder, 404, "not found\n")
        assert isinstance(action, StatusPage)
        return status_page(responder, request, self.worker)

    def _pass(self, route: Pass, request: Request, responder: Responder) -> Exchange:
        worker = self.worker
        if route.by_host:
            keys = subscription_keys(_header(request, b"host"))
            found = worker.host_pool(keys)
            if found is None:
                # 503, not 502: no server failed; the site has none right now (one may
                # subscribe within seconds, as when its vassal starts).
                name = keys[-1] if keys else "(no Host header)"
                return Fixed(responder, 503, f"no app server is subscribed for {name}\n")
            pool, idle = found
        else:
            pool, idle = worker.pools[route.upstream], worker.idle[route.upstream]
        front = self.front
        peer = responder.peer[0]
        tunnel = b""
        if request.upgrade:
            tunnel = _header(request, b"upgrade")
        headers, client = upstream_headers(
            request.headers, peer=peer, scheme=front.scheme, real_ip=front.real_ip, upgrade=tunnel
        )
        if not _header(request, b"host"):
            # An HTTP/1.0 client may send none; an HTTP/1.1 upstream must get one (RFC 9112 3.2).
            headers.insert(0, (b"host", route.upstream.encode("latin-1")))
        for name, value in route.set_headers:
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        target = request.path + (b"?" + request.query if request.query else b"")
        pick = Pick(request.method, target.decode("latin-1"), client, request.headers)
        encode: Callable[[int], bytes]
        if route.protocol is Protocol.HTTP:
            encode = _http_head(request, target, headers)
        else:
            encode = _uwsgi_head(request, headers, client, responder.peer)
        return ProxyExchange(
            worker.ctx,
            route,
            pool,
            idle,
            request,
            responder,
            encode,
            pick,
            self.spool,
        )


def _header(request: Request, name: bytes) -> bytes:
    for key, value in request.headers:
        if key == name:
            return value
    return b""


def _host(request: Request) -> str:
    return host_name(_header(request, b"host"))


def _http_head(
    request: Request, target: bytes, headers: list[tuple[bytes, bytes]]
) -> Callable[[int], bytes]:
    def encode(length: int) -> bytes:
        if length or request.has_body or request.method in ("POST", "PUT", "PATCH"):
            headers.append((b"content-length", str(length).encode()))
        return encode_request_head(request.method, target, headers)

    return encode


def _uwsgi_head(
    request: Request, headers: list[tuple[bytes, bytes]], client: str, peer: tuple[str, str]
) -> Callable[[int], bytes]:
    """nginx's uwsgi_params for the request, as the uwsgi protocol's variables."""

    # Built in bytes, as the headers are and the packet is: the proxy's one encoding pass.
    def encode(length: int) -> bytes:
        name, _, port = _header(request, b"host").partition(b":")
        query = request.query
        variables = {
            b"REQUEST_METHOD": request.method.encode("latin-1"),
            b"REQUEST_URI": request.path + (b"?" + query if query else b""),
            b"PATH_INFO": (decoded_path(request.path) or "/").encode("latin-1"),
            b"QUERY_STRING": query,
            b"SERVER_PROTOCOL": b"HTTP/1.1" if request.http_version == "1.1" else
                                f"HTTP/{request.http_version}".encode("latin-1"),
            b"CONTENT_LENGTH": b"%d" % length if length else b"",
            b"REMOTE_ADDR": client.encode("latin-1"),
            b"REMOTE_PORT": peer[1].encode("latin-1"),
            b"SERVER_NAME": name or b"localhost",
            b"SERVER_PORT": port or b"80",
        }  # fmt: skip
        for key, value in headers:
            if key == b"content-type":
                variables[b"CONTENT_TYPE"] = value
                continue
            env = b"HTTP_" + key.upper().replace(b"-", b"_")
            variables[env] = variables[env] + b", " + value if env in variables else value
        if variables.get(b"HTTP_X_FORWARDED_PROTO") == b"https":
            variables[b"HTTPS"] = b"on"
            variables[b"UWSGI_SCHEME"] = b"https"
        return encode_uwsgi_vars(variables, modifier1=0)

    return encode


class Fixed:
    """An answer known at the head (return, errors, the status page): sent once the request's
    body is read, so that the connection stays in step."""

    __slots__ = ("body", "headers", "out", "status")

    def __init__(
        self,
        responder: Responder,
        code: int,
        body: str | bytes,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.out = responder
        self.status = f"{code} {REASONS.get(code, 'Unknown')}"
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = headers or [("Content-Type", "text/plain; charset=utf-8")]

    def receive_data(self, data: bytes) -> None:
        pass  # the answer does not depend on it

    def receive_end(self) -> None:
        self.out.send_whole(self.status, self.headers, self.body)

    def resume(self) -> None:
        pass

    def release(self) -> None:
        pass


def returned(responder: Responder, action: Return) -> Fixed:
    """nginx's `return CODE [URL|text]`."""
    if action.code in REDIRECTS:
        return Fixed(responder, action.code, "", [("Location", action.text)])
    return Fixed(responder, action.code, action.text)


def status_page(responder: Responder, request: Request, worker: FrontWorker) -> Fixed:
    """The front's figures per upstream server: JSON, or Prometheus text."""
    prometheus = b"format=prometheus" in request.query
    pools = {**worker.host_pools, **worker.pools}  # a configured pool's name wins over a key's
    idle = {**worker.host_idle, **worker.idle}
    worker.publish()  # this worker's figures as of now, the others' as of their last tick
    every = document(worker.shared) if worker.shared is not None else None
    text = render_status(pools, idle, worker.loop.time(), prometheus=prometheus, every=every)
    kind = "text/plain; version=0.0.4" if prometheus else "application/json"
    return Fixed(responder, 200, text, [("Content-Type", kind), ("Cache-Control", "no-store")])
