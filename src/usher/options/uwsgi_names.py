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

import types
from collections.abc import Mapping
from dataclasses import dataclass

from usher.options.uwsgi_name_table import GROUPS, Status

# Options of usher's own that uWSGI does not have.
USHER_ONLY = ("stats-prometheus", "allow-exec-placeholders")


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


def _build() -> tuple[KnownName, ...]:
    known = []
    for status, note, names in GROUPS:
        for token in names.split():
            name, *aliases = token.split("|")
            known.append(KnownName(name, tuple(aliases), status, note))
    return tuple(known)


KNOWN: tuple[KnownName, ...] = _build()
_BY_SPELLING: Mapping[str, KnownName] = types.MappingProxyType(
    {spelling: known for known in KNOWN for spelling in known.spellings if len(spelling) > 1}
)
# uWSGI's one-letter flags for options usher only knows by name (`-Q` is --spooler).
SHORT_FLAGS: Mapping[str, KnownName] = types.MappingProxyType(
    {spelling: known for known in KNOWN for spelling in known.aliases if len(spelling) == 1}
)


def lookup_known(spelling: str) -> KnownName | None:
    """The uWSGI option called `spelling`, when usher knows it only by name."""
    return _BY_SPELLING.get(spelling)
