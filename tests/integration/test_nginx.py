"""Behind a real nginx with Debian's stock uwsgi_params, as sites deploy it: the Django project
over `uwsgi_pass` on TCP and on a unix socket, and the echo app to check that every CGI variable
nginx sends (scheme, client address, server name, script name, path, query) reaches the app as
sent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.support.django_site import (
    check_admin_login,
    check_csrf_post_flow,
    check_template_page,
    django_app_args,
    django_env,
)
from tests.support.http import Address, Browser, ResponseReader, connect, request
from tests.support.nginx import SERVER_NAME, NginxProcess, StartNginx
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, free_port

pytestmark = [pytest.mark.nginx, pytest.mark.timeout(60)]


def browser_via(nginx: NginxProcess) -> Browser:
    return Browser(nginx.address, host=f"127.0.0.1:{nginx.port}")


# -- Django ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_over_tcp(module_serve: Serve, module_nginx: StartNginx, django_db: Path) -> NginxProcess:
    port = free_port()
    args = [*django_app_args(), "--socket", f"127.0.0.1:{port}", "--processes", "2"]
    module_serve(args, env=django_env(django_db))
    return module_nginx(f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def django_over_unix(
    module_serve: Serve, module_nginx: StartNginx, django_db: Path, module_sock_dir: Path
) -> NginxProcess:
    path = module_sock_dir / "django.sock"
    args = [*django_app_args(), "--socket", str(path), "--chmod-socket", "--processes", "2"]
    module_serve(args, env=django_env(django_db))
    return module_nginx(f"unix:{path}")


@pytest.fixture(params=["tcp", "unix"])
def django_nginx(request: pytest.FixtureRequest) -> NginxProcess:
    nginx: NginxProcess = request.getfixturevalue(f"django_over_{request.param}")
    return nginx


def test_django_page(django_nginx: NginxProcess) -> None:
    check_template_page(browser_via(django_nginx))


def test_django_csrf_post(django_nginx: NginxProcess) -> None:
    check_csrf_post_flow(browser_via(django_nginx))


def test_django_admin_login(django_nginx: NginxProcess) -> None:
    check_admin_login(browser_via(django_nginx))


# -- CGI variables through uwsgi_params --------------------------------------------------------


@pytest.fixture(scope="module")
def echo_nginx(module_serve: Serve, module_nginx: StartNginx) -> NginxProcess:
    port = free_port()
    module_serve(["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS)])
    # A mount the classic way: nginx names the prefix in SCRIPT_NAME and the app is told as is.
    mounts = {"/mounted/": "            uwsgi_param SCRIPT_NAME /mounted;"}
    return module_nginx(f"127.0.0.1:{port}", tls=True, mounts=mounts)


def echo_raw(address: Address, target: bytes) -> tuple[dict[str, object], int]:
    """GET `target` over a raw socket; returns the echo and the client's own port."""
    with connect(address) as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        response = ResponseReader(sock).read_response()
        client_port: int = sock.getsockname()[1]
    assert response.status == 200, response.text
    echo: dict[str, object] = response.json()
    return echo, client_port


def test_cgi_variables_arrive_as_nginx_sends_them(echo_nginx: NginxProcess) -> None:
    echo, client_port = echo_raw(echo_nginx.address, b"/echo/a%20b/c?x=1&y=%2F")
    assert echo["REQUEST_METHOD"] == "GET"
    assert echo["SCRIPT_NAME"] == ""
    assert echo["PATH_INFO"] == "/echo/a b/c"  # nginx's $document_uri is decoded
    assert echo["QUERY_STRING"] == "x=1&y=%2F"
    assert echo["REQUEST_URI"] == "/echo/a%20b/c?x=1&y=%2F"
    assert echo["SERVER_NAME"] == SERVER_NAME
    assert echo["SERVER_PORT"] == str(echo_nginx.port)
    assert echo["SERVER_PROTOCOL"] == "HTTP/1.1"
    # The browser's address as nginx saw it, not nginx's own connection to the server.
    assert echo["REMOTE_ADDR"] == "127.0.0.1"
    assert echo["REMOTE_PORT"] == str(client_port)
    assert echo["url_scheme"] == "http"
    assert echo["REQUEST_SCHEME"] == "http"
    assert "HTTPS" not in echo
    headers = echo["headers"]
    assert isinstance(headers, dict)
    assert headers["HTTP_HOST"] == "127.0.0.1"


def test_https_at_nginx_sets_the_scheme(echo_nginx: NginxProcess) -> None:
    response = request(echo_nginx.tls_address, "GET", "/echo/secure?q=1", tls=True)
    assert response.status == 200
    echo = response.json()
    assert echo["HTTPS"] == "on"
    assert echo["REQUEST_SCHEME"] == "https"
    assert echo["url_scheme"] == "https"
    assert echo["SERVER_PORT"] == str(echo_nginx.tls_port)
    assert echo["PATH_INFO"] == "/echo/secure"


def test_script_name_from_nginx_is_passed_through(echo_nginx: NginxProcess) -> None:
    echo, _ = echo_raw(echo_nginx.address, b"/mounted/echo/x?z=9")
    assert echo["SCRIPT_NAME"] == "/mounted"
    assert echo["PATH_INFO"] == "/mounted/echo/x"
    assert echo["QUERY_STRING"] == "z=9"


def test_post_body_through_nginx(echo_nginx: NginxProcess) -> None:
    body = os.urandom(5 * 1024 * 1024)
    response = request(
        echo_nginx.address,
        "POST",
        "/echo/upload",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status == 200
    echo = response.json()
    assert echo["CONTENT_LENGTH"] == str(len(body))
    assert echo["CONTENT_TYPE"] == "application/octet-stream"
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_streamed_response_through_nginx(echo_nginx: NginxProcess) -> None:
    response = request(echo_nginx.address, "GET", "/stream?chunks=100&size=100000")
    assert response.status == 200
    expected = hashlib.sha256()
    for index in range(100):
        expected.update(bytes([index]) * 100000)
    assert hashlib.sha256(response.body).hexdigest() == expected.hexdigest()


def test_underscore_headers_are_dropped_by_nginx_and_server(echo_nginx: NginxProcess) -> None:
    with connect(echo_nginx.address) as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n"
            b"Connection: close\r\n\r\n"
        )
        echo = ResponseReader(sock).read_response().json()
    assert "HTTP_X_FORWARDED_FOR" not in echo["headers"]


# -- nginx proxying to the HTTP listener -------------------------------------------------------


def test_proxy_pass_to_the_http_socket(
    module_serve: Serve, module_nginx: StartNginx, module_sock_dir: Path
) -> None:
    path = module_sock_dir / "http.sock"
    module_serve(["--http-socket", str(path), "--wsgi-file", str(WSGI_APPS), "--chmod-socket"])
    nginx = module_nginx(f"unix:{path}", kind="http")
    response = request(nginx.address, "GET", "/echo/proxied?a=b", headers={"Host": "127.0.0.1"})
    assert response.status == 200
    echo = response.json()
    assert echo["PATH_INFO"] == "/echo/proxied"
    assert echo["QUERY_STRING"] == "a=b"
    assert echo["headers"]["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"


def test_wsgiref_validate_behind_nginx_post(echo_nginx: NginxProcess) -> None:
    # nginx sends Content-Type and Content-Length as HTTP_ variables too; PEP 3333 (which
    # validate enforces, answering 500) forbids those forms in the environ.
    body = b"a=1&b=2"
    response = request(
        echo_nginx.address, "POST", "/validate", body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status == 200, response.text
