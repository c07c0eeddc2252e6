"""The nginx emitter's text for the cases the nginx run does not cover: regex locations,
redirects, http checks, IPv6 and unix addresses, random, set headers over uwsgi."""

from __future__ import annotations

from usher.front.config import parse_front
from usher.front.emit_nginx import emit_nginx

INI = """
[front]
listen = [::1]:8080
set_real_ip_from = 10.0.0.0/8

[upstream u]
random = two least_conn
check = interval=2000 type=http
check_http_send = GET /health HTTP/1.0
server = unix:/run/app.sock weight=2 max_fails=0
server = 10.0.0.9:3031 backup

[location ~* \\.php$]
return = 403

[location = /old]
return = 301 https://example.com/new

[location /]
uwsgi_pass = u
proxy_set_header = X-Tenant blue
"""


def test_emitted_text() -> None:
    text = emit_nginx(parse_front(INI))
    assert "listen [::1]:8080;" in text
    assert "set_real_ip_from 10.0.0.0/8;" in text and "real_ip_header X-Forwarded-For;" in text
    assert "random two least_conn;" in text
    assert "server unix:/run/app.sock weight=2 max_fails=0 fail_timeout=10s;" in text
    assert "# check interval=2000 rise=2 fall=5 timeout=1000 type=http;" in text
    assert "location ~* \\.php$ {" in text and "return 403;" in text
    assert "location = /old {" in text and "return 301 https://example.com/new;" in text
    assert 'uwsgi_param HTTP_X_TENANT "blue";' in text
    assert "uwsgi_next_upstream error timeout http_503;" in text
    assert "# usher front: also retries after a 502 504 (uwsgi_next_upstream cannot)" in text
    assert "# usher front: backup server 10.0.0.9:3031 max_fails=1 fail_timeout=10s backup;" in text
    assert text.count("{") == text.count("}")
