"""The router over HTTP, configured by an ini file the way uWSGI users write one: mounts with
manage-script-name, internal routing (route, route-uri, route-host, route-if, response-route),
add-header/del-header/collect-header, and donotlog keeping requests out of the access log."""

from __future__ import annotations

import select

import pytest

from tests.support.http import Address, get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port, server_is_usher

pytestmark = pytest.mark.timeout(60)

MOUNT_APPS = FIXTURES / "mount_apps.py"

ROUTING_INI = """\
[uwsgi]
http-socket = 127.0.0.1:{port}
pythonpath = {fixtures}
module = mount_apps:main
mount = /blog=mount_apps:blog
mount = /blog/admin=mount_apps:blog_admin
mount = /shop={mount_file}
manage-script-name = true
add-header = X-Served-By: usher
add-header = X-Frame-Options: DENY
del-header = X-Drop
route = ^/old/(.*)$ redirect-permanent:/new/$1
route-uri = ^/temp\\?(.*)$ redirect:/elsewhere?$1
route-host = ^www\\.(.*)$ redirect:http://$1${{REQUEST_URI}}
route-if = startswith:${{REQUEST_URI}};/quiet donotlog:
route-if = equal:${{PATH_INFO}};/forbidden break:403 Forbidden
route = ^/gone$ return:410
route = ^/rw/(.*)$ rewrite:/blog/$1
route = ^/var setvar:ROUTED=yes
route-if-not = empty:${{HTTP_X_TAG}} addheader:X-Tag: ${{HTTP_X_TAG}}
route-if = regexp:${{HTTP_USER_AGENT}};^bot/([0-9]+) addheader:X-Bot: $1
route = ^/stop continue:
route = ^/stop return:500
route = ^/nohdr delheader:X-Frame-Options
route = ^/close$ break:
route = ^/foo chdir:/tmp
response-route-status = ^404$ addheader:X-Was-Missing: yes
collect-header = X-Kind KIND
response-route-if = equal:${{KIND}};blog addheader:X-Kind-Seen: ${{KIND}}
"""


@pytest.fixture(scope="module")
def routed(
    module_serve: Serve, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ServerProcess, Address]:
    if not server_is_usher():
        pytest.skip("usher's router")
    port = free_port()
    ini = tmp_path_factory.mktemp("routing") / "app.ini"
    ini.write_text(ROUTING_INI.format(port=port, fixtures=FIXTURES, mount_file=MOUNT_APPS))
    server = module_serve(["--ini", str(ini)])
    return server, ("127.0.0.1", port)


@pytest.fixture
def site(routed: tuple[ServerProcess, Address]) -> Address:
    return routed[1]


# -- mounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "app", "script_name", "path_info"),
    [
        ("/", "main", "", "/"),
        ("/blog", "blog", "/blog", ""),
        ("/blog/post/1", "blog", "/blog", "/post/1"),
        ("/blog/admin/users", "blog_admin", "/blog/admin", "/users"),  # the longest prefix wins
        ("/bloggers", "main", "", "/bloggers"),  # a prefix matches whole path segments only
        ("/shop/cart", "main", "/shop", "/cart"),  # a file mount: its `application` (main)
    ],
)
def test_mount_picks_the_app_and_splits_script_name(
    site: Address, path: str, app: str, script_name: str, path_info: str
) -> None:
    seen = get(site, path).json()
    assert (seen["app"], seen["SCRIPT_NAME"], seen["PATH_INFO"]) == (app, script_name, path_info)
    assert seen["REQUEST_URI"] == path


def test_no_default_app_answers_404_outside_the_mounts(serve: Serve) -> None:
    port = free_port()
    serve(
        [
            "--http-socket",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(FIXTURES),
            "--module",
            "mount_apps:main",
            "--mount",
            "/blog=mount_apps:blog",
            "--manage-script-name",
            "--no-default-app",
        ]
    )
    site = ("127.0.0.1", port)
    assert get(site, "/blog/x").json()["app"] == "blog"
    assert get(site, "/other").status == 404


def test_mounts_alone_serve_404_elsewhere(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--pythonpath", str(FIXTURES)]
    serve([*args, "--mount", "/blog=mount_apps:blog", "--manage-script-name"])
    site = ("127.0.0.1", port)
    assert get(site, "/blog/").json()["PATH_INFO"] == "/"
    assert get(site, "/").status == 404


# -- headers ----------------------------------------------------------------------------------


def test_add_header_and_del_header_apply_to_every_response(site: Address) -> None:
    for path in ("/", "/blog/x", "/old/a", "/gone", "/missing"):
        response = get(site, path)
        assert response.header("x-served-by") == "usher", path
        assert response.header("x-frame-options") == "DENY", path
        assert response.header("x-drop") is None, path


def test_collect_header_feeds_response_routes(site: Address) -> None:
    assert get(site, "/blog/x").header("x-kind-seen") == "blog"
    assert get(site, "/").header("x-kind-seen") is None


def test_response_route_status(site: Address) -> None:
    missing = get(site, "/x/missing")
    assert (missing.status, missing.header("x-was-missing")) == (404, "yes")
    assert get(site, "/").header("x-was-missing") is None


# -- request routes ---------------------------------------------------------------------------


def test_redirects(site: Address) -> None:
    permanent = get(site, "/old/page?x=1")
    assert (permanent.status, permanent.header("location")) == (301, "/new/page")
    temporary = get(site, "/temp?a=b")
    assert (temporary.status, temporary.header("location")) == (302, "/elsewhere?a=b")
    host = get(site, "/p?q", headers={"Host": "www.example.com"})
    assert (host.status, host.header("location")) == (302, "http://example.com/p?q")


def test_break_and_return_answer_without_the_app(site: Address) -> None:
    forbidden = get(site, "/forbidden")
    assert (forbidden.status, forbidden.body) == (403, b"Forbidden\n")
    gone = get(site, "/gone")
    assert (gone.status, gone.body) == (410, b"Gone\n")


def test_break_without_status_closes_the_connection(site: Address) -> None:
    with pytest.raises(ConnectionError):
        get(site, "/close")
    assert get(site, "/").status == 200


def test_rewrite_changes_path_and_reaches_the_mount(site: Address) -> None:
    seen = get(site, "/rw/p?q=2").json()
    assert (seen["app"], seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("blog", "/blog", "/p")
    assert (seen["QUERY_STRING"], seen["REQUEST_URI"]) == ("q=2", "/blog/p?q=2")


def test_setvar_reaches_the_app(site: Address) -> None:
    assert get(site, "/var").json()["ROUTED"] == "yes"
    assert get(site, "/").json()["ROUTED"] is None


def test_route_if_conditions_and_groups(site: Address) -> None:
    tagged = get(site, "/", headers={"X-Tag": "t1", "User-Agent": "bot/42 (x)"})
    assert (tagged.header("x-tag"), tagged.header("x-bot")) == ("t1", "42")
    plain = get(site, "/", headers={"User-Agent": "browser"})
    assert (plain.header("x-tag"), plain.header("x-bot")) == (None, None)


def test_continue_stops_the_chain(site: Address) -> None:
    assert get(site, "/stop").status == 200  # the return:500 after continue never runs


def test_delheader_route(site: Address) -> None:
    response = get(site, "/nohdr")
    assert response.header("x-frame-options") is None
    assert response.header("x-served-by") == "usher"


def test_donotlog_keeps_the_request_out_of_the_access_log(
    routed: tuple[ServerProcess, Address],
) -> None:
    server, site = routed
    assert get(site, "/quiet/one").status == 200
    logged_after(server, site)
    assert "GET /quiet/one " not in server.log_text()


def test_unsupported_action_is_one_line_at_startup(routed: tuple[ServerProcess, Address]) -> None:
    lines = [line for line in server_lines(routed[0]) if "'chdir'" in line]
    assert len(lines) == 1 and "^/foo chdir:/tmp" in lines[0]


def test_unsupported_action_under_strict_exits_2(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--pythonpath", str(FIXTURES)]
    server = serve(
        [*args, "--module", "mount_apps:main", "--route", "^/x chdir:/tmp", "--strict"],
        wait_ready=False,
    )
    assert server.wait() == 2
    assert "the route action 'chdir' is not supported" in server.log_text()


def test_unreadable_rule_exits_2(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--module", "mount_apps:main"]
    server = serve([*args, "--route-if", "nonsense:${X} donotlog:"], wait_ready=False)
    assert server.wait() == 2
    assert "route-if takes one of" in server.log_text()


# -- helpers ----------------------------------------------------------------------------------


def server_lines(server: ServerProcess) -> list[str]:
    return server.log_text().splitlines()


def logged_after(server: ServerProcess, site: Address, attempts: int = 50) -> None:
    """Send requests until one's access line is in the log: every line of the requests before
    it is then written too (one worker writes its lines in order)."""
    for attempt in range(attempts):
        assert get(site, f"/mark-{attempt}").status == 200
        if f"GET /mark-{attempt} " in server.log_text():
            return
        select.select([], [], [], 0.05)
    raise AssertionError("no access line appeared")


def test_router_on_pool_threads(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--pythonpath", str(FIXTURES), "--threads", "2"]
    serve(
        [
            *args,
            "--module",
            "mount_apps:main",
            "--mount",
            "/blog=mount_apps:blog",
            "--manage-script-name",
            "--route",
            "^/gone$ return:410",
            "--add-header",
            "X-Served-By: usher",
        ]
    )
    site = ("127.0.0.1", port)
    blog = get(site, "/blog/a")
    assert (blog.json()["PATH_INFO"], blog.header("x-served-by")) == ("/a", "usher")
    assert get(site, "/gone").status == 410


def test_a_mount_that_cannot_load_stops_the_server_naming_it(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--pythonpath", str(FIXTURES)]
    server = serve(
        [*args, "--module", "mount_apps:main", "--mount", "/x=no_such_module_here"],
        wait_ready=False,
    )
    assert server.wait() != 0
    assert "mount /x: module 'no_such_module_here' not found" in server.log_text()


def test_the_banner_names_the_mounts(routed: tuple[ServerProcess, Address]) -> None:
    assert "app mount_apps:main; mounts /blog, /blog/admin, /shop" in routed[0].log_text()
