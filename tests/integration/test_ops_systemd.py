"""systemd integration with real processes: the notify socket (READY=1, STATUS=, STOPPING=1),
socket activation with inherited descriptors for both protocols, and the example units in
docs/systemd checked by `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.ops import OPS_APP
from tests.support.http import TIMEOUT, get
from tests.support.server import Serve, free_port, start_server

pytestmark = pytest.mark.timeout(90)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "systemd"

# What systemd does before it starts a socket-activated service: bind the sockets, put them at
# descriptors 3, 4, ... and set LISTEN_FDS and LISTEN_PID (the pid that execs the service). The
# unix socket comes first here while usher's configuration lists HTTP first: usher must match by
# address, not by order.
ACTIVATOR = """
import fcntl, os, socket, sys
unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
unix.bind(os.environ["ACTIVATE_PATH"])
unix.listen(64)
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("127.0.0.1", int(os.environ["ACTIVATE_PORT"])))
tcp.listen(64)
high = [fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, 20) for sock in (unix, tcp)]
for target, fd in enumerate(high, start=3):
    os.dup2(fd, target)
os.environ["LISTEN_FDS"] = "2"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.executable, [sys.executable, "-m", "usher", *sys.argv[1:]])
"""


def test_notify_ready_status_and_stopping(serve: Serve) -> None:
    server = serve(["--http-socket", f"127.0.0.1:{free_port()}", "--wsgi-file", str(OPS_APP),
                    "--processes", "2"])  # fmt: skip
    ready = next(note for note in server.notifications if "READY=1" in note)
    assert f"MAINPID={server.pid}" in ready and "STATUS=serving with 2 workers" in ready
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    notes = server.drain_notifications()
    assert any("STOPPING=1" in note for note in notes)


def test_socket_activation_for_both_protocols(tmp_path: Path, sock_dir: Path) -> None:
    port, path = free_port(), str(sock_dir / "uwsgi.sock")
    wrapper = tmp_path / "activate.py"
    wrapper.write_text(ACTIVATOR)
    env = {**os.environ, "ACTIVATE_PORT": str(port), "ACTIVATE_PATH": path}
    args = ["--http-socket", f"127.0.0.1:{port}", "--socket", path, "--wsgi-file", str(OPS_APP)]
    server = start_server(
        [*args, "--vacuum"],
        log_dir=tmp_path / "log",
        env=env,
        command=[sys.executable, str(wrapper)],
    )
    try:
        inode = os.stat(path).st_ino
        # Had usher bound 127.0.0.1:port itself it would have failed: the activator's socket holds it.
        assert get(("127.0.0.1", port), "/pid").status == 200
        assert uwsgi_get(path, "/pid").startswith(b"HTTP/1.1 200 OK")
        assert os.stat(path).st_ino == inode
        assert "matches no listener" not in server.log_text()
        assert server.stop() == 0
        # The socket belongs to systemd: vacuum leaves it for the next start.
        assert os.path.exists(path)
    finally:
        server.close()


def test_the_example_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    usher = shutil.which("usher") or str(Path(sys.executable).parent / "usher")
    service = (DOCS / "mysite.service").read_text()
    assert "/srv/mysite/venv/bin/usher" in service
    # verify checks that ExecStart= names an executable: point it at this environment's usher.
    (tmp_path / "mysite.service").write_text(service.replace("/srv/mysite/venv/bin/usher", usher))
    shutil.copy(DOCS / "mysite.socket", tmp_path / "mysite.socket")
    result = subprocess.run(
        [analyze, "verify", "mysite.service", "mysite.socket"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for setting in ("Type=notify", "Restart=on-failure", "RuntimeDirectory=mysite",
                    "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):  # fmt: skip
        assert f"\n{setting}\n" in service


def uwsgi_get(path: str, uri: str) -> bytes:
    """One request in the uwsgi protocol (as nginx's uwsgi_pass sends it); the whole answer."""
    variables = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": uri, "PATH_INFO": uri, "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
    }  # fmt: skip
    block = b"".join(
        struct.pack("<H", len(key)) + key.encode() + struct.pack("<H", len(value)) + value.encode()
        for key, value in variables.items()
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        sock.sendall(struct.pack("<BHB", 0, len(block), 0) + block)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
