"""The option table seen from the readers: names, aliases, short flags and kinds, by lookup.

Built once at import from `dataclasses.fields(Settings)` into immutable mappings, so every reader
(command line, ini, environment) and the docs agree on what exists. The uWSGI options usher knows
only by name (`uwsgi_names`) get the same note and the same `strict` refusal from every reader,
through `known_name_note` and `known_name_refusal`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from usher.options.errors import ConfigError, Origin
from usher.options.settings import OptionSpec, Settings
from usher.options.uwsgi_names import KnownName, lookup_known

Kind = Literal["bool", "int", "str", "list"]


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """One option as the readers need it."""

    name: str  # the option's own spelling, e.g. "http-socket"
    field: str  # the Settings attribute, e.g. "http_socket"
    kind: Kind
    optional: bool  # `str | None`: unset is None
    default: object
    spec: OptionSpec

    @property
    def spellings(self) -> tuple[str, ...]:
        """The name first, then the aliases."""
        return (self.name, *self.spec.aliases)

    @property
    def needs_value(self) -> bool:
        """False when the option may be given alone (`--master`, `--chmod-socket`, a bare key)."""
        return self.kind != "bool" and self.spec.flag_only_value is None


def _kind_of(hint: object) -> tuple[Kind, bool]:
    optional = False
    if isinstance(hint, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional, hint = True, members[0]
    if typing.get_origin(hint) is tuple:
        return "list", optional
    kinds: dict[object, Kind] = {bool: "bool", int: "int", str: "str"}
    if hint not in kinds:
        raise TypeError(
            f"Settings fields may be bool, int, str, X | None or tuple[str, ...], not {hint}"
        )
    return kinds[hint], optional


def _build() -> tuple[OptionInfo, ...]:
    hints = typing.get_type_hints(Settings)
    infos = []
    for field in dataclasses.fields(Settings):
        kind, optional = _kind_of(hints[field.name])
        spec = field.metadata.get("option")
        if not isinstance(spec, OptionSpec):
            raise TypeError(f"Settings.{field.name} must be declared with option(...)")
        name = field.name.replace("_", "-")
        infos.append(OptionInfo(name, field.name, kind, optional, field.default, spec))
    return tuple(infos)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One value for one option from one source, still as text (None: given without a value)."""

    info: OptionInfo
    raw: str | None
    origin: Origin
    spelled: str  # as the user wrote the option, for messages: "--workers", "-p", "workers"


@dataclass(frozen=True, slots=True)
class IniRequest:
    """A request to load `FILE[:SECTION]`, and where that request was made."""

    spec: str
    origin: Origin
    spelled: str = "ini"  # the option that asked: "json" and "xml" pick the format


OPTIONS: tuple[OptionInfo, ...] = _build()
_BY_SPELLING: Mapping[str, OptionInfo] = types.MappingProxyType(
    {spelling: info for info in OPTIONS for spelling in info.spellings}
)
_BY_SHORT: Mapping[str, OptionInfo] = types.MappingProxyType(
    {info.spec.short: info for info in OPTIONS if info.spec.short}
)


def lookup(spelling: str) -> OptionInfo | None:
    """The option called `spelling` (its name or an alias), if there is one."""
    return _BY_SPELLING.get(spelling)


def lookup_short(letter: str) -> OptionInfo | None:
    """The option with the one-letter flag `letter` (`p` for `-p`), if there is one."""
    return _BY_SHORT.get(letter)


def suggest(spelling: str) -> str | None:
    """The closest option name or alias (usher's or uWSGI's) to a misspelled one."""
    guess = spelling.lower().replace("_", "-")
    if guess != spelling and (guess in _BY_SPELLING or lookup_known(guess) is not None):
        return guess
    import difflib  # only on a mistake: not worth its memory in every worker

    from usher.options.uwsgi_names import known_names

    known = [spelling for name in known_names() for spelling in name.spellings if len(spelling) > 1]
    names = [*_BY_SPELLING, *known]
    matches = difflib.get_close_matches(guess, names, n=1, cutoff=0.75)
    return matches[0] if matches else None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An option that was dropped with a note, and that `strict` turns into an error."""

    origin: Origin
    spelled: str
    problem: str
    fix: str

    def error(self) -> ConfigError:
        """The ConfigError that `strict` raises for it."""
        return ConfigError(self.origin, self.spelled, self.problem, self.fix)


def known_name_note(origin: Origin, spelled: str, known: KnownName) -> str:
    """The startup note for a uWSGI option that usher knows only by name."""
    if known.status == "accepted":
        return f"{origin}: {spelled} is accepted and ignored: {known.note}"
    if known.status == "reader":
        return f"{origin}: {spelled} is read only in config files; ignored here"
    return f"{origin}: {spelled} is not supported by usher, ignored: {known.note}"


def known_name_refusal(origin: Origin, spelled: str, known: KnownName) -> Refusal | None:
    """What `strict` says about a uWSGI option usher knows only by name (None: it is fine)."""
    if known.status != "unsupported":
        return None
    return Refusal(origin, spelled, "is not supported by usher, and strict is on", known.note)


def unknown_refusal(origin: Origin, spelled: str, guess: str | None) -> Refusal:
    """What `strict` says about a name that is neither usher's nor uWSGI's."""
    fix = f"did you mean {guess}?" if guess else "remove it, or turn strict off"
    return Refusal(origin, spelled, "is not an usher or uWSGI option, and strict is on", fix)
