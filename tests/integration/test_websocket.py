"""WebSockets of ASGI apps served by usher, through a real client library (`websockets`): directly
and behind real nginx (proxy_pass with the Upgrade headers); the handshake's refusals, the app's
accept, subprotocols, close codes and errors; the message bound, the ping keepalive and the 1001
close of a gracefully stopping worker."""

from __future__ import annotations

import json
import signal
import socket

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.integration.ops import eventually
from tests.support.http import Address, get
from tests.support.nginx import StartNginx
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port
from tests.support.ws_frames import (
    PING,
    PONG,
    ServerFrame,
    frame,
    handshake_request,
    open_raw,
    parse_server_frames,
)

pytestmark = pytest.mark.timeout(60)

APPS = str(FIXTURES / "websocket_apps.py")

# The nginx location of a WebSocket app: HTTP/1.1 to the upstream and the hop-by-hop Upgrade
# and Connection headers passed on, as nginx's own WebSocket guide has it.
NGINX_UPGRADE = (
    "            proxy_set_header Upgrade $http_upgrade;\n"
    '            proxy_set_header Connection "upgrade";'
)


@pytest.fixture(scope="module")
def site(module_serve: Serve) -> Address:
    port = free_port()
    module_serve(
        ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", APPS, "--websocket-max-size", "64"]
    )
    return ("127.0.0.1", port)


def url(site: Address, path: str) -> str:
    return f"ws://{site[0]}:{site[1]}{path}"


def test_echo_of_text_bytes_and_fragmented_messages(site: Address) -> None:
    with connect(url(site, "/echo"), compression=None) as ws:
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00\xff" * 1000)
        assert ws.recv() == b"\x00\xff" * 1000
        ws.send(["frag", "mented ", "\u00e9t\u00e9"])  # a fragmented text message
        assert ws.recv() == "fragmented \u00e9t\u00e9"
        for n in range(50):
            ws.send(f"message {n}")
        assert [ws.recv() for _ in range(50)] == [f"message {n}" for n in range(50)]


def test_subprotocol_and_the_apps_headers(site: Address) -> None:
    with connect(url(site, "/subprotocol"), subprotocols=["chat", "superchat"]) as ws:
        assert ws.subprotocol == "superchat"
        assert json.loads(ws.recv()) == ["chat", "superchat"]
        assert ws.response is not None and ws.response.headers["x-chosen"] == "yes"


def test_the_websocket_scope(site: Address) -> None:
    with connect(url(site, "/scope?room=1"), additional_headers={"X-Test": "yes"}) as ws:
        scope = json.loads(ws.recv())
    assert scope["path"] == "/scope" and scope["query_string"] == "room=1"
    assert scope["scheme"] == "ws" and scope["http_version"] == "1.1"
    assert scope["headers"]["x-test"] == "yes" and scope["headers"]["upgrade"] == "websocket"
    assert scope["client"][0] == "127.0.0.1" and not scope["has_method"]


def test_the_scope_behind_a_proxy_under_a_root_path(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", APPS, "--root-path", "/base"]
    serve([*args, "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"])
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with connect(url(("127.0.0.1", port), "/scope"), additional_headers=forwarded) as ws:
        scope = json.loads(ws.recv())
    assert scope["scheme"] == "wss" and scope["client"][0] == "203.0.113.9"
    assert (scope["root_path"], scope["path"]) == ("/base", "/base/scope")
    assert scope["state"] == {"started": "yes"}  # the lifespan's state reaches the WebSocket


def test_a_websocket_app_mounted_beside_a_wsgi_app(serve: Serve) -> None:
    port = free_port()
    site = ("127.0.0.1", port)
    args = ["--http-socket", f"127.0.0.1:{port}", "--chdir", str(FIXTURES)]
    serve([*args, "--module", "mount_apps:main", "--mount", "/live=websocket_apps:application"])
    with connect(url(site, "/live/echo")) as ws:
        ws.send("through the mount")
        assert ws.recv() == "through the mount"
    with connect(url(site, "/live/scope")) as ws:
        assert json.loads(ws.recv())["root_path"] == "/live"
    assert json.loads(get(site, "/elsewhere").body)["app"] == "main"  # the WSGI app serves on


@pytest.mark.parametrize(
    ("path", "status"), [("/reject", 403), ("/no-accept", 403), ("/boom-before", 500)]
)
def test_refused_before_the_accept(site: Address, path: str, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(url(site, path))
    assert refused.value.response.status_code == status


def test_close_codes_of_the_app(site: Address) -> None:
    with connect(url(site, "/close-4000")) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")
    with connect(url(site, "/boom-after")) as ws, pytest.raises(ConnectionClosed) as failed:
        ws.recv()
    assert failed.value.rcvd is not None and failed.value.rcvd.code == 1011


def test_a_message_over_websocket_max_size_closes_with_1009(site: Address) -> None:
    with connect(url(site, "/echo"), compression=None, max_size=None) as ws:
        ws.send(b"x" * 64 * 1024)
        assert len(ws.recv()) == 64 * 1024
        ws.send(b"x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_wrong_version_is_426_and_plain_http_still_works(site: Address) -> None:
    with socket.create_connection(site, timeout=10) as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13" in answer
    assert get(site, "/").body == b"plain http"


@pytest.mark.nginx
def test_through_nginx_with_the_upgrade_headers(site: Address, module_nginx: StartNginx) -> None:
    mounts = {path: NGINX_UPGRADE for path in ("/echo", "/scope")}
    nginx = module_nginx(f"{site[0]}:{site[1]}", "http", mounts=mounts)
    with connect(url(nginx.address, "/echo"), compression=None) as ws:
        for size in (1, 200, 60_000):
            ws.send("n" * size)
            assert ws.recv() == "n" * size
        ws.send(b"\x01\x02")
        assert ws.recv() == b"\x01\x02"
    with connect(url(nginx.address, "/scope")) as ws:
        scope = json.loads(ws.recv())
    assert scope["path"] == "/scope" and scope["headers"]["x-real-ip"] == "127.0.0.1"


def test_keepalive_pings_and_a_silent_peer_is_dropped(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", APPS]
    server = serve([*args, "--websockets-ping-freq", "1", "--websocket-pong-tolerance", "1"])
    with open_raw(("127.0.0.1", port)) as sock:
        ping = _next_frame(sock)
        assert ping.opcode == PING
        sock.sendall(frame(PONG, ping.payload))
        assert _next_frame(sock).opcode == PING  # answered: the connection lives on
        # Not answered: dropped within the tolerance (and the tick that notices it).
        sock.settimeout(10)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        frames, _ = parse_server_frames(data)
        assert all(f.opcode == PING for f in frames)
    assert "disconnected, no WebSocket pong within 1 s" in server.stderr_text()


def _next_frame(sock: socket.socket) -> ServerFrame:
    data = b""
    while True:
        frames, _ = parse_server_frames(data)
        if frames:
            return frames[0]
        chunk = sock.recv(4096)
        assert chunk, "closed before a frame came"
        data += chunk


def test_a_client_that_stops_reading_is_dropped_after_http_timeout(serve: Serve) -> None:
    port = free_port()
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", APPS]
    server = serve([*args, "--http-timeout", "1"])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        request, _ = handshake_request("/flood")
        sock.sendall(request)
        # Not reading: the app's send() waits on the full buffers until the worker drops us.
        eventually(lambda: "not reading WebSocket messages" in server.stderr_text(), timeout=10)
        with connect(url(("127.0.0.1", port), "/echo")) as ws:  # the worker serves on
            ws.send("still here")
            assert ws.recv(timeout=10) == "still here"


def test_a_graceful_stop_closes_with_1001(serve: Serve) -> None:
    port = free_port()
    server = serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", APPS])
    with connect(url(("127.0.0.1", port), "/echo")) as ws:
        ws.send("before the stop")
        assert ws.recv() == "before the stop"
        server.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.wait(timeout=15) == 0
