"""The PROXY protocol reader (usher.protocols.proxy) replayed over tests/corpus/proxy whole,
byte by byte and split at every offset: every chunking must give the same result."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from usher.protocols.events import ProtocolError
from usher.protocols.proxy import ProxyHeader, ProxyHeaderReader

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "proxy"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def replay(chunks: list[bytes]) -> tuple[ProxyHeader | ProtocolError | None, bytes]:
    """The reader's result, and the bytes of the chunks after the one that completed it."""
    reader = ProxyHeaderReader()
    for index, chunk in enumerate(chunks):
        result = reader.receive_data(chunk)
        if result is not None:
            return result, b"".join(chunks[index + 1 :])
    return None, b""


def chunkings(data: bytes) -> list[list[bytes]]:
    return [
        [data],
        [data[i : i + 1] for i in range(len(data))],
        *([data[:cut], data[cut:]] for cut in range(1, len(data))),
    ]


def test_the_corpus_files_are_current_and_all_expected() -> None:
    cases: dict[str, bytes] = runpy.run_path(str(CORPUS / "make_corpus.py"))["CASES"]
    for name, data in cases.items():
        assert (CORPUS / f"{name}.bin").read_bytes() == data, f"rerun make_corpus.py ({name})"
    assert sorted(cases) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case(name: str) -> None:
    expected = EXPECTED[name]
    data = (CORPUS / f"{name}.bin").read_bytes()
    for chunks in chunkings(data):
        result, later = replay(chunks)
        if expected.get("incomplete"):
            assert result is None
        elif "error" in expected:
            assert isinstance(result, ProtocolError), (name, chunks)
            assert result.status == 400 and expected["error"] in result.reason
        else:
            assert isinstance(result, ProxyHeader), (name, chunks, result)
            client = expected["client"]
            assert result.client == (tuple(client) if client else None)
            # Every byte after the header reaches the HTTP codec, whatever the chunking.
            assert result.rest + later == expected.get("rest", REQUEST.decode()).encode()
