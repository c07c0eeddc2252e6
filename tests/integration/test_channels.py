"""Frameworks over usher's WebSockets: a Django Channels chat consumer (tests/fixtures/
channels_chat.py) on the in-memory channel layer, two clients in one room and one in another;
a FastAPI (Starlette) WebSocket endpoint."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from tests.support.http import get
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(60)


def test_a_chat_room_relays_to_its_members_only(serve: Serve) -> None:
    port = free_port()
    serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(FIXTURES / "channels_chat.py")])
    base = f"ws://127.0.0.1:{port}/chat"
    with (
        connect(f"{base}/lobby/") as alice,
        connect(f"{base}/lobby/") as bob,
        connect(f"{base}/attic/") as carol,
    ):
        for ws, room in ((alice, "lobby"), (bob, "lobby"), (carol, "attic")):
            assert json.loads(ws.recv(timeout=10)) == {"joined": room}
        alice.send(json.dumps({"text": "hello, room", "by": "alice"}))
        expected = {"text": "hello, room", "by": "alice"}
        assert json.loads(alice.recv(timeout=10)) == expected
        assert json.loads(bob.recv(timeout=10)) == expected
        # The lobby's message never reached carol: the next one she gets is her own.
        carol.send(json.dumps({"text": "alone up here", "by": "carol"}))
        assert json.loads(carol.recv(timeout=10)) == {"text": "alone up here", "by": "carol"}
        bob.send(json.dumps({"text": "hi alice", "by": "bob"}))
        assert json.loads(alice.recv(timeout=10))["by"] == "bob"
        assert json.loads(bob.recv(timeout=10))["by"] == "bob"


def test_a_fastapi_websocket_endpoint(serve: Serve) -> None:
    port = free_port()
    serve(["--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(FIXTURES / "fastapi_ws.py")])
    with connect(f"ws://127.0.0.1:{port}/ws/ana?q=1", subprotocols=["json.v1"]) as ws:
        assert ws.subprotocol == "json.v1"
        assert json.loads(ws.recv(timeout=10)) == {"hello": "ana", "query": "1"}
        ws.send(json.dumps({"n": 1}))
        assert json.loads(ws.recv(timeout=10)) == {"echo": {"n": 1}}
        ws.close(code=4002)
    # The endpoint heard the client's close code as WebSocketDisconnect.
    assert json.loads(get(("127.0.0.1", port), "/closes").body) == [4002]
