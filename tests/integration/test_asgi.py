"""ASGI apps served by usher: a plain ASGI 3 app over HTTP (bodies, streaming, errors, the scope,
two requests at once on one worker's loop), the same behind real nginx over the uwsgi protocol,
and the Django fixture project through Django's own ASGI handler."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.support.django_site import django_env, note_titles
from tests.support.http import Address, get, request
from tests.support.nginx import NginxProcess, StartNginx
from tests.support.paths import DJANGO_PROJECT, FIXTURES
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)

ASGI_APPS = FIXTURES / "asgi_apps.py"


@pytest.fixture(scope="module")
def asgi_server(module_serve: Serve) -> tuple[ServerProcess, Address]:
    port = free_port()
    # One worker: the concurrency test needs both requests on the same loop.
    server = module_serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(ASGI_APPS)])
    return server, ("127.0.0.1", port)


@pytest.fixture
def site(asgi_server: tuple[ServerProcess, Address]) -> Address:
    return asgi_server[1]


def test_a_coroutine_callable_is_served_as_asgi(site: Address) -> None:
    response = get(site, "/")
    assert (response.status, response.body) == (200, b"hello from asgi")
    assert response.header("content-length") == str(len(b"hello from asgi"))


def test_the_body_reaches_the_app(site: Address) -> None:
    body = bytes(range(256)) * 300
    response = request(site, "POST", "/echo", body=body)
    assert (response.status, response.body) == (200, body)


def test_a_chunked_request_body_reaches_the_app(site: Address) -> None:
    response = request(site, "POST", "/echo", body=iter([b"ab", b"cd", b"ef"]))
    assert (response.status, response.body) == (200, b"abcdef")


def test_a_streamed_response_is_chunked(site: Address) -> None:
    response = get(site, "/stream")
    assert (response.status, response.body) == (200, b"one,two,three")
    assert response.header("transfer-encoding") == "chunked"


def test_the_scope(site: Address) -> None:
    response = get(site, "/scope?a=1&b=%20", headers={"X-Test": "yes"})
    scope = json.loads(response.body)
    assert scope["method"] == "GET" and scope["path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["http_version"] == "1.1" and scope["scheme"] == "http"
    assert scope["headers"]["x-test"] == "yes"
    assert scope["client"][0] == "127.0.0.1"
    assert scope["running_loop"]


def test_an_exception_is_a_500_and_the_worker_serves_on(
    site: Address, asgi_server: tuple[ServerProcess, Address]
) -> None:
    response = get(site, "/boom")
    assert response.status == 500
    assert get(site, "/").status == 200
    assert "boom in an ASGI app" in asgi_server[0].stderr_text()


def test_two_requests_run_at_once_on_one_worker(site: Address) -> None:
    # /wait awaits an event that /release sets: with one worker, it can only finish if the
    # second request is served while the first is still waiting on the same loop.
    waited: list[int] = []
    waiter = threading.Thread(target=lambda: waited.append(get(site, "/wait").status))
    waiter.start()
    release = get(site, "/release")
    waiter.join(timeout=30)
    assert release.status == 200
    assert waited == [200]


@pytest.mark.nginx
def test_asgi_behind_nginx_over_the_uwsgi_protocol(
    module_serve: Serve, module_nginx: StartNginx
) -> None:
    port = free_port()
    module_serve(["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(ASGI_APPS)])
    nginx: NginxProcess = module_nginx(f"127.0.0.1:{port}")
    response = request(nginx.address, "POST", "/echo", body=b"through nginx")
    assert (response.status, response.body) == (200, b"through nginx")
    scope = json.loads(get(nginx.address, "/scope?x=1").body)
    assert scope["path"] == "/scope" and scope["query_string"] == "x=1"
    assert scope["client"][0] == "127.0.0.1"


def test_django_through_its_asgi_handler(module_serve: Serve, django_db: Path) -> None:
    port = free_port()
    args = ["--chdir", str(DJANGO_PROJECT), "--module", "mysite.asgi"]
    module_serve([*args, "--http-socket", f"127.0.0.1:{port}"], env=django_env(django_db))
    page = get(("127.0.0.1", port), "/")
    assert page.status == 200
    assert note_titles(page)  # the notes from the database, through the ORM


def test_interface_names_how_the_app_is_called(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(ASGI_APPS)]
    serve([*args, "--interface", "asgi"])
    assert get(("127.0.0.1", port), "/").body == b"hello from asgi"
    # Called as WSGI (two arguments), an ASGI app fails: the worker answers 500 and says why.
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(ASGI_APPS)]
    server = serve([*args, "--interface", "wsgi"])
    assert get(("127.0.0.1", port), "/").status == 500
    assert "TypeError" in server.stderr_text()
