"""Merge assignments from every source into one `Settings`, typing and checking each value.

The caller passes assignments in precedence order (environment, ini files, command line): a
single-valued option keeps the last one, a repeatable option keeps all of them in that order.
Every assignment is checked, even one a later source overrides, so a broken file is reported
rather than hidden by a command-line flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from usher.options.catalog import Assignment
from usher.options.errors import ConfigError, InvalidValue
from usher.options.settings import Settings
from usher.options.values import parse_bool, parse_int


def resolve(
    assignments: Sequence[Assignment], ini_files: Sequence[str]
) -> tuple[Settings, tuple[str, ...]]:
    """Build the Settings and the notes about ignored options; raise ConfigError on bad values."""
    # Any: the table pairs each field with its converter, which mypy cannot follow through
    # the loop; the Settings constructor is the only place these values meet a type.
    chosen: dict[str, Any] = {}
    notes: list[str] = []
    for assignment in assignments:
        info = assignment.info
        value = convert(assignment)
        if info.kind == "list":
            chosen[info.field] = (*chosen.get(info.field, ()), value)
        else:
            chosen[info.field] = value
        if info.spec.ignored:
            notes.append(
                f"{assignment.origin}: {assignment.spelled} is accepted and ignored: "
                f"{info.spec.ignored_because}"
            )
    chosen["ini"] = tuple(ini_files)
    return Settings(**chosen), tuple(notes)


def convert(assignment: Assignment) -> bool | int | str:
    """One assignment's text as the option's type, or ConfigError naming option and source."""
    info, raw = assignment.info, assignment.raw
    try:
        if raw is None:
            if info.kind == "bool":
                return True
            if info.spec.flag_only_value is None:
                raise InvalidValue(
                    "needs a value", f"write {assignment.spelled} = {info.spec.metavar}"
                )
            raw = info.spec.flag_only_value
        if info.kind == "bool":
            return parse_bool(raw)
        if info.kind == "int":
            return parse_int(raw, info.spec.minimum, info.spec.maximum)
        if info.spec.check is not None:
            info.spec.check(raw)
        return raw
    except InvalidValue as invalid:
        raise ConfigError(
            assignment.origin, assignment.spelled, invalid.problem, invalid.fix
        ) from None
