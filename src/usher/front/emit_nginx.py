"""`usher front --emit-nginx`: the nginx config that serves the same site as a front config.

The output is the `http { }` part of an nginx.conf (put it in /etc/nginx/conf.d/, or include it
inside `http { }`): one `upstream` per pool, one `server` per virtual host, the same locations in
the same order. What open-source nginx cannot do is written as a comment naming the front's
feature, where its directive would go, so an operator sees what the move to nginx loses:

- active health checks (Tengine's `check`, nginx Plus' `health_check`),
- slow start (nginx Plus' `slow_start=`),
- sticky cookies (nginx Plus' `sticky cookie`): the pool balances by round-robin instead,
- the panic threshold and the retry budget (Envoy's ideas; nginx has neither),
- the status page (nginx's `stub_status` is emitted: it has totals, not per-server figures),
- members that announce themselves (uWSGI subscriptions): nginx's are listed in its config;
  a pass to `$host` stays `uwsgi_pass $host` (nginx then uses the `upstream` block named like
  the request's host, which must be written for each site).

nginx follows the front's choices exactly for every balancing method it has (the tests check
it, choice by choice): the same servers, weights, `max_fails` and `fail_timeout`, `backup` and
`down`, and the same `hash` key.
"""

from __future__ import annotations

from collections.abc import Iterator

from usher.front.model import (
    Action,
    Front,
    Location,
    Method,
    Pass,
    Protocol,
    Return,
    Server,
    Static,
    StatusPage,
    Upstream,
    VirtualHost,
)

UWSGI_PARAMS = "/etc/nginx/uwsgi_params"
REDIRECTS = (301, 302, 303, 307, 308)
# nginx refuses `backup` servers with these methods ("balancing method does not support
# parameter backup"); the front uses its backups with them when the hash finds no live server.
WITHOUT_BACKUP = (Method.IP_HASH, Method.HASH, Method.RANDOM)
# The statuses uwsgi_next_upstream can retry on (proxy_next_upstream also has 502 and 504).
UWSGI_RETRY_STATUSES = (500, 503, 403, 404, 429)


def emit_nginx(front: Front, *, uwsgi_params: str = UWSGI_PARAMS) -> str:
    """The nginx configuration (the inside of `http { }`) equivalent to `front`."""
    lines = ["# Written by `usher front --emit-nginx`: the same site as the front's config.", ""]
    lines += _http_settings(front)
    lines += _connection_upgrade()
    for upstream in front.upstreams:
        lines += ["", *_upstream(upstream)]
    for host in front.hosts:
        lines += ["", *_server(host, front, uwsgi_params)]
    return "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    """nginx's time syntax: whole seconds as `Ns`, anything finer in milliseconds."""
    if value == int(value):
        return f"{int(value)}s"
    return f"{round(value * 1000)}ms"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _http_settings(front: Front) -> list[str]:
    limits = front.limits
    lines = [
        f"client_max_body_size {limits.client_max_body_size};",
        f"client_body_buffer_size {limits.client_body_buffer_size};",
        f"client_header_buffer_size {limits.client_header_buffer_size};",
        f"large_client_header_buffers 4 {limits.client_header_buffer_size};",
        f"client_body_timeout {_seconds(limits.client_body_timeout)};",
        f"keepalive_timeout {_seconds(limits.keepalive_timeout)};",
    ]
    real_ip = front.real_ip
    if real_ip.set_real_ip_from:
        lines += [f"set_real_ip_from {network};" for network in real_ip.set_real_ip_from]
        header = "-".join(part.capitalize() for part in real_ip.real_ip_header.split("-"))
        lines += [f"real_ip_header {header};", "real_ip_recursive on;"]
    return lines


def _connection_upgrade() -> list[str]:
    # WebSocket upgrades pass through as in the front: Connection: upgrade when the client asks
    # for one, an empty Connection (keep-alive to the upstream) otherwise.
    return [
        "",
        "map $http_upgrade $connection_upgrade {",
        "    default upgrade;",
        "    '' '';",
        "}",
    ]


def _upstream(upstream: Upstream) -> list[str]:
    lines = [f"upstream {upstream.name} {{"]
    lines += [f"    {line}" for line in _balance(upstream)]
    no_backup = upstream.balance.method in WITHOUT_BACKUP
    for server in upstream.servers:
        if server.backup and no_backup:
            lines.append(
                f"    # usher front: backup {_server_line(server)} (nginx's "
                f"{upstream.balance.method.value} takes no backup servers)"
            )
            continue
        lines.append(f"    {_server_line(server)}")
        if server.slow_start > 0:
            lines.append(
                f"    # usher front: slow start over {_seconds(server.slow_start)} for "
                f"{server.address} (nginx Plus: slow_start=; open nginx has none)"
            )
    if upstream.subscription:
        lines.append(
            f"    # usher front: the app servers announcing themselves under "
            f"{upstream.subscription!r} (uWSGI subscriptions; nginx's members are fixed: list them)"
        )
        if not upstream.servers:
            # nginx refuses an upstream without a server; this one is never chosen.
            lines.append("    server 127.0.0.1:9 down;")
    if upstream.keepalive:
        lines.append(f"    keepalive {upstream.keepalive};")
        lines.append(f"    keepalive_timeout {_seconds(upstream.keepalive_timeout)};")
    lines += [f"    {line}" for line in _check_comment(upstream)]
    if upstream.panic_threshold:
        lines.append(
            f"    # usher front: panic threshold {upstream.panic_threshold}% (under it every "
            "server is tried; nginx has no equivalent)"
        )
    lines.append("}")
    return lines


def _balance(upstream: Upstream) -> list[str]:
    balance = upstream.balance
    method = balance.method
    if method is Method.LEAST_CONN:
        return ["least_conn;"]
    if method is Method.IP_HASH:
        return ["ip_hash;"]
    if method is Method.HASH:
        return [f"hash {balance.key}{' consistent' if balance.consistent else ''};"]
    if method is Method.RANDOM:
        return ["random two least_conn;" if balance.two else "random;"]
    if method is Method.STICKY:
        return [
            f"# usher front: sticky cookie {balance.cookie} (nginx Plus: sticky cookie "
            f"{balance.cookie};). Open nginx balances this pool by round-robin."
        ]
    return []


def _server_line(server: Server) -> str:
    words = [f"server {server.address}"]
    if server.weight != 1:
        words.append(f"weight={server.weight}")
    words.append(f"max_fails={server.max_fails}")
    words.append(f"fail_timeout={_seconds(server.fail_timeout)}")
    if server.backup:
        words.append("backup")
    if server.down:
        words.append("down")
    return " ".join(words) + ";"


def _check_comment(upstream: Upstream) -> list[str]:
    check = upstream.check
    if check is None:
        return []
    tengine = (
        f"check interval={round(check.interval * 1000)} rise={check.rise} fall={check.fall} "
        f"timeout={round(check.timeout * 1000)} type={check.type.value};"
    )
    lines = [
        "# usher front: active health checks (open nginx has none; Tengine's form:)",
        f"# {tengine}",
    ]
    if check.type.value == "http":
        lines.append(f'# check_http_send "GET {check.uri} HTTP/1.0\\r\\n\\r\\n";')
        lines.append(
            f"# check_http_expect_alive {' '.join('http_' + c for c in check.expect_alive)};"
        )
    return lines


def _server(host: VirtualHost, front: Front, uwsgi_params: str) -> list[str]:
    lines = ["server {"]
    for address in host.listen:
        default = " default_server" if host.default_server else ""
        lines.append(f"    listen {address}{default};")
    if host.server_name:
        lines.append(f"    server_name {' '.join(host.server_name)};")
    for location in host.locations:
        lines += ["", *(f"    {line}" for line in _location(location, front, uwsgi_params))]
    lines.append("}")
    return lines


def _location(location: Location, front: Front, uwsgi_params: str) -> list[str]:
    modifier = f"{location.match.value} " if location.match.value else ""
    lines = [f"location {modifier}{location.pattern} {{"]
    lines += [f"    {line}" for line in _action(location.action, front, uwsgi_params)]
    lines.append("}")
    return lines


def _action(action: Action, front: Front, uwsgi_params: str) -> list[str]:
    if isinstance(action, Static):
        return _static(action)
    if isinstance(action, Return):
        return [_return(action)]
    if isinstance(action, Pass):
        return list(_pass(action, front, uwsgi_params))
    assert isinstance(action, StatusPage)
    return [
        "# usher front: the status page (per-server state, fails, connections, latency, as",
        "# JSON or Prometheus); nginx's stub_status has the totals only.",
        "stub_status;",
    ]


def _static(static: Static) -> list[str]:
    directory = static.directory.rstrip("/") + "/"
    lines = [
        f"{'alias' if static.alias else 'root'} {directory if static.alias else static.directory};"
    ]
    if static.index:
        lines.append(f"index {' '.join(static.index)};")
    if static.expires is not None:
        lines.append(f"expires {_seconds(static.expires)};")
    return lines


def _return(ret: Return) -> str:
    if not ret.text:
        return f"return {ret.code};"
    if ret.code in REDIRECTS:
        return f"return {ret.code} {ret.text};"
    return f"return {ret.code} {_quote(ret.text)};"


def _pass(action: Pass, front: Front, uwsgi_params: str) -> Iterator[str]:
    pool = action.upstream if action.by_host else front.upstream(action.upstream).name
    if action.by_host:
        yield from _by_host_comment()
    http = action.protocol is Protocol.HTTP
    prefix = "proxy" if http else "uwsgi"
    if http:
        yield "proxy_http_version 1.1;"
        yield "proxy_set_header Host $host;"
        yield "proxy_set_header X-Real-IP $remote_addr;"
        yield "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
        yield "proxy_set_header X-Forwarded-Proto $scheme;"
        yield "proxy_set_header Upgrade $http_upgrade;"
        yield "proxy_set_header Connection $connection_upgrade;"
        for name, value in action.set_headers:
            yield f"proxy_set_header {name} {_quote(value)};"
    else:
        yield f"include {uwsgi_params};"
        for name, value in action.set_headers:
            variable = "HTTP_" + name.upper().replace("-", "_")
            yield f"uwsgi_param {variable} {_quote(value)};"
    yield f"{prefix}_connect_timeout {_seconds(action.connect_timeout)};"
    yield f"{prefix}_read_timeout {_seconds(action.read_timeout)};"
    yield f"{prefix}_send_timeout {_seconds(action.send_timeout)};"
    retry = action.retry
    statuses = [c for c in retry.statuses if http or c in UWSGI_RETRY_STATUSES]
    conditions = ["error", "timeout", *(f"http_{code}" for code in statuses)]
    yield f"{prefix}_next_upstream {' '.join(conditions)};"
    if len(statuses) < len(retry.statuses):
        missing = " ".join(str(c) for c in retry.statuses if c not in statuses)
        yield f"# usher front: also retries after a {missing} (uwsgi_next_upstream cannot)"
    yield f"{prefix}_next_upstream_tries {retry.tries};"
    if retry.timeout:
        yield f"{prefix}_next_upstream_timeout {_seconds(retry.timeout)};"
    if retry.budget:
        yield (
            f"# usher front: retry budget {retry.budget}% of the pool's requests "
            "(nginx has no equivalent)"
        )
    yield f"{prefix}_pass {'http://' if http else ''}{pool};"


def _by_host_comment() -> list[str]:
    return [
        "# usher front: passes to the app servers subscribed under the request's host (uWSGI",
        "# subscriptions: they announce themselves and leave when silent). nginx has no",
        "# equivalent, its members are fixed: with a variable it picks the `upstream` block",
        "# named like the host, so write one per site (upstream shop.example.com { server",
        "# unix:/run/usher/shop.sock; }), or it answers 502.",
    ]
