"""Replay the uwsgi-protocol corpus (tests/corpus/uwsgi) through UwsgiCodec in three chunkings.

``expected.json`` lists, per packet, the events (the end of stream included), the codec state once
all bytes are in (DONE unless given) and any limits that differ from the defaults below.

The codec streams ``Request``, ``Data``..., ``END``; the replay checks that order and folds them
into the corpus's one ``request`` entry (its body joined) at ``END``. A request an error cuts
short leaves only the error, as the corpus expects.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from usher.protocols import (
    END,
    CodecState,
    Data,
    EndOfMessage,
    Event,
    Limits,
    ProtocolError,
    Request,
    UwsgiCodec,
    VarsDecoder,
    encode_uwsgi_request,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "uwsgi"
DEFAULTS = {"max_head": 4096, "max_body": 0}


def load() -> list[tuple[str, bytes, dict[str, Any]]]:
    expected = json.loads((CORPUS / "expected.json").read_text())
    files = sorted(path.name for path in CORPUS.glob("*.bin"))
    assert files == sorted(expected), "every packet needs an entry in expected.json"
    return [(name, (CORPUS / name).read_bytes(), expected[name]) for name in files]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chunkings(data: bytes) -> dict[str, list[bytes]]:
    return {
        "whole": [data],
        "by_line": re.findall(rb"[^\n]*\n|[^\n]+", data),
        "by_byte": [data[i : i + 1] for i in range(len(data))],
    }


def describe(request: Request, body: bytes) -> dict[str, Any]:
    assert request.vars is not None
    return {
        "type": "request",
        "method": request.method,
        "uri": request.vars.get("REQUEST_URI"),
        "path": request.path.decode("latin-1"),
        "path_info": request.vars.get("PATH_INFO"),
        "query": request.query.decode("latin-1"),
        "http_version": request.http_version,
        "keep_alive": request.keep_alive,
        "has_body": request.has_body,
        "headers": request.headers,
        "body": body.decode("latin-1"),
        "body_length": len(body),
        "vars": request.vars,
    }


def fold(events: list[Event]) -> list[dict[str, Any]]:
    """Check the stream's order (one request at most) and fold it into the corpus's entries."""
    described: list[dict[str, Any]] = []
    request: Request | None = None
    body: list[bytes] = []
    for i, event in enumerate(events):
        if isinstance(event, Request):
            assert i == 0, events
            request = event
        elif isinstance(event, Data):
            assert request is not None and request.has_body, events
            assert type(event.data) is bytes and event.data, events
            body.append(event.data)
        elif isinstance(event, EndOfMessage):
            assert event is END and request is not None and i == len(events) - 1, events
            described.append(describe(request, b"".join(body)))
        else:
            assert isinstance(event, ProtocolError) and i == len(events) - 1, events
            described.append({"type": "error", "status": event.status, "reason": event.reason})
    return described


def replay(
    pieces: Iterator[bytes] | list[bytes], limits: Limits, decoder: VarsDecoder | None = None
) -> tuple[list[Any], str]:
    codec = UwsgiCodec(limits, decoder)
    events: list[Event] = []
    for piece in pieces:
        events += codec.receive_data(piece)
    state = codec.state.value
    events += codec.receive_eof()
    assert codec.state is CodecState.DONE
    return fold(events), state


@pytest.mark.parametrize(
    ("data", "expected"), [pytest.param(d, e, id=name) for name, d, e in load()]
)
def test_corpus_packet(data: bytes, expected: dict[str, Any]) -> None:
    limits = Limits(**{**DEFAULTS, **expected.get("limits", {})})
    runs = {name: replay(pieces, limits) for name, pieces in chunkings(data).items()}
    assert runs["by_line"] == runs["whole"]
    assert runs["by_byte"] == runs["whole"]
    events, state = runs["whole"]
    assert state == expected.get("state", "done")
    assert [e["type"] for e in events] == [e["type"] for e in expected["events"]], events
    for got, want in zip(events, expected["events"], strict=True):
        if got["type"] == "request":
            assert got["keep_alive"] is False  # one request per uwsgi connection
        for key, value in want.items():
            if key == "reason":
                assert value in got["reason"], got
            else:
                assert got[key] == value, (key, got[key])


def test_corpus_files_match_their_generator() -> None:
    for name, (packet, meta) in generator().cases().items():
        assert (CORPUS / name).read_bytes() == packet, f"rerun make_corpus.py: {name} is stale"
        on_disk = json.loads((CORPUS / "expected.json").read_text())[name]
        assert on_disk == json.loads(json.dumps(meta)), name


def test_encoder_writes_what_nginx_writes() -> None:
    module = generator()
    for name in ("nginx_get.bin", "nginx_post_form_https.bin", "upload_spooled.bin"):
        packet = (CORPUS / name).read_bytes()
        events, _ = replay([packet], Limits(**DEFAULTS))
        request = events[0]
        body = packet[-request["body_length"] :] if request["body_length"] else b""
        assert encode_uwsgi_request(request["vars"], body) == packet, name
    assert module.pack([("A", "b")], modifier1=30) == encode_uwsgi_request({"A": "b"}, modifier1=30)


def test_a_decoder_shared_across_packets_gives_the_same_events() -> None:
    # A worker passes one VarsDecoder to all its connections: what it learns from one packet
    # must never change another's result, in whatever order they come.
    cases = load()
    alone = {
        name: replay([data], Limits(**{**DEFAULTS, **exp.get("limits", {})}))
        for name, data, exp in cases
    }
    for order in (cases, cases[::-1], cases * 2):
        shared = VarsDecoder()
        for name, data, exp in order:
            limits = Limits(**{**DEFAULTS, **exp.get("limits", {})})
            assert replay([data], limits, shared) == alone[name], name
