"""Merge assignments from every source into one `Settings`, typing and checking each value.

The caller passes assignments in precedence order (environment, ini files, command line): a
single-valued option keeps the last one, a repeatable option keeps all of them in that order.
Every assignment is checked, even one a later source overrides, so a broken file is reported
rather than hidden by a command-line flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from usher.options.catalog import Assignment, OptionInfo
from usher.options.errors import ConfigError, InvalidValue
from usher.options.settings import Settings
from usher.options.values import FALSE_WORDS, TRUE_WORDS, parse_bool, parse_int


def resolve(
    assignments: Sequence[Assignment], ini_files: Sequence[str]
) -> tuple[Settings, tuple[str, ...]]:
    """Build the Settings and the notes about values read as uWSGI reads them; raise
    ConfigError on bad values."""
    # Any: the table pairs each field with its converter, which mypy cannot follow through
    # the loop; the Settings constructor is the only place these values meet a type.
    chosen: dict[str, Any] = {}
    notes: list[str] = []
    for assignment in assignments:
        info = assignment.info
        value, note = convert(assignment)
        if note:
            notes.append(f"{assignment.origin}: {assignment.spelled} {note}")
        if info.kind == "list":
            chosen[info.field] = (*chosen.get(info.field, ()), value)
        else:
            chosen[info.field] = value
    chosen["ini"] = tuple(ini_files)
    return Settings(**chosen), tuple(notes)


def convert(assignment: Assignment) -> tuple[bool | int | str, str]:
    """One assignment's text as the option's type, plus a note when the value was read the
    way uWSGI reads it (a word as a number, a capped size); ConfigError names option and source."""
    info, raw = assignment.info, assignment.raw
    try:
        if raw is None:
            if info.kind == "bool":
                return True, ""
            if info.spec.flag_only_value is None:
                raise InvalidValue(
                    "needs a value", f"write {assignment.spelled} = {info.spec.metavar}"
                )
            raw = info.spec.flag_only_value
        if info.kind == "bool":
            # `master =` with nothing after it: uWSGI sets a switch given an empty value.
            return (parse_bool(raw) if raw.strip() else True), ""
        if info.kind == "int":
            return _convert_int(info, raw)
        if info.spec.check is not None:
            info.spec.check(raw)
        if info.spec.tagged:
            return f"{_spelling(assignment)} {raw.strip()}", ""
        return raw, ""
    except InvalidValue as invalid:
        raise ConfigError(
            assignment.origin, assignment.spelled, invalid.problem, invalid.fix
        ) from None


def _spelling(assignment: Assignment) -> str:
    """The option's name as written (`route-uri` from `--route-uri`, `route_uri` or an
    environment variable), or its own name when that spelling is not one of its names."""
    info = assignment.info
    word = assignment.spelled.lstrip("-").lower().replace("_", "-")
    for prefix in ("usher-", "uwsgi-"):
        if word.startswith(prefix) and word not in info.spellings:
            word = word[len(prefix) :]
    return word if word in info.spellings else info.name


def _convert_int(info: OptionInfo, raw: str) -> tuple[int, str]:
    note = ""
    word = raw.strip().lower()
    # uWSGI configs write `threads = true` or `cheaper = true`; uWSGI reads the word as 1 (and
    # false as 0), so usher does too, and says what the number means.
    if word in TRUE_WORDS - {"1"} or word in FALSE_WORDS - {"0"}:
        number = "1" if word in TRUE_WORDS else "0"
        note = f"= {raw} is read as {number}, as uWSGI reads it ({_meaning(info)})"
        raw = number
    spec = info.spec
    value = parse_int(raw, spec.minimum, spec.maximum)
    if spec.cap is not None and value > spec.cap:
        note = f"= {value} is capped at {spec.cap} ({_meaning(info)})"
        value = spec.cap
    return value, note


def _meaning(info: OptionInfo) -> str:
    """The first sentence of the option's help, lower-cased, to say what a number means."""
    sentence = info.spec.help.split(". ")[0].split("; ")[0].rstrip(".")
    return f"{info.name}: {sentence[:1].lower()}{sentence[1:]}"
