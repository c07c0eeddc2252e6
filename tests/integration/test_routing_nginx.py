"""Mounts and routes behind a real nginx with Debian's stock uwsgi_params: the path nginx sends
is split into SCRIPT_NAME and PATH_INFO by manage-script-name, routes see nginx's variables, and
donotlog keeps one-shot uwsgi requests out of the access log too."""

from __future__ import annotations

import select

import pytest

from tests.support.http import Address, get
from tests.support.nginx import NginxProcess, StartNginx
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port, server_is_usher

pytestmark = [pytest.mark.nginx, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def behind_nginx(
    module_serve: Serve, module_nginx: StartNginx
) -> tuple[ServerProcess, NginxProcess]:
    if not server_is_usher():
        pytest.skip("usher's router")
    port = free_port()
    server = module_serve(
        [
            "--socket",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(FIXTURES),
            "--module",
            "mount_apps:main",
            "--mount",
            "/blog=mount_apps:blog",
            "--manage-script-name",
            "--add-header",
            "X-Served-By: usher",
            "--route",
            "^/old$ redirect-permanent:/blog/",
            "--route-if",
            "startswith:${REQUEST_URI};/health donotlog:",
        ]
    )
    return server, module_nginx(f"127.0.0.1:{port}")


def test_mount_behind_nginx(behind_nginx: tuple[ServerProcess, NginxProcess]) -> None:
    site = behind_nginx[1].address
    seen = get(site, "/blog/post/7?x=1")
    assert seen.header("x-served-by") == "usher"
    payload = seen.json()
    assert (payload["app"], payload["SCRIPT_NAME"], payload["PATH_INFO"]) == (
        "blog",
        "/blog",
        "/post/7",
    )
    assert (payload["QUERY_STRING"], payload["REQUEST_URI"]) == ("x=1", "/blog/post/7?x=1")
    assert get(site, "/other").json()["app"] == "main"


def test_redirect_behind_nginx(behind_nginx: tuple[ServerProcess, NginxProcess]) -> None:
    response = get(behind_nginx[1].address, "/old")
    assert response.status == 301
    assert (response.header("location") or "").endswith("/blog/")


def test_donotlog_on_uwsgi_requests(behind_nginx: tuple[ServerProcess, NginxProcess]) -> None:
    server, nginx = behind_nginx
    assert get(nginx.address, "/health/check").status == 200
    logged_after(server, nginx.address)
    assert "GET /health/check " not in server.log_text()


def logged_after(server: ServerProcess, site: Address, attempts: int = 50) -> None:
    """Send requests until one's access line is in the log (one worker writes in order)."""
    for attempt in range(attempts):
        assert get(site, f"/mark-{attempt}").status == 200
        if f"GET /mark-{attempt} " in server.log_text():
            return
        select.select([], [], [], 0.05)
    raise AssertionError("no access line appeared")
