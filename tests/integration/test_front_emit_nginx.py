"""`usher front --emit-nginx`: the emitted config loads in a real nginx and serves the same site.

One front config with every kind of location and a pool per balancing method is read by the
front's reader and emitted; nginx runs the result (`nginx -t` first). Then traffic: each pool's
choices through nginx are the ones usher's policies make on the same config, static files and
`return` answer as configured, the body limit gives 413, and the uwsgi pass reaches a real usher
with the stock uwsgi_params.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.named_upstreams import NamedServer, get, named_servers, start_nginx_with
from tests.support.nginx import NginxProcess
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port
from usher.front.balance import Balancer, RequestInfo
from usher.front.config import parse_front
from usher.front.emit_nginx import emit_nginx
from usher.front.model import Front
from usher.front.policies import balance_policy
from usher.front.tiers import Member

pytestmark = pytest.mark.nginx


def front_ini(port: int, names: list[str], static: Path, app: str) -> str:
    a, b, c, d = names
    return f"""
[front]
listen = 127.0.0.1:{port}
client_max_body_size = 1k
subscription_server = 127.0.0.1:{SUBSCRIPTION_PORT}

[upstream dyn]
subscription = dyn.test

[upstream rr]
server = {a} weight=5
server = {b}
server = {c} max_fails=2 fail_timeout=5s
server = {d} backup

[upstream chash]
hash = $request_uri consistent
server = {a}
server = {b} weight=2
server = {c}
server = {d} down

[upstream hashed]
hash = $request_uri
server = {a}
server = {b}
server = {c} weight=3
server = {d} backup

[upstream ip]
ip_hash =
server = {a}
server = {b}
server = {c}

[upstream lc]
least_conn =
server = {a}
server = {b} weight=2

[upstream stick]
sticky = cookie srv
check = interval=1000 rise=2 fall=3 timeout=500 type=http
server = {a} slow_start=30s
server = {b}

[upstream app]
server = {app}

[location /static/]
alias = {static}

[location = /gone]
return = 410 gone for good

[location /rr/]
proxy_pass = http://rr
proxy_set_header = X-Site emitted

[location /chash/]
proxy_pass = http://chash

[location /hashed/]
proxy_pass = http://hashed

[location /ip/]
proxy_pass = http://ip

[location /lc/]
proxy_pass = http://lc

[location /stick/]
proxy_pass = http://stick

[location /app/]
uwsgi_pass = app

[location /dyn/]
proxy_pass = http://dyn
"""


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NginxProcess, Front, list[NamedServer]]]:
    tmp = tmp_path_factory.mktemp("emit")
    static = tmp / "static"
    static.mkdir()
    (static / "hello.txt").write_text("static hello\n")
    with named_servers(4) as servers:
        names = [s.name for s in servers]
        fronts: list[Front] = []

        def http_block(port: int) -> str:
            fronts.append(parse_front(front_ini(port, names, static, APP_PLACEHOLDER)))
            return emit_nginx(fronts[0])

        nginx = start_nginx_with(tmp, http_block)
        try:
            yield nginx, fronts[0], servers
        finally:
            nginx.stop()


# Where the front receives announces (pool `dyn`): no app server announces in these tests.
SUBSCRIPTION_PORT = free_port()
# The uwsgi pool's address: the app server is started by the test that needs it, on this port.
APP_PORT = free_port()
APP_PLACEHOLDER = f"127.0.0.1:{APP_PORT}"


def expected(front: Front, pool: str, infos: list[RequestInfo]) -> list[str]:
    upstream = front.upstream(pool)
    members = [
        Member(str(s.address), s.weight, backup=s.backup, down=s.down) for s in upstream.servers
    ]
    balancer = Balancer(members, balance_policy(upstream.balance), clock=lambda: 0.0)
    chosen = [balancer.pick(info) for info in infos]
    return [member.name if member else "-" for member in chosen]


def test_the_emitted_config_has_each_missing_feature_as_a_comment(
    site: tuple[NginxProcess, Front, list[NamedServer]],
) -> None:
    nginx, _, _ = site
    text = (nginx.prefix / "nginx.conf").read_text()
    assert "least_conn;" in text and "ip_hash;" in text and "hash $request_uri consistent;" in text
    for feature in ("active health checks", "slow start", "sticky cookie srv", "panic threshold",
                    "retry budget", "the app servers announcing themselves"):  # fmt: skip
        assert f"# usher front: {feature}" in text, feature
    assert "include /etc/nginx/uwsgi_params;" in text


def test_round_robin_and_backup(site: tuple[NginxProcess, Front, list[NamedServer]]) -> None:
    nginx, front, servers = site
    seen = [get(nginx.port, "/rr/")[1] for _ in range(14)]
    assert seen == expected(front, "rr", [RequestInfo(target="/rr/")] * 14)
    a, b, c = (s.name for s in servers[:3])
    assert seen[:7] == [a, a, b, a, c, a, a]


@pytest.mark.parametrize("pool", ["chash", "hashed"])
def test_hashes(pool: str, site: tuple[NginxProcess, Front, list[NamedServer]]) -> None:
    nginx, front, _ = site
    targets = [f"/{pool}/item/{n}?page={n % 3}" for n in range(24)]
    seen = [get(nginx.port, target)[1] for target in targets]
    assert seen == expected(front, pool, [RequestInfo(target=t) for t in targets])
    assert len(set(seen)) > 1


def test_ip_hash(site: tuple[NginxProcess, Front, list[NamedServer]]) -> None:
    nginx, front, _ = site
    sources = [f"127.{n * 13 % 250 + 1}.{n}.1" for n in range(16)]
    seen = [get(nginx.port, "/ip/", source=source)[1] for source in sources]
    assert seen == expected(front, "ip", [RequestInfo(client=s) for s in sources])


def test_least_conn_and_sticky_serve(site: tuple[NginxProcess, Front, list[NamedServer]]) -> None:
    nginx, front, _ = site
    seen = [get(nginx.port, "/lc/")[1] for _ in range(6)]
    assert seen == expected(front, "lc", [RequestInfo()] * 6)
    # Open nginx has no sticky cookie: the pool is balanced by round-robin, as emitted.
    seen = [get(nginx.port, "/stick/")[1] for _ in range(4)]
    assert len(set(seen)) == 2


def test_static_return_and_body_limit(site: tuple[NginxProcess, Front, list[NamedServer]]) -> None:
    nginx, _, _ = site
    assert get(nginx.port, "/static/hello.txt") == (200, "static hello\n")
    assert get(nginx.port, "/gone") == (410, "gone for good")
    assert get(nginx.port, "/dyn/")[0] == 502  # nginx has no announced members
    with socket.create_connection(nginx.address, timeout=10) as conn:
        body = b"x" * 2048
        conn.sendall(b"POST /rr/ HTTP/1.0\r\nHost: t\r\nContent-Length: 2048\r\n\r\n" + body)
        assert conn.recv(100).startswith(b"HTTP/1.1 413")


def test_uwsgi_pass_reaches_usher(
    site: tuple[NginxProcess, Front, list[NamedServer]], serve: Serve
) -> None:
    nginx, _, _ = site
    serve(
        ["--socket", APP_PLACEHOLDER, "--wsgi-file", str(FIXTURES / "wsgi_apps.py"),
         "--callable", "echo"]
    )  # fmt: skip
    status, body = get(nginx.port, "/app/hello?x=1")
    assert status == 200, body
    seen = json.loads(body)
    assert seen["PATH_INFO"] == "/app/hello" and seen["QUERY_STRING"] == "x=1"
