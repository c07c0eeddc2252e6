"""The Autobahn-equivalent cases (tests/support/ws_cases.py) over the wire: a real usher serving
an echo app with websockets-max-size 128, one connection per case, raw frames in, the server's
frames read until it closes the connection."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port
from tests.support.ws_cases import BYE, CASES, LIMIT_KB, Case
from tests.support.ws_cases import NORMAL as BYE_CODE
from tests.support.ws_frames import (
    BINARY,
    CLOSE,
    PONG,
    TEXT,
    ServerFrame,
    open_raw,
    parse_server_frames,
    read_until_closed,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def echo_site(module_serve: Serve) -> tuple[str, int]:
    port = free_port()
    app = str(FIXTURES / "websocket_apps.py")
    args = ["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", app]
    module_serve([*args, "--websockets-max-size", str(LIMIT_KB), "--disable-logging"])
    return ("127.0.0.1", port)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id} {c.what}" for c in CASES])
def test_case_over_the_wire(echo_site: tuple[str, int], case: Case) -> None:
    sent = case.frames
    # As Autobahn's client does, the closing handshake starts once the echoes are in: a server
    # answers a close at once, and a message it has not echoed yet is not echoed after.
    waits = bool(case.messages) and sent[-1] == BYE
    with open_raw(echo_site) as sock:
        # The server may close after the frame that fails; its answer is still read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"".join(sent[:-1] if waits else sent))
        early = _read_echoes(sock, len(case.messages)) if waits else []
        if waits:
            sock.sendall(BYE)
        frames = early + read_until_closed(sock)
    messages = [
        f.payload.decode() if f.opcode == TEXT else f.payload
        for f in frames
        if f.opcode in (TEXT, BINARY)
    ]
    if case.close == BYE_CODE:
        assert messages == list(case.messages)
    else:
        # Autobahn's "non-strict" outcome: a message before the frame that fails the connection
        # may go unechoed, since the close goes out at once and the app echoes after.
        assert messages == list(case.messages[: len(messages)])
    assert [f.payload for f in frames if f.opcode == PONG] == list(case.pongs)
    closes = [f for f in frames if f.opcode == CLOSE]
    assert len(closes) == 1 and closes[0].close_code == case.close


def _read_echoes(sock: socket.socket, count: int) -> list[ServerFrame]:
    data = b""
    while True:
        frames, _ = parse_server_frames(data)
        if sum(f.opcode in (TEXT, BINARY) for f in frames) >= count:
            assert _ == b""
            return frames
        chunk = sock.recv(65536)
        assert chunk, "the server closed before echoing"
        data += chunk
