"""Expansion of ini values: `$(VAR)` from the environment, then in one left-to-right pass
`%%`, `%(key)` placeholders and the one-letter magic variables of the file being read.

Expansion is lazy and memoized: a placeholder may name a key defined later or in another loaded
file (the first definition counts, as in uWSGI), and its own value is expanded in the context of
the file that defined it. A `%(key)` naming nothing is kept as written: it may be the option's
own syntax (log-format's `%(addr)`).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from usher.options.errors import ConfigError, Origin

_ENV_REFERENCE = re.compile(r"\$\(([^)]*)\)")
_PERCENT = re.compile(r"%(?:\(([^)]*)\)|(.))")


def magic_table(path: str) -> Mapping[str, str]:
    """The magic variables of the ini file at `path`, keyed by their letter."""
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    return {
        "d": directory.rstrip("/") + "/",  # with the slash, so "%dapp.py" reads naturally
        "p": absolute,
        "s": filename,
        "n": stem,
        "e": extension,
        "c": os.path.basename(directory),
        "h": socket.gethostname(),
        "k": str(os.cpu_count() or 1),
        "%": "%",
    }


@dataclass(frozen=True, slots=True)
class RawValue:
    """An ini value as written (None for a bare key), with where it came from."""

    key: str
    text: str | None
    origin: Origin
    magic: Mapping[str, str]


class Expander:
    """Expands ini values against the environment and the keys of every loaded file."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.variables: dict[str, RawValue] = {}
        self.used: set[str] = set()
        self.notes: list[str] = []
        self._done: dict[str, str] = {}
        self._in_progress: list[str] = []

    def define(self, value: RawValue) -> None:
        """Make `value.key` available as `%(key)`; the first definition of a key counts."""
        self.variables.setdefault(value.key, value)

    def expand(self, value: RawValue, *, literal_placeholders: bool = False) -> str:
        """The text of `value` with every reference replaced."""
        if value.text is None:
            return "true"  # a bare key used as a placeholder reads as a set flag
        text = _ENV_REFERENCE.sub(lambda match: self._env(match[1], value), value.text)

        def replace(match: re.Match[str]) -> str:
            name, letter = match[1], match[2]
            if name is None:
                return value.magic.get(letter, match[0])  # unknown letters stay as written
            found = self._placeholder(name, value, literal_placeholders)
            return match[0] if found is None else found

        return _PERCENT.sub(replace, text)

    def _env(self, name: str, value: RawValue) -> str:
        if name in self.environ:
            return self.environ[name]
        self._note(
            f"{value.origin}: $({name}) in {value.key} is not set in the environment; used ''"
        )
        return ""

    def _placeholder(self, name: str, value: RawValue, literal: bool) -> str | None:
        target = self.variables.get(name)
        if target is None:
            if not literal:
                self._note(
                    f"{value.origin}: %({name}) in {value.key} names no ini key; kept as written"
                )
            return None
        self.used.add(name)
        if name in self._in_progress:
            cycle = " -> ".join([*self._in_progress, name])
            raise ConfigError(
                value.origin,
                value.key,
                f"placeholders refer to themselves ({cycle})",
                "make one of these keys a plain value",
            )
        if name not in self._done:
            self._in_progress.append(name)
            try:
                self._done[name] = self.expand(target)
            finally:
                self._in_progress.pop()
        return self._done[name]

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
