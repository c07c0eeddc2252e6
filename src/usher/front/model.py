"""The front's configuration as frozen data: what `usher front` serves and the nginx emitter renders.

Names follow nginx's directives (and Tengine's for active checks) so that each field maps to one
directive: `Server.max_fails` is `server ... max_fails=N`, `Pass.next_upstream_tries` is
`proxy_next_upstream_tries`, `HealthCheck.expect_alive` is `check_http_expect_alive`. Times are
seconds (float), sizes bytes. Nothing here does I/O; `usher.front.config` builds these from an ini
file and checks them.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Match(enum.Enum):
    """How a location's pattern meets the request path (nginx's location modifiers)."""

    PREFIX = ""  # location /path
    PREFIX_NO_REGEX = "^~"  # location ^~ /path: a longest-prefix match that skips the regexes
    EXACT = "="  # location = /path
    REGEX = "~"  # location ~ pattern (case-sensitive)
    REGEX_NOCASE = "~*"  # location ~* pattern


@dataclass(frozen=True, slots=True)
class Address:
    """Where something listens or is reached: a TCP host and port, or a unix socket path."""

    host: str = ""
    port: int = 0
    unix: str | None = None

    def __str__(self) -> str:
        if self.unix is not None:
            return f"unix:{self.unix}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Server:
    """One member of an upstream pool (nginx's `server` line inside `upstream`)."""

    address: Address
    weight: int = 1
    max_fails: int = 1  # nginx's default: one failure within fail_timeout ejects (0: never)
    fail_timeout: float = 10.0  # the window failures are counted in, and the ejection's length
    backup: bool = False
    down: bool = False
    slow_start: float = 0.0  # nginx Plus: seconds over which a recovered server ramps to weight


class Method(enum.Enum):
    """The balancing method of a pool (the directive that names it in nginx)."""

    ROUND_ROBIN = "round_robin"  # no directive: nginx's smooth weighted round-robin
    LEAST_CONN = "least_conn"
    IP_HASH = "ip_hash"
    HASH = "hash"  # hash KEY [consistent]
    RANDOM = "random"  # random [two [least_conn]]
    STICKY = "sticky"  # sticky cookie NAME (nginx Plus), round-robin for new clients


@dataclass(frozen=True, slots=True)
class Balance:
    """A pool's balancing method and its arguments."""

    method: Method = Method.ROUND_ROBIN
    key: str = ""  # hash: the key's template, e.g. "$request_uri"
    consistent: bool = False  # hash ... consistent: ketama, 160 points per unit of weight
    two: bool = False  # random two: the better of two random choices (power of two)
    cookie: str = ""  # sticky cookie NAME


class CheckType(enum.Enum):
    """What an active check does (Tengine's `check type=`)."""

    TCP = "tcp"  # connect, then close
    HTTP = "http"  # send `GET uri`, read the status line


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """Active health checks of a pool (Tengine's `check` and `check_http_*` directives)."""

    interval: float = 3.0  # Tengine's default 30000 ms is long for one machine; nginx Plus: 5 s
    rise: int = 2  # successes in a row that bring a down server back
    fall: int = 5  # failures in a row that take an up server down
    timeout: float = 1.0
    type: CheckType = CheckType.TCP
    uri: str = "/"  # check_http_send's request target
    host: str = ""  # the Host header of the check (empty: the server's address)
    # check_http_expect_alive: the status classes that mean alive ("2xx", "3xx", ...).
    expect_alive: tuple[str, ...] = ("2xx", "3xx")


@dataclass(frozen=True, slots=True)
class Upstream:
    """A named pool of servers (nginx's `upstream NAME { ... }`)."""

    name: str
    servers: tuple[Server, ...]
    balance: Balance = field(default_factory=Balance)
    check: HealthCheck | None = None  # None: passive health only (max_fails)
    keepalive: int = 32  # idle connections kept per worker to the pool's servers (HTTP only)
    keepalive_timeout: float = 60.0  # an idle upstream connection is closed after this
    # When fewer than this percentage of the pool's servers are healthy, all of them are tried
    # as if healthy (Envoy's panic threshold): a mass check failure must not black-hole traffic.
    panic_threshold: int = 50
    # The key app servers subscribe under (`subscribe-to = FRONT:KEY`): its live nodes join the
    # pool's `server` lines, which may then be none.
    subscription: str = ""


# `uwsgi_pass = $host` / `proxy_pass = http://$host`: the pool is the one of the subscription key
# named by the request's host (uWSGI's fastrouter and HTTP router with a subscription server).
BY_HOST = "$host"


class Protocol(enum.Enum):
    """How a pass speaks to its upstream."""

    HTTP = "http"  # proxy_pass http://NAME
    UWSGI = "uwsgi"  # uwsgi_pass NAME


@dataclass(frozen=True, slots=True)
class Retry:
    """When a failed attempt is tried again on another server (proxy_next_upstream_*)."""

    tries: int = 3  # proxy_next_upstream_tries; attempts in all, the first included (0: no bound)
    timeout: float = 0.0  # proxy_next_upstream_timeout: no new attempt after this (0: no bound)
    # Retries per worker may not pass this percentage of its requests (Envoy's retry budget):
    # when every server fails, retries must not multiply the load on them.
    budget: int = 20
    # proxy_next_upstream http_502 ...: statuses of a complete answer that are tried elsewhere,
    # for idempotent requests only.
    statuses: tuple[int, ...] = (502, 503, 504)


@dataclass(frozen=True, slots=True)
class Pass:
    """A location served by an upstream pool."""

    upstream: str
    protocol: Protocol = Protocol.HTTP
    connect_timeout: float = 5.0  # proxy_connect_timeout (nginx: 60 s; one machine needs less)
    read_timeout: float = 60.0  # proxy_read_timeout: between two reads from the upstream
    send_timeout: float = 60.0  # proxy_send_timeout: between two writes to the upstream
    retry: Retry = field(default_factory=Retry)
    # proxy_set_header NAME VALUE, after the front's own X-Forwarded-* and X-Real-IP.
    set_headers: tuple[tuple[str, str], ...] = ()

    @property
    def by_host(self) -> bool:
        """Whether the pool is chosen by the request's host among the subscribed keys."""
        return self.upstream == BY_HOST


@dataclass(frozen=True, slots=True)
class Static:
    """A location served from files: `alias DIR` replaces the location's prefix, `root DIR`
    prefixes the whole path (nginx's two forms)."""

    directory: str
    alias: bool = True
    index: tuple[str, ...] = ("index.html",)
    expires: float | None = None  # expires: Cache-Control max-age, None for none


@dataclass(frozen=True, slots=True)
class Return:
    """`return CODE [TEXT|URL]`: a fixed answer; for 301/302/303/307/308 the text is the URL."""

    code: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class StatusPage:
    """The front's own figures per upstream server: JSON, or Prometheus text with
    `?format=prometheus` (usher's; nginx's stub_status is much smaller)."""


Action = Static | Return | Pass | StatusPage


@dataclass(frozen=True, slots=True)
class Location:
    """One `location [MODIFIER] PATTERN` of a virtual host and what serves it."""

    match: Match
    pattern: str
    action: Action
    # The compiled form of a regex location; None for the others.
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, path: str) -> bool:
        """Whether the decoded request path falls in this location."""
        if self.match is Match.EXACT:
            return path == self.pattern
        if self.regex is not None:
            return self.regex.search(path) is not None
        return path.startswith(self.pattern)


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds on clients (nginx's client_* and keepalive directives)."""

    client_max_body_size: int = 1024 * 1024  # nginx's default 1m; 0: no limit
    client_header_buffer_size: int = 8192  # the whole head, as usher's buffer-size
    client_body_timeout: float = 60.0
    keepalive_timeout: float = 75.0
    # Bodies past this are spooled to a temporary file before the upstream is chosen
    # (client_body_buffer_size): a slow client never holds an upstream connection.
    client_body_buffer_size: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class RealIp:
    """Who may tell the front a client's address and scheme (ngx_http_realip's directives).

    A request whose peer is in `set_real_ip_from` may carry `real_ip_header` (the client
    address, the rightmost untrusted entry of X-Forwarded-For) and X-Forwarded-Proto; from any
    other peer both are dropped and replaced by what the front saw.
    """

    set_real_ip_from: tuple[IpNetwork, ...] = ()
    real_ip_header: str = "x-forwarded-for"

    def trusts(self, address: str) -> bool:
        """Whether a peer at `address` is a trusted proxy."""
        if not self.set_real_ip_from or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # a unix socket peer has no address to trust
        return any(ip in network for network in self.set_real_ip_from)


@dataclass(frozen=True, slots=True)
class VirtualHost:
    """A `server { }` block: where it listens, the names it answers, its locations in order."""

    name: str  # the section's label, for messages
    listen: tuple[Address, ...]
    server_name: tuple[str, ...] = ()  # empty: any Host (the default server)
    locations: tuple[Location, ...] = ()
    default_server: bool = False


@dataclass(frozen=True, slots=True)
class Front:
    """A whole front: its processes, virtual hosts, upstream pools and limits."""

    hosts: tuple[VirtualHost, ...]
    upstreams: tuple[Upstream, ...]
    processes: int = 1
    limits: Limits = field(default_factory=Limits)
    real_ip: RealIp = field(default_factory=RealIp)
    # The scheme the front's own listeners speak, passed on as X-Forwarded-Proto when the
    # client is not a trusted proxy.
    scheme: str = "http"
    access_log: bool = True  # access_log off: no line per request (as usher's disable-logging)
    # uWSGI's http-subscription-server: the UDP address app servers announce themselves to;
    # pools with a `subscription` key take the nodes announced under it (usher.front.dynamic).
    subscription_server: Address | None = None
    subscription_tolerance: float = 17.0  # a node silent this long leaves its pool (uWSGI's)
    stats: str = ""  # the master's stats socket, as usher's --stats (usher.front.shared)

    def upstream(self, name: str) -> Upstream:
        """The pool named `name` (the reader checked every pass names one)."""
        for pool in self.upstreams:
            if pool.name == name:
                return pool
        raise KeyError(name)

    def listens(self) -> tuple[Address, ...]:
        """Every address any virtual host listens on, once each, in order."""
        seen: dict[Address, None] = {}
        for host in self.hosts:
            for address in host.listen:
                seen.setdefault(address, None)
        return tuple(seen)
