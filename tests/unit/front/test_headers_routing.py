"""Proxy headers and the choice of virtual host and location: pure functions."""

from __future__ import annotations

import ipaddress

from usher.front.config import parse_front
from usher.front.headers import response_headers, upstream_headers
from usher.front.model import RealIp
from usher.front.routing import choose_host, choose_location, decoded_path, host_name

TRUSTED = RealIp((ipaddress.ip_network("10.0.0.0/8"),))


def test_hop_by_hop_and_connection_named_fields_are_dropped() -> None:
    headers = [
        (b"host", b"x"),
        (b"connection", b"keep-alive, x-secret"),
        (b"x-secret", b"1"),
        (b"keep-alive", b"5"),
        (b"te", b"trailers"),
        (b"upgrade", b"h2c"),
        (b"content-length", b"3"),
        (b"accept", b"*/*"),
    ]
    out, client = upstream_headers(headers, peer="192.0.2.1", scheme="http", real_ip=RealIp())
    names = [name for name, _ in out]
    assert names == [b"host", b"accept", b"x-forwarded-for", b"x-real-ip", b"x-forwarded-proto"]
    assert client == "192.0.2.1"


def test_an_untrusted_clients_forwarding_fields_are_replaced() -> None:
    headers = [
        (b"x-forwarded-for", b"1.1.1.1"),
        (b"x-forwarded-proto", b"https"),
        (b"x-real-ip", b"6.6.6.6"),
    ]
    out, client = upstream_headers(headers, peer="192.0.2.1", scheme="http", real_ip=TRUSTED)
    assert dict(out) == {
        b"x-forwarded-for": b"1.1.1.1, 192.0.2.1",
        b"x-real-ip": b"192.0.2.1",
        b"x-forwarded-proto": b"http",
    }
    assert client == "192.0.2.1"


def test_a_trusted_proxy_gives_the_client_and_scheme() -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.7"), (b"x-forwarded-proto", b"https")]
    out, client = upstream_headers(headers, peer="10.0.0.2", scheme="http", real_ip=TRUSTED)
    assert client == "203.0.113.9"  # the rightmost address that is not a trusted proxy
    assert dict(out)[b"x-forwarded-proto"] == b"https"
    assert dict(out)[b"x-forwarded-for"] == b"203.0.113.9, 10.0.0.7, 10.0.0.2"


def test_a_tunnel_asks_the_upstream_to_upgrade() -> None:
    out, _ = upstream_headers(
        [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")],
        peer="127.0.0.1",
        scheme="http",
        real_ip=RealIp(),
        upgrade=b"websocket",
    )
    assert (b"connection", b"upgrade") in out and (b"upgrade", b"websocket") in out


def test_response_headers_lose_framing_date_and_server() -> None:
    headers = [
        (b"content-type", b"text/plain"),
        (b"content-length", b"3"),
        (b"date", b"x"),
        (b"server", b"gunicorn"),
        (b"connection", b"close"),
        (b"transfer-encoding", b"chunked"),
        (b"set-cookie", b"a=1"),
    ]
    assert response_headers(headers) == [("content-type", "text/plain"), ("set-cookie", "a=1")]


SITE = """
[server one]
listen = 127.0.0.1:8080
server_name = example.com *.example.org
[server two]
listen = 127.0.0.1:8080
server_name = www.*
[server other]
listen = 127.0.0.1:8080
default_server
[location /]
server = one
return = 200 prefix
[location /images/]
server = one
return = 200 images
[location ^~ /static/]
server = one
return = 200 static
[location ~* \\.(png|jpg)$]
server = one
return = 200 regex
[location = /]
server = one
return = 200 exact
[location /]
server = two
return = 200 two
[location /]
server = other
return = 200 other
"""


def test_locations_follow_nginxs_order() -> None:
    host = parse_front(SITE).hosts[0]

    def text(path: str) -> str:
        found = choose_location(host.locations, path)
        assert found is not None
        return getattr(found.action, "text", "")

    assert text("/") == "exact"
    assert text("/a") == "prefix"
    assert text("/images/a.PNG") == "regex"  # a regex beats a plain prefix
    assert text("/images/a.txt") == "images"  # the longest prefix
    assert text("/static/a.png") == "static"  # ^~ stops the regexes


def test_virtual_hosts_by_name_wildcards_and_default() -> None:
    hosts = parse_front(SITE).hosts
    assert choose_host(hosts, "example.com").name == "one"
    assert choose_host(hosts, "a.example.org").name == "one"
    assert choose_host(hosts, "www.test").name == "two"
    assert choose_host(hosts, "unknown").name == "other"
    assert host_name(b"Example.COM:8080") == "example.com"


def test_paths_are_decoded_and_resolved() -> None:
    assert decoded_path(b"/a/./b/../c%20d") == "/a/c d"
    assert decoded_path(b"/a/%2e%2e/b") == "/b"
    assert decoded_path(b"/../x") is None
    assert decoded_path(b"/a%00") is None
