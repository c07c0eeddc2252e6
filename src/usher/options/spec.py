"""How one option is declared: `option(...)` makes a dataclass field carrying an `OptionSpec`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class OptionSpec:
    """Everything about an option that its field's name, type and default do not say."""

    help: str
    group: str
    aliases: tuple[str, ...] = ()
    short: str | None = None  # the one-letter uWSGI flag, e.g. "p" for -p
    repeatable: bool = False
    flag_only_value: str | None = None  # value when given with none: `--chmod-socket`, bare ini key
    minimum: int | None = None
    maximum: int | None = None
    check: Callable[[str], None] | None = None  # raises values.InvalidValue
    cap: int | None = None  # larger values are lowered to this, with a note (uWSGI took them)
    literal_placeholders: bool = False  # %(name) is the option's own syntax (log-format)
    # Each value is stored as "<spelling> <value>" (route-uri, route-if...): the aliases of one
    # ordered rule list keep their order across spellings, as uWSGI's routing table does.
    tagged: bool = False
    metavar: str = "VALUE"


def option(
    default: T,
    *,
    aliases: tuple[str, ...] = (),
    help: str = "",
    group: str = "",
    repeatable: bool = False,
    flag_only_value: str | None = None,
    short: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    check: Callable[[str], None] | None = None,
    cap: int | None = None,
    literal_placeholders: bool = False,
    tagged: bool = False,
    metavar: str = "VALUE",
) -> T:
    """Declare one option: a dataclass field with an immutable default and its `OptionSpec`."""
    spec = OptionSpec(
        help=help,
        group=group,
        aliases=aliases,
        short=short,
        repeatable=repeatable,
        flag_only_value=flag_only_value,
        minimum=minimum,
        maximum=maximum,
        check=check,
        cap=cap,
        literal_placeholders=literal_placeholders,
        tagged=tagged,
        metavar=metavar,
    )
    field: T = dataclasses.field(default=default, metadata={"option": spec})
    return field
