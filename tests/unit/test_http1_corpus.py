"""Replay the HTTP request corpus (tests/corpus/http) through HttpCodec in three chunkings.

Each ``*.http`` file holds raw bytes as a client sent them; ``expected.json`` beside them lists,
per file, the events the codec must emit (the end of stream included), the codec state once all
bytes are in, and any limits that differ from the defaults below. Whole, line by line and byte
by byte, every file must give the same events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from usher.protocols import (
    CodecState,
    ContinueRequested,
    Event,
    HttpCodec,
    Limits,
    ProtocolError,
    Request,
)

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "http"
# A small spool threshold so that corpus bodies exercise both the memory and the file path.
DEFAULTS = {"max_head": 4096, "max_body": 0, "spool_threshold": 16}


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


def describe(event: Event) -> dict[str, Any]:
    """An event as plain data (a request's body read out) so runs can be compared."""
    if isinstance(event, Request):
        return {
            "type": "request",
            "method": event.method,
            "path": event.path.decode("latin-1"),
            "query": event.query.decode("latin-1"),
            "http_version": event.http_version,
            "keep_alive": event.keep_alive,
            "chunked": event.chunked,
            "body": event.body.read().decode("latin-1"),
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in event.headers],
        }
    if isinstance(event, ContinueRequested):
        return {"type": "continue"}
    assert isinstance(event, ProtocolError)
    return {"type": "error", "status": event.status, "reason": event.reason}


def replay(data: bytes, chunking: str, limits: Limits) -> tuple[list[dict[str, Any]], str]:
    codec = HttpCodec(limits)
    events: list[Event] = []
    for piece in CHUNKINGS[chunking](data):
        events += codec.receive_data(piece)
    state = codec.state.value
    events += codec.receive_eof()
    assert codec.state is CodecState.DONE
    described = [describe(event) for event in events]
    for event in events:
        if isinstance(event, Request):
            event.body.close()
    return described, state


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
    events, state = runs["whole"]
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
