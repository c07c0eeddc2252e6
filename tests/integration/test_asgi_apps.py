"""Real ASGI frameworks on usher: Starlette and FastAPI (directly and behind nginx over the uwsgi
protocol), Django's ASGI handler with an async and a sync view, WSGI and ASGI apps mounted side by
side, the scope a proxy completes (root-path, proxy-headers), forcing ASGI with `asgi`, a
compliance walk through the spec's message order, and a 1 GiB response in bounded memory."""

from __future__ import annotations

import json
import select
import socket
from pathlib import Path

import pytest

from tests.support.django_site import django_env, note_titles
from tests.support.http import Address, get, request
from tests.support.nginx import SERVER_NAME, StartNginx
from tests.support.paths import DJANGO_PROJECT, FIXTURES
from tests.support.server import Serve, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)

ON_PATH = ["--pythonpath", str(FIXTURES)]


def local(port: int) -> Address:
    return ("127.0.0.1", port)


@pytest.fixture(scope="module")
def starlette_site(module_serve: Serve) -> Address:
    port = free_port()
    module_serve(
        [*ON_PATH, "--http-socket", f"127.0.0.1:{port}", "--asgi", "asgi_frameworks:starlette_app"]
    )
    return local(port)


def test_starlette_with_its_lifespan_state(starlette_site: Address) -> None:
    response = get(starlette_site, "/")
    assert response.status == 200
    assert response.body.startswith(b"starlette says hi, started by ")


def test_starlette_reads_a_chunked_body_as_a_stream(starlette_site: Address) -> None:
    pieces = [bytes(1000)] * 300
    response = request(starlette_site, "POST", "/echo", body=iter(pieces))
    assert json.loads(response.body) == {"received": 300_000}


def test_starlette_streams_its_response(starlette_site: Address) -> None:
    response = get(starlette_site, "/count?n=4")
    assert response.body == b"0\n1\n2\n3\n"
    assert response.header("transfer-encoding") == "chunked"


def test_fastapi_on_http_and_behind_nginx_over_uwsgi(
    module_serve: Serve, module_nginx: StartNginx
) -> None:
    http, uwsgi = free_port(), free_port()
    module_serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{http}",
            "--socket",
            f"127.0.0.1:{uwsgi}",
            "--module",
            "asgi_frameworks:api",
            "--processes",
            "2",
        ]
    )
    nginx = module_nginx(f"127.0.0.1:{uwsgi}")
    for site in (local(http), nginx.address):
        item = get(site, "/items/7?q=x")
        assert (item.status, json.loads(item.body)) == (200, {"item_id": 7, "q": "x"})
        body = json.dumps({"name": "pen", "price": 1.5}).encode()
        created = request(
            site, "POST", "/items", body=body, headers={"Content-Type": "application/json"}
        )
        assert (created.status, json.loads(created.body)) == (200, {"name": "pen", "total": 3.0})
        invalid = request(
            site, "POST", "/items", body=b"{}", headers={"Content-Type": "application/json"}
        )
        assert invalid.status == 422
        state = json.loads(get(site, "/state").body)  # a sync endpoint, on FastAPI's threads
        assert state["started_by"] == state["pid"]  # each worker ran its own lifespan


def test_django_async_and_sync_views_through_its_asgi_handler(
    module_serve: Serve, django_db: Path
) -> None:
    port = free_port()
    args = ["--chdir", str(DJANGO_PROJECT), "--module", "mysite.asgi"]
    module_serve([*args, "--http-socket", f"127.0.0.1:{port}"], env=django_env(django_db))
    made = json.loads(get(local(port), "/notes/async/").body)  # ORM via sync_to_async
    assert made["count"] == len(made["titles"]) > 0
    sync = json.loads(get(local(port), "/notes/sync/").body)
    assert sync == {"count": made["count"], "view": "sync"}


def test_wsgi_and_asgi_apps_mounted_side_by_side(serve: Serve) -> None:
    port = free_port()
    serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "mount_apps:main",
            "--mount",
            "/api=asgi_frameworks:api",
            "--mount",
            "/st=asgi_frameworks:starlette_app",
            "--mount",
            "/blog=mount_apps:blog",
            "--manage-script-name",
        ]
    )
    site = local(port)
    assert json.loads(get(site, "/api/items/3").body) == {"item_id": 3, "q": None}
    where = json.loads(get(site, "/st/where").body)
    assert where["root_path"] == "/st" and where["url"].endswith("/st/where")
    assert json.loads(get(site, "/blog/post").body)["app"] == "blog"
    assert json.loads(get(site, "/apix").body)["app"] == "main"  # a prefix ends on a segment
    state = json.loads(get(site, "/api/state").body)  # each mounted app ran its own lifespan
    assert state["started_by"] == state["pid"]
    assert get(site, "/st/").body.startswith(b"starlette says hi, started by ")


def test_a_wsgi_mount_beside_an_asgi_app(serve: Serve) -> None:
    port = free_port()
    serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "asgi_frameworks:api",
            "--mount",
            "/legacy=mount_apps:blog",
        ]
    )
    legacy = json.loads(get(local(port), "/legacy/page").body)
    assert (legacy["app"], legacy["SCRIPT_NAME"], legacy["PATH_INFO"]) == (
        "blog",
        "/legacy",
        "/page",
    )
    assert json.loads(get(local(port), "/items/1").body)["item_id"] == 1


def test_root_path_and_proxy_headers_complete_the_scope(serve: Serve) -> None:
    port = free_port()
    serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "asgi_frameworks:starlette_app",
            "--root-path",
            "/app",
            "--proxy-headers",
        ]
    )
    forwarded = {"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https"}
    where = json.loads(get(local(port), "/where", headers=forwarded).body)
    assert where == {
        "url": f"https://127.0.0.1:{port}/app/where",
        "root_path": "/app",
        "client": "203.0.113.9",
    }
    # From a peer outside forwarded-allow-ips the headers are not believed.
    port = free_port()
    serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "asgi_frameworks:starlette_app",
            "--proxy-headers",
            "--forwarded-allow-ips",
            "10.0.0.0/8",
        ]
    )
    where = json.loads(get(local(port), "/where", headers=forwarded).body)
    assert where["client"] == "127.0.0.1" and where["url"].startswith("http://")


def test_asgi_forces_an_app_auto_detection_misses(serve: Serve) -> None:
    # A lambda that returns a coroutine is not a coroutine function: auto calls it as WSGI.
    port = free_port()
    serve(
        [
            *ON_PATH,
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "asgi_lifespan_apps:wrapped",
            "--asgi",
        ]
    )
    assert get(local(port), "/").body == b"served without lifespan"


@pytest.fixture(scope="module")
def plain_asgi(module_serve: Serve) -> tuple[ServerProcess, int]:
    port = free_port()
    server = module_serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(FIXTURES / "asgi_apps.py")]
    )
    return server, port


def test_the_scope_and_the_message_order_follow_the_spec(
    plain_asgi: tuple[ServerProcess, int],
) -> None:
    site = local(plain_asgi[1])
    response = request(site, "POST", "/compliance?a=%20b", body=iter([b"ab", b"cde"]))
    assert (response.status, response.body, response.header("x-c")) == (200, b"done", "1")
    report = json.loads(get(site, "/compliance-report").body)
    kinds = report["scope"]
    assert {
        key: kinds[key] for key in ("type", "http_version", "method", "scheme", "path", "root_path")
    } == {key: "str" for key in ("type", "http_version", "method", "scheme", "path", "root_path")}
    assert (kinds["raw_path"], kinds["query_string"], kinds["asgi"]) == ("bytes", "bytes", "dict")
    assert kinds["headers"] == ["bytes,bytes"] and kinds["header_names_lower"]
    assert kinds["client"] == ["str", "int"] and kinds["server"] == ["str", "int"]
    values = report["values"]
    assert values["asgi"]["version"] == "3.0" and values["asgi"]["spec_version"].startswith("2.")
    assert (values["method"], values["http_version"], values["scheme"]) == ("POST", "1.1", "http")
    assert (values["path"], values["raw_path"], values["query_string"]) == (
        "/compliance",
        "/compliance",
        "a=%20b",
    )
    # The body as http.request messages, more_body true until the last; then the response's
    # order enforced; then http.disconnect once the response is complete.
    received = report["received"]
    assert [step[0] for step in received] == ["http.request"] * len(received)
    assert sum(step[1] for step in received) == 5
    assert [bool(step[2]) for step in received] == [True] * (len(received) - 1) + [False]
    assert report["body_before_start"] and report["start_twice"] and report["send_after_end"]
    assert report["after_response"] == "http.disconnect"


def worker_pids(server: ServerProcess) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_1_gib_streamed_response_in_bounded_memory(plain_asgi: tuple[ServerProcess, int]) -> None:
    server, port = plain_asgi
    (worker,) = worker_pids(server)
    before = peak_rss_kib(worker)
    size = 1 << 30
    received = 0
    with socket.create_connection(local(port), timeout=30) as sock:
        sock.sendall(f"GET /big?size={size} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert (
            head.startswith(b"HTTP/1.1 200") and f"content-length: {size}".encode() in head.lower()
        )
        received = len(rest)
        buffer = bytearray(1 << 20)
        while received < size:
            count = sock.recv_into(buffer)
            assert count, "the connection closed early"
            received += count
    assert received == size
    # The app makes 1 MiB pieces and the worker waits while the client is slow: its peak
    # resident memory grows by a few pieces, not by the response.
    assert peak_rss_kib(worker) - before < 32 * 1024


def test_the_app_streams_the_request_body_as_it_comes(
    plain_asgi: tuple[ServerProcess, int],
) -> None:
    with socket.create_connection(local(plain_asgi[1]), timeout=10) as sock:
        head = b"POST /stream-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + b"5\r\nhello\r\n")
        answer = b""
        while b"hello" not in answer:  # the first piece comes back before the body has ended
            piece = sock.recv(4096)
            assert piece, answer
            answer += piece
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"6\r\n world\r\n0\r\n\r\n")
        while not answer.endswith(b"0\r\n\r\n"):
            piece = sock.recv(4096)
            assert piece, answer
            answer += piece
    assert b" world" in answer


def test_a_body_the_app_does_not_read_stops_the_reading(
    plain_asgi: tuple[ServerProcess, int],
) -> None:
    # /count-later reads nothing until /release: the worker must stop reading, so the client's
    # sends block long before 64 MiB (without it the worker would buffer them all).
    size, piece = 64 << 20, bytes(1 << 16)
    sent = 0
    with socket.create_connection(local(plain_asgi[1]), timeout=10) as sock:
        head = f"POST /count-later HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n"
        sock.sendall(head.encode())
        sock.setblocking(False)
        while sent < size:
            try:
                sent += sock.send(piece[: size - sent])
            except BlockingIOError:
                # Full: wait once for room, as long as a worker that reads would need.
                if not select.select([], [sock], [], 0.5)[1]:
                    break
        assert sent < size // 2, sent
        assert get(local(plain_asgi[1]), "/release").status == 200
        sock.setblocking(True)
        while sent < size:
            sent += sock.send(piece[: size - sent])
        answer = b""
        while not answer.endswith(str(size).encode()):
            more = sock.recv(4096)
            assert more, answer
            answer += more
    assert answer.startswith(b"HTTP/1.1 200")


def test_the_spec_holds_over_the_uwsgi_protocol_behind_nginx(
    module_serve: Serve, module_nginx: StartNginx
) -> None:
    port = free_port()
    module_serve(["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(FIXTURES / "asgi_apps.py")])
    nginx = module_nginx(f"127.0.0.1:{port}")
    response = request(nginx.address, "POST", "/compliance?a=1", body=b"abcde")
    assert (response.status, response.body) == (200, b"done")
    report = json.loads(get(nginx.address, "/compliance-report").body)
    assert report["scope"]["client"] == ["str", "int"] and report["scope"]["headers"] == [
        "bytes,bytes"
    ]
    assert (report["values"]["path"], report["values"]["query_string"]) == ("/compliance", "a=1")
    assert sum(step[1] for step in report["received"]) == 5
    assert report["received"][-1][2] is False
    assert report["after_response"] == "http.disconnect"


def test_the_scope_from_nginxs_variables_over_tls_and_under_a_prefix(
    module_serve: Serve, module_nginx: StartNginx
) -> None:
    port = free_port()
    module_serve(["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(FIXTURES / "asgi_apps.py")])
    mounts = {"/sub/": "            uwsgi_param SCRIPT_NAME /sub;"}
    nginx = module_nginx(f"127.0.0.1:{port}", tls=True, mounts=mounts)
    response = request(nginx.tls_address, "GET", "/sub/scope?k=v", tls=True)
    assert response.status == 200
    scope = json.loads(response.body)
    assert (scope["scheme"], scope["root_path"], scope["path"]) == ("https", "/sub", "/sub/scope")
    assert scope["client"][0] == "127.0.0.1" and scope["query_string"] == "k=v"
    assert scope["server"] == [SERVER_NAME, nginx.tls_port]  # what the client asked for


def test_an_asgi_app_factory(serve: Serve) -> None:
    port = free_port()
    factory = "asgi_frameworks:make_starlette()"
    serve([*ON_PATH, "--http-socket", f"127.0.0.1:{port}", "--module", factory])
    assert get(local(port), "/").body.startswith(b"starlette says hi")


def test_django_over_wsgi_beside_an_asgi_mount(serve: Serve, django_db: Path) -> None:
    # The worker's loop runs the ASGI app's tasks; Django's ORM in the WSGI views must still not
    # see a running loop (SynchronousOnlyOperation), so the loop is hidden around each WSGI call.
    port = free_port()
    args = ["--chdir", str(DJANGO_PROJECT), "--module", "mysite.wsgi", *ON_PATH]
    mount = ["--mount", "/api=asgi_frameworks:api"]
    serve([*args, *mount, "--http-socket", f"127.0.0.1:{port}"], env=django_env(django_db))
    assert note_titles(get(local(port), "/"))  # the ORM, through the WSGI handler
    assert json.loads(get(local(port), "/api/items/5").body)["item_id"] == 5
    assert note_titles(get(local(port), "/page/"))


def test_a_bad_chunk_in_a_body_being_answered_drops_the_connection(
    plain_asgi: tuple[ServerProcess, int],
) -> None:
    with socket.create_connection(local(plain_asgi[1]), timeout=10) as sock:
        head = b"POST /stream-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + b"5\r\nhello\r\n")
        answer = b""
        while b"hello" not in answer:
            piece = sock.recv(4096)
            assert piece, answer
            answer += piece
        sock.sendall(b"zz\r\nnot a chunk\r\n")  # malformed: the response under way is cut
        while piece := sock.recv(4096):
            answer += piece
    # No second response (a 400) is written after the head of the first.
    assert answer.count(b"HTTP/1.1") == 1 and not answer.endswith(b"0\r\n\r\n")
    assert get(local(plain_asgi[1]), "/").status == 200  # the worker serves on
