"""A corpus of uWSGI ini files in the shapes real projects write, each loaded as `usher FILE`.

`tests/corpus/ini/expected.json` maps each file to the settings it must produce (`{here}` is the
corpus folder), the notes it must log (substrings, in order) and how many notes there are; `env`
is the environment it is loaded with. Every file must load: none may be refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from usher.options import load_settings

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "ini"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())


def _with_here(value: object) -> object:
    if isinstance(value, str):
        return value.replace("{here}", str(CORPUS))
    if isinstance(value, list):
        return tuple(_with_here(item) for item in value)
    return value


def test_the_corpus_is_large_and_every_file_has_expectations() -> None:
    files = sorted(path.name for path in CORPUS.glob("*.ini"))
    assert len(files) >= 60
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    expected = EXPECTED[name]
    loaded = load_settings([str(CORPUS / name), *expected.get("argv", [])], expected.get("env", {}))
    for field, value in expected["settings"].items():
        assert getattr(loaded.settings, field) == _with_here(value), field
    position = 0
    for wanted in expected.get("notes", []):
        found = [i for i, note in enumerate(loaded.notes) if wanted in note and i >= position]
        assert found, f"no note after #{position} contains {wanted!r}: {loaded.notes}"
        position = found[0] + 1
    assert len(loaded.notes) == expected["note_count"], loaded.notes
