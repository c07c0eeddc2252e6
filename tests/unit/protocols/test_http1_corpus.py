"""Replay the HTTP request corpus (tests/corpus/http) through HttpCodec in three chunkings.

Each ``*.http`` file holds raw bytes as a client sent them; ``expected.json`` beside them lists,
per file, the events the codec must emit (the end of stream included), the codec state once all
bytes are in, and any limits that differ from the defaults below. Whole, line by line and byte
by byte, every file must give the same events.

The codec streams a request as ``Request``, ``Data``..., ``END`` (usher.protocols.events); the
corpus lists each complete request as one ``request`` entry with its whole body. So the replay
checks the stream's order, then folds it: a ``request`` entry is the ``Request`` with its ``Data``
joined, written at its ``END``; a request cut short by an error never reaches its ``END`` and
leaves only the error, as the corpus expects. After an upgrade request the codec is SWITCHED, which
the corpus (written when usher closed such connections) calls ``done``; the ``Upgraded`` bytes
must be the end of the input, the same in every chunking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from usher.protocols import (
    END,
    CodecState,
    ContinueRequested,
    Data,
    EndOfMessage,
    Event,
    HttpCodec,
    Limits,
    ProtocolError,
    Request,
    Upgraded,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "http"
DEFAULTS = {"max_head": 4096, "max_body": 0}


def load(folder: str) -> list[tuple[str, bytes, dict[str, Any]]]:
    expected = json.loads((CORPUS / folder / "expected.json").read_text())
    files = sorted(path.name for path in (CORPUS / folder).glob("*.http"))
    assert files == sorted(expected), "every corpus file needs an entry in expected.json"
    return [(name, (CORPUS / folder / name).read_bytes(), expected[name]) for name in files]


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def by_line(data: bytes) -> Iterator[bytes]:
    yield from re.findall(rb"[^\n]*\n|[^\n]+", data)


def by_byte(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


CHUNKINGS = {"whole": whole, "by_line": by_line, "by_byte": by_byte}


def describe(request: Request, body: bytes) -> dict[str, Any]:
    """A complete request as plain data so runs can be compared."""
    return {
        "type": "request",
        "method": request.method,
        "path": request.path.decode("latin-1"),
        "query": request.query.decode("latin-1"),
        "http_version": request.http_version,
        "keep_alive": request.keep_alive,
        "chunked": request.chunked,
        "has_body": request.has_body,
        "upgrade": request.upgrade,
        "body": body.decode("latin-1"),
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in request.headers],
    }


def fold(events: list[Event]) -> tuple[list[dict[str, Any]], bytes]:
    """Check the stream's order and fold it into the corpus's entries, plus the Upgraded bytes."""
    described: list[dict[str, Any]] = []
    request: Request | None = None  # the request whose END is awaited
    body: list[bytes] = []
    switched = False
    raw = b""
    for i, event in enumerate(events):
        if isinstance(event, Request):
            assert request is None and not switched, events
            request, body = event, []
        elif isinstance(event, Data):
            assert request is not None and request.has_body, events
            assert type(event.data) is bytes and event.data, events
            body.append(event.data)
        elif isinstance(event, EndOfMessage):
            assert event is END and request is not None, events
            described.append(describe(request, b"".join(body)))
            switched, request = request.upgrade, None
        elif isinstance(event, Upgraded):
            assert switched and event.data, events
            raw += event.data
        elif isinstance(event, ContinueRequested):
            assert request is None and isinstance(events[i + 1], Request), events
            described.append({"type": "continue"})
        else:
            assert isinstance(event, ProtocolError) and i == len(events) - 1, events
            described.append({"type": "error", "status": event.status, "reason": event.reason})
    return described, raw


def replay(data: bytes, chunking: str, limits: Limits) -> tuple[list[dict[str, Any]], str, bytes]:
    codec = HttpCodec(limits)
    events: list[Event] = []
    for piece in CHUNKINGS[chunking](data):
        events += codec.receive_data(piece)
    state = codec.state
    events += codec.receive_eof()
    assert codec.state is CodecState.DONE
    described, raw = fold(events)
    assert data.endswith(raw)
    if state is CodecState.SWITCHED:
        assert described[-1]["upgrade"], described
        state = CodecState.DONE  # the corpus predates SWITCHED: such a connection then closed
    else:
        assert not raw
    return described, state.value, raw


def check(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [a["type"] for a in actual] == [e["type"] for e in expected], actual
    for got, want in zip(actual, expected, strict=True):
        for key, value in want.items():
            if key == "reason":
                assert value in got["reason"], got
            else:
                assert got[key] == value, (key, got)


def cases(folder: str) -> list[Any]:
    return [pytest.param(data, exp, id=name) for name, data, exp in load(folder)]


@pytest.mark.parametrize(("data", "expected"), cases("valid") + cases("invalid"))
def test_corpus_case(data: bytes, expected: dict[str, Any]) -> None:
    limits = Limits(**{**DEFAULTS, **expected.get("limits", {})})
    runs = {chunking: replay(data, chunking, limits) for chunking in CHUNKINGS}
    events, state, _ = runs["whole"]
    assert runs["by_line"] == runs["whole"]
    assert runs["by_byte"] == runs["whole"]
    check(events, expected["events"])
    assert state == expected["state"]


def test_valid_cases_end_without_error() -> None:
    for name, _, expected in load("valid"):
        assert all(event["type"] != "error" for event in expected["events"]), name


def test_invalid_cases_end_with_error() -> None:
    for name, _, expected in load("invalid"):
        assert expected["events"][-1]["type"] == "error", name


@pytest.mark.parametrize(
    ("name", "after"),
    [
        ("upgrade_websocket.http", b"\x81\x857\xfa!=\x7f\x9fMQX"),  # one masked WebSocket frame
        ("upgrade_h2c_with_body.http", b"PRI * HTTP/2.0\r\n\r\n"),  # the HTTP/2 preface
    ],
)
def test_upgrade_cases_hand_over_the_bytes_after_the_request(name: str, after: bytes) -> None:
    data = (CORPUS / "valid" / name).read_bytes()
    for chunking in CHUNKINGS:
        events, _, raw = replay(data, chunking, Limits(**DEFAULTS))
        assert events[-1]["upgrade"] and not events[-1]["keep_alive"]
        assert raw == after, chunking
