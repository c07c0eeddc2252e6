"""The option table itself and what is generated from it: --help and docs/options.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from usher.options import Settings, help_text, option_reference_markdown
from usher.options.catalog import OPTIONS, lookup, lookup_short
from usher.options.spec import OptionSpec

DOCS = Path(__file__).resolve().parents[3] / "docs" / "options.md"


def test_docs_options_md_is_up_to_date() -> None:
    expected = option_reference_markdown()
    actual = DOCS.read_text() if DOCS.exists() else ""
    assert actual == expected, (
        "docs/options.md is stale; regenerate it with `python -m usher.options > docs/options.md`"
    )


def test_every_field_is_a_documented_option() -> None:
    for field in dataclasses.fields(Settings):
        spec = field.metadata["option"]
        assert isinstance(spec, OptionSpec)
        assert spec.help and spec.group, field.name
        assert not isinstance(field.default, list | dict | set), field.name
        assert spec.repeatable == isinstance(field.default, tuple), field.name
        assert spec.cap is None or spec.maximum is None, field.name  # a cap replaces a maximum


def test_names_aliases_and_short_flags_are_unique() -> None:
    spellings = [spelling for info in OPTIONS for spelling in info.spellings]
    assert len(spellings) == len(set(spellings))
    shorts = [info.spec.short for info in OPTIONS if info.spec.short]
    assert len(shorts) == len(set(shorts)) and "h" not in shorts  # -h is help
    assert lookup("workers") is lookup("processes")
    short = lookup_short("p")
    assert short is not None and short.field == "processes"


def test_help_lists_every_option_by_group() -> None:
    text = help_text()
    for info in OPTIONS:
        assert f"--{info.name}" in text
        assert f"\n{info.spec.group}:\n" in text
    assert "-s, --socket ADDRESS" in text and "aliases: --uwsgi-socket" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_reference_lists_every_option_and_explains_the_rules() -> None:
    text = option_reference_markdown()
    for info in OPTIONS:
        assert f"| `{info.name}` |" in text
    for topic in ("## Precedence", "### Inline comments", "| `%d` |", "| `%k` |", "USHER_"):
        assert topic in text
    assert "| `processes` | `-p`, `workers` | integer (N) | `1` |" in text
