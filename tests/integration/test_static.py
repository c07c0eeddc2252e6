"""Static files served by a real usher, over HTTP, over uwsgi behind a real nginx, and beside
nginx serving the same directory: the HTTP rules where usher and nginx agree, and where nginx is
wrong (If-None-Match against If-Modified-Since, the alias off-by-slash trap)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.django_site import django_app_args, django_env, manage
from tests.support.events import EventListener
from tests.support.http import Address, connect, get, request
from tests.support.nginx import NginxProcess, nginx_available, start_nginx
from tests.support.paths import FIXTURES
from tests.support.server import Serve, ServerProcess, free_port, server_is_usher

pytestmark = [pytest.mark.timeout(60)]

BIG = 3 * (1 << 20) + 17  # past the in-memory size and several sendfile steps


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    static = root / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.css").write_text("body { color: red }\n")
    (static / "css" / "app.0123456789ab.css").write_text("body{}\n")
    (static / "big.bin").write_bytes(os.urandom(BIG))
    (static / "docs").mkdir()
    (static / "docs" / "index.html").write_text("<p>docs</p>\n")
    text = b"var x = 1;\n" * 300
    (static / "app.js").write_bytes(text)
    (static / "app.js.gz").write_bytes(gzip.compress(text))
    (static / "app.js.br").write_bytes(b"B" * 40)  # smaller than the .gz: chosen when accepted
    (root / "media").mkdir()
    (root / "media" / "upload.txt").write_text("uploaded\n")
    (root / "settings.py").write_text("SECRET_KEY = 'do-not-serve'\n")
    os.symlink(root / "settings.py", static / "leak.py")
    return root


@pytest.fixture(scope="module")
def server(module_serve: Serve, site: Path) -> tuple[ServerProcess, Address, int]:
    if not server_is_usher():
        pytest.skip("usher's static files")
    http_port, uwsgi_port = free_port(), free_port()
    process = module_serve(
        [
            "--http-socket", f"127.0.0.1:{http_port}",
            "--socket", f"127.0.0.1:{uwsgi_port}",
            "--pythonpath", str(FIXTURES),
            "--module", "wsgi_apps",
            "--threads", "2",
            "--static-map", f"/static={site}/static",
            "--static-map", f"/media={site}/media",
            "--static-index", "index.html",
            "--static-gzip-all",
            "--static-expires-uri", r"^/static/css/app\.css 3600",
            "--charset", "utf-8",
        ]
    )  # fmt: skip
    return process, ("127.0.0.1", http_port), uwsgi_port


@pytest.fixture(scope="module")
def address(server: tuple[ServerProcess, Address, int]) -> Address:
    return server[1]


@pytest.fixture(scope="module")
def nginx(
    server: tuple[ServerProcess, Address, int],
    site: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NginxProcess]:
    if not nginx_available():
        pytest.skip("nginx is not installed")
    front = start_nginx(
        tmp_path_factory.mktemp("nginx"),
        f"127.0.0.1:{server[2]}",
        "uwsgi",
        statics={"/nginx-static": site / "static"},
    )
    yield front
    front.stop()


def test_file_with_validators_and_type(address: Address, site: Path) -> None:
    seen = get(address, "/static/css/app.css")
    assert seen.status == 200
    assert seen.body == (site / "static/css/app.css").read_bytes()
    assert seen.header("content-type") == "text/css; charset=utf-8"
    st = (site / "static/css/app.css").stat()
    assert seen.header("etag") == f'"{int(st.st_mtime):x}-{st.st_size:x}"'
    assert seen.header("last-modified") is not None
    assert seen.header("accept-ranges") == "bytes"
    assert seen.header("expires") is not None  # static-expires-uri
    head = request(address, "HEAD", "/static/css/app.css")
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(st.st_size)


def test_big_file_by_sendfile_and_a_miss_goes_to_the_app(address: Address, site: Path) -> None:
    seen = get(address, "/static/big.bin")
    assert seen.status == 200 and len(seen.body) == BIG
    digest = hashlib.sha256((site / "static/big.bin").read_bytes()).hexdigest()
    assert hashlib.sha256(seen.body).hexdigest() == digest
    miss = get(address, "/static/echo")  # no such file: wsgi_apps' echo answers
    assert miss.status == 200 and miss.json()["PATH_INFO"] == "/static/echo"
    assert get(address, "/media/upload.txt").body == b"uploaded\n"


def test_keep_alive_after_a_sendfile_response(address: Address) -> None:
    sock = connect(address)
    try:
        sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        sock.sendall(b"GET /static/css/app.css HTTP/1.1\r\nHost: x\r\n\r\n")
        wanted = 2 * BIG + 20
        got = b""
        while got.count(b"HTTP/1.1 200 OK") < 3 or len(got) < wanted:
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            got += chunk
        assert got.endswith(b"body { color: red }\n")
    finally:
        sock.close()


def _small_window_socket(address: tuple[str, int]) -> socket.socket:
    # Set before connecting, so the window is negotiated small: the server's sendfile then waits
    # on this client long before the file is sent.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(10.0)
    sock.connect(address)
    return sock


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_slow_reader_does_not_hold_the_worker(address: Address, site: Path) -> None:
    assert isinstance(address, tuple)
    slow = _small_window_socket(address)
    try:
        slow.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # The big file waits on this client's full buffers; another client is served meanwhile.
        assert get(address, "/static/css/app.css", timeout=2.0).status == 200
        got = b""
        while len(got) < BIG or b"\r\n\r\n" not in got[:2000]:
            chunk = slow.recv(1 << 20)
            assert chunk
            got += chunk
        body = got.split(b"\r\n\r\n", 1)[1]
        while len(body) < BIG:
            chunk = slow.recv(1 << 20)
            assert chunk
            body += chunk
        assert body == (site / "static/big.bin").read_bytes()
    finally:
        slow.close()


def test_a_client_leaving_mid_file_leaks_nothing(address: Address) -> None:
    # Every count is taken with the same one client connected (`steady`, kept alive) and no
    # other: a client that has just closed its connection is still counted until the worker reads
    # the close, a turn or more later, so counting after a fresh get() measures that race (one
    # more fd, now and then even in the baseline's favour) rather than what the resets left.
    assert isinstance(address, tuple)
    steady = http.client.HTTPConnection(*address, timeout=10.0)
    try:

        def steady_get(path: str) -> bytes:
            steady.request("GET", path)
            response = steady.getresponse()
            body = response.read()
            assert response.status == 200 and not response.will_close
            return body

        pid = json.loads(steady_get("/static/echo"))["pid"]
        baseline = _open_fds(pid)
        for _ in range(3):
            leaving = _small_window_socket(address)
            leaving.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            assert leaving.recv(100).startswith(b"HTTP/1.1 200")
            leaving.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            leaving.close()  # a reset: the server's next sendfile fails
        # Each request below is a turn of the worker's loop; the resets are handled within a few.
        for _ in range(200):
            steady_get("/static/css/app.css")
            if _open_fds(pid) <= baseline:
                break
        assert _open_fds(pid) <= baseline, _fd_targets(pid)
    finally:
        steady.close()


def _fd_targets(pid: int) -> list[str]:
    """What a worker's descriptors point at, for a failure's message."""
    targets = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            targets.append(f"{name} -> {os.readlink(f'/proc/{pid}/fd/{name}')}")
    return targets


def test_static_files_need_no_app_thread(serve: Serve, site: Path, events: EventListener) -> None:
    # Both app threads are held by sleeping requests; a static file is still answered at once.
    if not server_is_usher():
        pytest.skip("usher's static files")
    port = free_port()
    serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--pythonpath", str(FIXTURES),
            "--module", "wsgi_apps",
            "--threads", "2",
            "--static-map", f"/static={site}/static",
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    address = ("127.0.0.1", port)
    sleepers = [threading.Thread(target=get, args=(address, "/sleep?seconds=3")) for _ in range(2)]
    for thread in sleepers:
        thread.start()
    try:
        events.wait_for("sleep-started")
        events.wait_for("sleep-started")
        seen = get(address, "/static/css/app.css", timeout=2.0)
        assert seen.status == 200 and seen.body == b"body { color: red }\n"
    finally:
        for thread in sleepers:
            thread.join()


def test_conditionals(address: Address) -> None:
    first = get(address, "/static/css/app.css")
    etag, modified = first.header("etag"), first.header("last-modified")
    assert etag is not None and modified is not None
    cached = get(address, "/static/css/app.css", headers={"If-None-Match": etag})
    assert cached.status == 304 and cached.body == b""
    assert cached.header("etag") == etag
    assert cached.header("content-length") is None and cached.header("content-type") is None
    assert cached.header("expires") is not None
    # RFC 9110 13.1.3: a stale tag means 200, whatever If-Modified-Since says.
    both = {"If-None-Match": '"stale"', "If-Modified-Since": modified}
    assert get(address, "/static/css/app.css", headers=both).status == 200
    assert (
        get(address, "/static/css/app.css", headers={"If-Modified-Since": modified}).status == 304
    )
    assert get(address, "/static/css/app.css", headers={"If-Match": '"stale"'}).status == 412
    early = {"If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}
    assert get(address, "/static/css/app.css", headers=early).status == 412


def test_ranges(address: Address, site: Path) -> None:
    data = (site / "static/big.bin").read_bytes()
    one = get(address, "/static/big.bin", headers={"Range": "bytes=100-199"})
    assert one.status == 206 and one.body == data[100:200]
    assert one.header("content-range") == f"bytes 100-199/{BIG}"
    suffix = get(address, "/static/big.bin", headers={"Range": "bytes=-10"})
    assert suffix.body == data[-10:]
    many = get(address, "/static/big.bin", headers={"Range": "bytes=0-9,5000-5009"})
    assert many.status == 206
    kind = many.header("content-type") or ""
    assert kind.startswith("multipart/byteranges; boundary=")
    boundary = kind.split("=", 1)[1].encode()
    assert many.body.count(b"--" + boundary) == 3
    assert data[:10] in many.body and data[5000:5010] in many.body
    assert int(many.header("content-length") or 0) == len(many.body)
    bad = get(address, "/static/big.bin", headers={"Range": f"bytes={BIG}-"})
    assert bad.status == 416 and bad.header("content-range") == f"bytes */{BIG}"
    attack = "bytes=" + ",".join(["0-"] * 50)
    assert get(address, "/static/big.bin", headers={"Range": attack}).body == data[:]
    etag = one.header("etag") or ""
    fresh = get(address, "/static/big.bin", headers={"Range": "bytes=0-0", "If-Range": etag})
    assert fresh.status == 206
    stale = get(address, "/static/big.bin", headers={"Range": "bytes=0-0", "If-Range": '"x"'})
    assert stale.status == 200 and len(stale.body) == BIG


def test_precompressed_siblings(address: Address) -> None:
    both = get(address, "/static/app.js", headers={"Accept-Encoding": "gzip, br"})
    assert both.header("content-encoding") == "br" and both.body == b"B" * 40
    assert both.header("vary") == "Accept-Encoding"
    only_gzip = get(address, "/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert only_gzip.header("content-encoding") == "gzip"
    assert gzip.decompress(only_gzip.body) == b"var x = 1;\n" * 300
    assert only_gzip.header("etag") != both.header("etag")
    plain = get(address, "/static/app.js")
    assert plain.header("content-encoding") is None and plain.header("vary") == "Accept-Encoding"
    assert plain.body == b"var x = 1;\n" * 300


def test_hashed_names_are_immutable(address: Address) -> None:
    hashed = get(address, "/static/css/app.0123456789ab.css")
    assert hashed.header("cache-control") == "max-age=31536000, public, immutable"
    assert get(address, "/static/css/app.css").header("cache-control") is None


@pytest.mark.parametrize(
    "path", ["/static/../settings.py", "/static/%2e%2e/settings.py", "/static/a%00.css"]
)
def test_traversal_refused(address: Address, path: str) -> None:
    sock = connect(address)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 400") and b"do-not-serve" not in answer


def test_symlink_out_and_alias_trap_never_serve_the_file(address: Address) -> None:
    leak = get(address, "/static/leak.py")
    assert b"do-not-serve" not in leak.body and leak.status == 404  # the app's answer
    trap = get(address, "/static../settings.py")
    assert b"do-not-serve" not in trap.body


def test_directory_redirect_index_and_405(address: Address) -> None:
    moved = get(address, "/static/docs?x=1")
    assert moved.status == 301 and moved.header("location") == "/static/docs/?x=1"
    assert get(address, "/static/docs/").body == b"<p>docs</p>\n"
    posted = request(address, "POST", "/static/css/app.css", body=b"x")
    assert posted.status == 405 and posted.header("allow") == "GET, HEAD"


@pytest.mark.nginx
def test_behind_nginx_uwsgi_pass(nginx: NginxProcess, site: Path) -> None:
    front = nginx.address
    seen = get(front, "/static/big.bin")
    assert seen.status == 200 and seen.body == (site / "static/big.bin").read_bytes()
    small = get(front, "/static/css/app.css")
    assert small.body == (site / "static/css/app.css").read_bytes()
    etag = small.header("etag") or ""
    assert get(front, "/static/css/app.css", headers={"If-None-Match": etag}).status == 304
    ranged = get(front, "/static/big.bin", headers={"Range": "bytes=10-19"})
    assert ranged.status == 206 and ranged.body == seen.body[10:20]
    assert get(front, "/static/echo").json()["PATH_INFO"] == "/static/echo"


@pytest.mark.nginx
def test_same_validators_as_nginx_and_where_nginx_is_wrong(nginx: NginxProcess) -> None:
    front = nginx.address
    theirs = get(front, "/nginx-static/css/app.css")
    ours = get(front, "/static/css/app.css")
    assert theirs.status == ours.status == 200
    assert theirs.header("etag") == ours.header("etag")
    assert theirs.header("last-modified") == ours.header("last-modified")
    old_date = "Sun, 06 Nov 1994 08:49:37 GMT"
    both = {"If-None-Match": ours.header("etag") or "", "If-Modified-Since": old_date}
    # The tag matches, the date is older than the file: RFC 9110 13.1.3 says the tag decides
    # (304, usher); nginx requires both to hold and sends the whole file again.
    assert get(front, "/nginx-static/css/app.css", headers=both).status == 200
    assert get(front, "/static/css/app.css", headers=both).status == 304
    # nginx's `location /nginx-static { alias DIR/; }` maps /nginx-static../x to DIR/../x.
    assert get(front, "/nginx-static../settings.py").body == b"SECRET_KEY = 'do-not-serve'\n"
    assert b"do-not-serve" not in get(front, "/static../settings.py").body


# Shaped like the public uwsgi.ini files that serve their own static files: several maps onto one
# prefix searched in order and a map onto a single file (linkding's), an Expires rule for
# everything, precompressed siblings and offload threads (searxng's). As in uWSGI, the routes run
# before a file is sent and add-header applies to every response.
REAL_INI = r"""
[uwsgi]
http-socket = 127.0.0.1:{port}
pythonpath = {fixtures}
module = wsgi_apps
master = true
processes = 1
threads = 2
static-map = /static=%dstatic
static-map = /static=%ddata/favicons
static-map = /static=%ddata/previews
static-map = /robots.txt=%dstatic/robots.txt
route = ^/static/ addheader:Content-Security-Policy: sandbox
route = ^/static/old\.css$ redirect-permanent:/static/app.css
add-header = X-Frame-Options: DENY
static-expires = /* 86400
static-gzip-all = True
offload-threads = 4
"""


def test_a_real_world_ini(serve: Serve, tmp_path: Path) -> None:
    if not server_is_usher():
        pytest.skip("usher's static files")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "robots.txt").write_text("User-agent: *\n")
    (tmp_path / "static" / "app.css").write_text("a{}\n")
    (tmp_path / "static" / "app.css.gz").write_bytes(gzip.compress(b"a{}\n"))
    for name in ("favicons", "previews"):
        (tmp_path / "data" / name).mkdir(parents=True)
    (tmp_path / "data" / "favicons" / "example.com.png").write_bytes(b"\x89PNG")
    (tmp_path / "data" / "previews" / "1.webp").write_bytes(b"RIFF")
    port = free_port()
    ini = tmp_path / "uwsgi.ini"
    ini.write_text(REAL_INI.format(port=port, fixtures=FIXTURES))
    server = serve([str(ini)])
    address = ("127.0.0.1", port)
    assert get(address, "/static/example.com.png").body == b"\x89PNG"
    preview = get(address, "/static/1.webp")
    assert preview.body == b"RIFF" and preview.header("content-type") == "image/webp"
    robots = get(address, "/robots.txt")
    assert robots.body == b"User-agent: *\n" and robots.header("expires") is not None
    packed = get(address, "/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(packed.body) == b"a{}\n"
    assert get(address, "/static/echo").json()["PATH_INFO"] == "/static/echo"
    assert preview.header("content-security-policy") == "sandbox"
    assert preview.header("x-frame-options") == "DENY"
    assert robots.header("content-security-policy") is None  # the route tests /static/ only
    assert robots.header("x-frame-options") == "DENY"
    moved = get(address, "/static/old.css")
    assert moved.status == 301 and moved.header("location") == "/static/app.css"
    assert "not supported" not in server.log_text()


def test_django_collectstatic_with_hashed_names(
    serve: Serve, django_db: Path, tmp_path: Path
) -> None:
    if not server_is_usher():
        pytest.skip("usher's static files")
    root = tmp_path / "collected"
    extra = {"DJANGO_STATIC_ROOT": str(root)}
    manage(django_db, "collectstatic", "--noinput", "-v", "0", extra_env=extra)
    hashed = json.loads((root / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]
    assert hashed != "admin/css/base.css"
    port = free_port()
    serve(
        [
            "--http-socket", f"127.0.0.1:{port}", *django_app_args(),
            "--static-map", f"/static={root}",
        ],
        env={**django_env(django_db), **extra},
    )  # fmt: skip
    address = ("127.0.0.1", port)
    seen = get(address, f"/static/{hashed}")
    assert seen.status == 200 and seen.body == (root / hashed).read_bytes()
    assert seen.header("cache-control") == "max-age=31536000, public, immutable"
    assert seen.header("content-type") == "text/css"
    plain = get(address, "/static/admin/css/base.css")
    assert plain.status == 200 and plain.header("cache-control") is None
    page = get(address, "/admin/login/")
    assert page.status == 200 and f"/static/{hashed}".encode() in page.body


def test_in_front_of_an_asgi_app(serve: Serve, site: Path) -> None:
    if not server_is_usher():
        pytest.skip("usher's static files")
    port = free_port()
    serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--wsgi-file", str(FIXTURES / "asgi_apps.py"),
            "--static-map", f"/static={site}/static",
        ]
    )  # fmt: skip
    address = ("127.0.0.1", port)
    assert get(address, "/static/css/app.css").body == b"body { color: red }\n"
    big = get(address, "/static/big.bin")
    assert len(big.body) == BIG
    assert get(address, "/").body == b"hello from asgi"
    assert get(address, "/static/none").body == b"no such path"
