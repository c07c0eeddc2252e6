"""The Flask fixture app over HTTP: JSON, forms, streaming, uploads, errors and redirects, loaded
the way Flask users configure uWSGI (`--wsgi-file app.py --callable app`)."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.support.http import Address, get, multipart_body, request
from tests.support.paths import FLASK_APP
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def flask_server(module_serve: Serve) -> tuple[ServerProcess, Address]:
    port = free_port()
    server = module_serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(FLASK_APP), "--callable", "app"]
    )
    return server, ("127.0.0.1", port)


@pytest.fixture
def site(flask_server: tuple[ServerProcess, Address]) -> Address:
    return flask_server[1]


def test_index(site: Address) -> None:
    response = get(site, "/")
    assert (response.status, response.body) == (200, b"Flask on usher\n")


def test_json_endpoint(site: Address) -> None:
    response = get(site, "/json?x=1&name=usher")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.json() == {
        "hello": "world",
        "args": {"x": "1", "name": "usher"},
        "method": "GET",
    }


def test_form_post(site: Address) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ok = request(site, "POST", "/form", body=b"name=us%C3%A9r", headers=form)
    assert (ok.status, ok.text) == (200, "Hello, us\u00e9r!\n")
    missing = request(site, "POST", "/form", body=b"other=1", headers=form)
    assert missing.status == 400


def test_streaming_response_arrives_whole(site: Address) -> None:
    response = get(site, "/stream?count=500")
    assert response.status == 200
    assert response.text == "".join(f"line {n}\n" for n in range(500))


def test_file_upload(site: Address) -> None:
    content = os.urandom(300_000)
    ctype, body = multipart_body(
        {"note": "a note"}, {"file": ("photo.bin", content, "application/octet-stream")}
    )
    response = request(site, "POST", "/upload", body=body, headers={"Content-Type": ctype})
    assert response.status == 200, response.text
    assert response.json() == {
        "filename": "photo.bin",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "note": "a note",
    }


def test_error_route_gives_500_and_the_next_request_works(
    flask_server: tuple[ServerProcess, Address],
) -> None:
    server, site = flask_server
    assert get(site, "/boom").status == 500
    assert get(site, "/json").status == 200
    # Flask logs the exception to wsgi.errors, which must reach the server's log.
    assert "the /boom route fails on purpose" in server.log_text()


def test_redirect(site: Address) -> None:
    response = get(site, "/go")
    assert response.status == 302
    assert response.header("location") == "/json?via=redirect"
