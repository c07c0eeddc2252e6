"""The environ of a uwsgi-protocol request: nginx's HTTP_ copies of Content-Type and
Content-Length never reach the app (PEP 3333); a front that sent only those forms still gets
CONTENT_TYPE and CONTENT_LENGTH."""

from __future__ import annotations

import io

from usher.adapters.environ import uwsgi_environ

NGINX = {
    "REQUEST_METHOD": "POST",
    "REQUEST_URI": "/form",
    "PATH_INFO": "/form",
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "CONTENT_TYPE": "application/x-www-form-urlencoded",
    "CONTENT_LENGTH": "7",
    "HTTP_HOST": "example.com",
    "HTTP_CONTENT_TYPE": "application/x-www-form-urlencoded",
    "HTTP_CONTENT_LENGTH": "7",
}


def test_nginx_http_copies_are_dropped() -> None:
    environ = uwsgi_environ({"wsgi.url_scheme": "http"}, dict(NGINX), io.BytesIO())
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "7"
    assert environ["HTTP_HOST"] == "example.com"


def test_a_front_sending_only_the_http_forms_keeps_the_values() -> None:
    variables = {k: v for k, v in NGINX.items() if k not in ("CONTENT_TYPE", "CONTENT_LENGTH")}
    environ = uwsgi_environ({"wsgi.url_scheme": "http"}, variables, io.BytesIO())
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "7"
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
