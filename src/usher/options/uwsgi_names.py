"""Every uWSGI 2.0 option that is not a field of `Settings`, with what usher makes of it.

This is the second half of the one option table: `Settings` declares what usher implements as
typed fields; this module lists, by name only, every other option of uWSGI 2.0 (the core, the
python plugin and the plugins of the standard build, the OpenSSL-only ones included), so that a
real uWSGI config never meets "is not an usher option" for a name uWSGI knows. Each group has a
status and one note:

- `reader`: part of the config language itself (`if-env`, `for`, `endif`, `set-placeholder`...),
  carried out by the ini reader rather than stored;
- `accepted`: usher already behaves so, or the option has no meaning here; the note says why;
- `unsupported`: usher does not do it; the note names what to use instead.

The groups themselves are data, in `uwsgi_name_table`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from usher.options.uwsgi_name_table import Status

# Options of usher's own that uWSGI does not have (limit-request-fields is gunicorn's name).
USHER_ONLY = (
    "interface",
    # ASGI (usher.options.table_asgi)
    "asgi",
    "asgi-lifespan",
    "root-path",
    "proxy-headers",
    "forwarded-allow-ips",
    "limit-request-fields",
    "stats-prometheus",
    "allow-exec-placeholders",
)


@dataclass(frozen=True, slots=True)
class KnownName:
    """One uWSGI option that usher knows by name but does not store in `Settings`."""

    name: str  # the main spelling, e.g. "spooler"
    aliases: tuple[str, ...]
    status: Status
    note: str

    @property
    def spellings(self) -> tuple[str, ...]:
        """The name first, then the aliases."""
        return (self.name, *self.aliases)


def known_names() -> tuple[KnownName, ...]:
    """Every name in the table, built afresh (for the docs and the tests)."""
    return tuple(_parse(token, status, note) for status, note, token in _tokens())


def lookup_known(spelling: str) -> KnownName | None:
    """The uWSGI option called `spelling` (a long name), when usher knows it only by name."""
    if len(spelling) < 2:
        return None  # one letter is a short flag: lookup_known_short
    return _find(lambda spellings: spelling in spellings)


def lookup_known_short(letter: str) -> KnownName | None:
    """The uWSGI option whose one-letter flag is `letter` (`-Q` is --spooler), if usher knows it
    only by name."""
    return _find(lambda spellings: letter in spellings[1:]) if len(letter) == 1 else None


def with_value(known: KnownName, value: str | None) -> KnownName:
    """`known` as given this value: accepted when the value asks for what usher does anyway
    (`hook-master-start = unix_signal:15 gracefully_kill_them_all`)."""
    from usher.options.uwsgi_name_table import ACCEPTED_VALUES

    note = ACCEPTED_VALUES.get((known.name, " ".join((value or "").split())))
    return known if note is None else dataclasses.replace(known, status="accepted", note=note)


# The table stays text until a lookup needs it: a scan of a thousand names happens only for a
# name that is not usher's own, at startup, while a built index would sit in every worker.
def _find(matches: Callable[[list[str]], bool]) -> KnownName | None:
    for status, note, token in _tokens():
        if matches(token.split("|")):
            return _parse(token, status, note)
    return None


def _tokens() -> Iterator[tuple[Status, str, str]]:
    # Imported on the first lookup: a config of usher's own options never loads the table.
    from usher.options.uwsgi_name_table import GROUPS

    for status, note, names in GROUPS:
        for token in names.split():
            yield status, note, token


def _parse(token: str, status: Status, note: str) -> KnownName:
    name, *aliases = token.split("|")
    return KnownName(name, tuple(aliases), status, note)
