"""The front's ini reader: nginx-shaped sections into the frozen model, one-line errors."""

from __future__ import annotations

import pytest

from usher.front.config import parse_front
from usher.front.ini import FrontConfigError, parse_size, parse_time
from usher.front.model import Address, CheckType, Match, Method, Pass, Protocol, Return, Static

SITE = """
[front]
processes = 2
listen = 127.0.0.1:8080
client_max_body_size = 10m
set_real_ip_from = 127.0.0.1 10.0.0.0/8

[upstream app]
server = 127.0.0.1:8001 weight=5 max_fails=3 fail_timeout=10s slow_start=30s
server = 8002
server = unix:/run/app.sock backup
hash = $request_uri consistent
check = interval=3000 rise=2 fall=5 timeout=1000 type=http
check_http_send = "GET /health HTTP/1.0\\r\\nHost: app\\r\\n\\r\\n"
check_http_expect_alive = http_2xx

[location /]
proxy_pass = http://app
proxy_next_upstream_tries = 2
proxy_set_header = X-Site demo

[location /legacy/]
uwsgi_pass = app
uwsgi_read_timeout = 5s

[location ~* \\.png$]
root = /srv/img

[location = /old]
return = 301 https://example.com/new

[location ^~ /static/]
alias = /srv/static/
expires = 30d
"""


def test_site_reads_into_the_model() -> None:
    front = parse_front(SITE)
    assert front.processes == 2
    assert front.limits.client_max_body_size == 10 * 1024 * 1024
    assert front.real_ip.trusts("10.1.2.3") and not front.real_ip.trusts("192.168.0.1")
    (host,) = front.hosts
    assert host.listen == (Address("127.0.0.1", 8080),)
    kinds = [(loc.match, loc.pattern) for loc in host.locations]
    assert kinds == [
        (Match.PREFIX, "/"),
        (Match.PREFIX, "/legacy/"),
        (Match.REGEX_NOCASE, r"\.png$"),
        (Match.EXACT, "/old"),
        (Match.PREFIX_NO_REGEX, "/static/"),
    ]
    root, legacy, png, old, static = (loc.action for loc in host.locations)
    assert isinstance(root, Pass) and root.retry.tries == 2
    assert root.set_headers == (("x-site", "demo"),)
    assert isinstance(legacy, Pass) and legacy.protocol is Protocol.UWSGI
    assert legacy.read_timeout == 5.0
    assert png == Static("/srv/img", alias=False)
    assert old == Return(301, "https://example.com/new")
    assert isinstance(static, Static) and static.expires == 30 * 86400
    assert host.locations[2].matches("/A/B.PNG")
    pool = front.upstream("app")
    assert [s.weight for s in pool.servers] == [5, 1, 1]
    assert pool.servers[1].address == Address("127.0.0.1", 8002)
    assert pool.servers[2].backup and pool.servers[2].address.unix == "/run/app.sock"
    assert pool.servers[0].slow_start == 30.0
    assert pool.balance.method is Method.HASH and pool.balance.consistent
    assert pool.check is not None and pool.check.type is CheckType.HTTP
    assert (pool.check.interval, pool.check.uri, pool.check.host) == (3.0, "/health", "app")
    assert pool.check.expect_alive == ("2xx",)


def test_times_and_sizes_follow_nginx() -> None:
    assert parse_time("500ms") == 0.5
    assert parse_time("1m") == 60
    assert parse_time("3000", bare_unit=0.001) == 3.0
    assert parse_time("soon") is None
    assert parse_size("64k") == 65536
    assert parse_size("1M") == 1024 * 1024
    assert parse_size("1x") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[location /]\nproxy_pas = http://app\n", "did you mean proxy_pass?"),
        ("[location /]\nproxy_pass = http://nope\n", "upstream 'nope' is not declared"),
        ("[upstream app]\n[location /]\nproxy_pass = http://app\n", "has no server"),
        ("[upstream app]\nserver = 1.2.3.4\n", "has no port"),
        ("[upstream app]\nserver = :8001 wieght=2\n", "unknown server parameter 'wieght'"),
        ("[location /]\nreturn = 301\n", "return 301 without a URL"),
        ("[location ~ (]\nreturn = 404\n", "location regex '('"),
        ("[location /]\nalias = /a\nreturn = 404\n", "both alias and return"),
        ("[front]\nlisten = :8080\n", "no location"),
        ("[bogus]\n", "unknown section [bogus]"),
        ("[upstream a]\nserver = :1\nleast_conn\nip_hash\n", "a second balancing method"),
    ],
)
def test_errors_are_one_line_with_a_fix(text: str, expected: str) -> None:
    with pytest.raises(FrontConfigError) as caught:
        parse_front(text, "site.ini")
    message = str(caught.value)
    assert expected in message
    assert message.startswith("site.ini") and "\n" not in message
    assert "(" in message and message.endswith(")")
