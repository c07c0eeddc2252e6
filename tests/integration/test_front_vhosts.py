"""Adding a site is adding a file: an emperor runs one vassal per ini file, each binds a unix
socket named after its file (`%n`) and subscribes it to the front under its host name, and the
front (`uwsgi_pass = $host`) routes each request by its Host to that host's vassal."""

from __future__ import annotations

import select
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_front_subscriptions import free_udp_port, wait_for_line
from tests.support.http import get, parse_response, raw_exchange
from tests.support.server import Serve, free_port, short_tmp_dir
from usher.protocols.subscription import Subscription, encode_subscription

pytestmark = pytest.mark.timeout(60)

APP = """\
import os

NAME = {name!r}


def application(environ, start_response):
    body = f"{{NAME}} pid={{os.getpid()}} host={{environ.get('HTTP_HOST')}}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    path = short_tmp_dir("usher-vhosts-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def add_site(folder: Path, name: str, udp_port: int) -> None:
    """One vassal: its app, and its ini, written last (the emperor picks up `*.ini` files)."""
    apps = folder / "apps"
    apps.mkdir(exist_ok=True)
    (apps / f"{name}.py").write_text(APP.format(name=name))
    ini = folder / "vassals" / f"{name}.ini"
    ini.with_suffix(".tmp").write_text(
        "[uwsgi]\nmaster = true\nprocesses = 1\n"
        f"socket = {folder}/%n.sock\n"
        f"wsgi-file = {apps}/%n.py\n"
        f"subscribe-to = 127.0.0.1:{udp_port}:%n.test\n"
        "subscribe-freq = 1\n"
    )
    ini.with_suffix(".tmp").rename(ini)  # whole, at once


def ask(port: int, host: str) -> tuple[int, str]:
    response = get(("127.0.0.1", port), "/", headers={"Host": host})
    return response.status, response.body.decode()


def test_sites_come_and_go_with_their_files(folder: Path, serve: Serve) -> None:
    front_port, udp_port = free_port(), free_udp_port()
    (folder / "vassals").mkdir()
    ini = folder / "front.ini"
    ini.write_text(
        f"[front]\nlisten = 127.0.0.1:{front_port}\n"
        f"subscription_server = 127.0.0.1:{udp_port}\nsubscription_tolerance = 2s\n\n"
        "[location /]\nuwsgi_pass = $host\nuwsgi_connect_timeout = 1s\n"
    )
    front = serve(["front", "--ini", str(ini)])
    status, body = ask(front_port, "a.test")
    assert (status, body) == (503, "no app server is subscribed for a.test\n")

    add_site(folder, "a", udp_port)
    add_site(folder, "b", udp_port)
    serve(["emperor", str(folder / "vassals"), "--emperor-freq", "1"])
    # Each vassal announces its unix socket, named after its file.
    offset = wait_for_line(front, f"{folder}/a.sock joined 'a.test'")
    offset = max(offset, wait_for_line(front, f"{folder}/b.sock joined 'b.test'"))

    for host, name in (("a.test", "a"), ("b.test", "b"), ("A.Test:8080", "a"), ("b.test.", "b")):
        status, body = ask(front_port, host)
        assert status == 200, (host, status, body, front.describe())
        assert body.startswith(f"{name} pid="), (host, body)
        assert body.endswith(f"host={host}")  # the client's Host reaches the app unchanged
    status, body = ask(front_port, "c.test")
    assert (status, body) == (503, "no app server is subscribed for c.test\n")
    old = parse_response(raw_exchange(("127.0.0.1", front_port), b"GET / HTTP/1.0\r\n\r\n"))
    assert (old.status, old.body) == (503, b"no app server is subscribed for (no Host header)\n")

    (folder / "vassals" / "a.ini").unlink()  # the emperor stops it; it unsubscribes
    wait_for_line(front, f"{folder}/a.sock left 'a.test'", offset)
    status, body = ask(front_port, "a.test")
    assert (status, body) == (503, "no app server is subscribed for a.test\n")
    assert ask(front_port, "b.test")[0] == 200

    add_site(folder, "c", udp_port)
    wait_for_line(front, f"{folder}/c.sock joined 'c.test'", offset)
    status, body = ask(front_port, "c.test")
    assert status == 200 and body.startswith("c pid="), (status, body)

    # A key with a port is looked up first (uWSGI's routers look the Host up as sent).
    packet = encode_subscription(Subscription(f"b.test:{front_port}", f"{folder}/c.sock"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(packet, ("127.0.0.1", udp_port))
    offset = wait_for_line(front, f"{folder}/c.sock joined 'b.test:{front_port}'", offset)
    assert ask(front_port, f"b.test:{front_port}")[1].startswith("c pid=")
    assert ask(front_port, "b.test:1")[1].startswith("b pid=")
    assert ask(front_port, "b.test")[1].startswith("b pid=")

    # A node that announces once and falls silent leaves its key after the tolerance (2 s).
    packet = encode_subscription(Subscription("d.test", f"{folder}/b.sock"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(packet, ("127.0.0.1", udp_port))
    wait_for_line(front, f"{folder}/b.sock joined 'd.test'", offset)
    joined = time.monotonic()
    assert ask(front_port, "d.test")[1].startswith("b pid=")
    while (answer := ask(front_port, "d.test"))[0] == 200:
        assert time.monotonic() - joined < 6.0, "d.test never left"
        select.select([], [], [], 0.1)  # the front sweeps once a second
    assert answer == (503, "no app server is subscribed for d.test\n")
    assert time.monotonic() - joined > 1.5  # not before the tolerance
    assert ask(front_port, "b.test")[0] == 200
