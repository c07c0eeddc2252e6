"""Expansion of ini values: `$(VAR)` from the environment, `@(path)` and `@(exec://command)`
(only with allow-exec-placeholders), then in one left-to-right pass `%%`, `%(key)` placeholders,
arithmetic such as `%(workers * 2)` and the one-letter magic variables of the file being read.

Expansion is lazy and memoized: a placeholder may name a key defined later or in another loaded
file (the first definition counts, as in uWSGI), and its own value is expanded in the context of
the file that defined it. A `%(key)` naming nothing is kept as written: it may be the option's
own syntax (log-format's `%(addr)`).

Arithmetic follows uWSGI: operands and operators separated by spaces, applied left to right
(`%(a + b * 2)` is (a + b) * 2), operands being whole numbers, keys or magic variables (`%k`).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from usher.options import external
from usher.options.errors import ConfigError, InvalidValue, Origin

_ENV_REFERENCE = re.compile(r"\$\(([^)]*)\)")
_AT_REFERENCE = re.compile(r"@\(([^)]*)\)")
_PERCENT = re.compile(r"%(?:\(([^)]*)\)|(.))")
_ARITHMETIC = re.compile(r"\S+(?: [-+*/] \S+)+")  # spaces around operators, as uWSGI wants
_WHOLE = re.compile(r"[+-]?[0-9]+")


def magic_table(path: str, section: str, first: tuple[str, str] | None = None) -> Mapping[str, str]:
    """The magic variables of `section` of the config file at `path`, keyed by their letter.

    Upper-case letters describe `first`, the (path, section) of the file given on the command
    line or in the environment that included this one, as uWSGI's do; lower-case ones the file
    being read.
    """
    table = {**_file_letters(path, section), **_process_letters()}
    first_path, first_section = first or (path, section)
    for letter, value in _file_letters(first_path, first_section).items():
        if letter in "dpsnecxoi":
            table[letter.upper()] = value
    table["%"] = "%"
    return table


def _file_letters(path: str, section: str) -> dict[str, str]:
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    try:
        inode = str(os.stat(absolute).st_ino)
    except OSError:
        inode = ""
    letters = {
        "d": directory.rstrip("/") + "/",  # with the slash, so "%dapp.py" reads naturally
        "p": absolute,
        "s": filename,
        "n": stem,
        "e": extension,
        "c": os.path.basename(directory),
        "x": section,
        "o": path,  # as it was given
        "i": inode,
    }
    # %0 to %9: the components of the file's directory, from the root.
    components = [part for part in directory.split("/") if part]
    letters.update({str(index): part for index, part in enumerate(components[:10])})
    return letters


def _process_letters() -> dict[str, str]:
    uid, gid = os.getuid(), os.getgid()
    now = time.time()
    return {
        "h": socket.gethostname(),
        "k": str(os.cpu_count() or 1),
        "v": os.getcwd(),
        "u": str(uid),
        "g": str(gid),
        "t": str(int(now)),
        "T": str(int(now * 1_000_000)),
        "[": "\x1b",  # the escape character, for coloured log prefixes
    }


def _account_letter(letter: str) -> str | None:
    """%U and %G, the user and group names, looked up only when a config uses them: the master
    would otherwise import pwd and grp for every worker to inherit."""
    if letter not in "UG":
        return None
    import grp
    import pwd

    try:
        if letter == "U":
            return pwd.getpwuid(os.getuid()).pw_name
        return grp.getgrgid(os.getgid()).gr_name
    except KeyError:  # an id with no entry in /etc/passwd or /etc/group (common in containers)
        return str(os.getuid() if letter == "U" else os.getgid())


@dataclass(frozen=True, slots=True)
class RawValue:
    """An ini value as written (None for a bare key), with where it came from."""

    key: str
    text: str | None
    origin: Origin
    magic: Mapping[str, str]


class Expander:
    """Expands ini values against the environment and the keys of every loaded file."""

    def __init__(self, environ: Mapping[str, str], *, allow_exec: bool = False) -> None:
        self.environ = environ
        self.allow_exec = allow_exec
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
                found = value.magic.get(letter)
                found = _account_letter(letter) if found is None else found
                return match[0] if found is None else found  # unknown letters stay as written
            if _ARITHMETIC.fullmatch(name):
                return str(self._arithmetic(name, value))
            found = self._placeholder(name, value, literal_placeholders)
            return match[0] if found is None else found

        text = _PERCENT.sub(replace, text)
        # After placeholders, so that `@(%dworkers.txt)` names a file next to the config.
        return _AT_REFERENCE.sub(lambda match: self._external(match[1], value), text)

    def _env(self, name: str, value: RawValue) -> str:
        if name in self.environ:
            return self.environ[name]
        self._note(
            f"{value.origin}: $({name}) in {value.key} is not set in the environment; used ''"
        )
        return ""

    def _external(self, reference: str, value: RawValue) -> str:
        if not self.allow_exec:
            raise ConfigError(
                value.origin,
                value.key,
                f"@({reference}) reads a file or runs a command, which is off by default",
                "allow it with allow-exec-placeholders = true (or --allow-exec-placeholders)",
            )
        try:
            return external.read(reference)
        except InvalidValue as invalid:
            raise ConfigError(value.origin, value.key, invalid.problem, invalid.fix) from None

    def _arithmetic(self, formula: str, value: RawValue) -> int:
        tokens = formula.split(" ")
        total = self._operand(tokens[0], value)
        for operator, operand in zip(tokens[1::2], tokens[2::2], strict=True):
            number = self._operand(operand, value)
            if operator == "/" and number == 0:
                raise ConfigError(
                    value.origin, value.key, f"%({formula}) divides by zero", "fix the formula"
                )
            total = _apply(operator, total, number)
        return total

    def _operand(self, token: str, value: RawValue) -> int:
        if len(token) == 2 and token[0] == "%":
            text: str | None = value.magic.get(token[1])
        elif _WHOLE.fullmatch(token):
            text = token
        else:
            text = self._placeholder(token, value, False)
        if text is None or not _WHOLE.fullmatch(text.strip()):
            raise ConfigError(
                value.origin,
                value.key,
                f"{token} in a placeholder formula is {text!r}, not a whole number",
                "use numbers, number-valued keys or %k in formulas",
            )
        return int(text)

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


def _apply(operator: str, left: int, right: int) -> int:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    quotient = abs(left) // abs(right)  # C's division, as uWSGI's: truncated toward zero
    return quotient if (left < 0) == (right < 0) else -quotient
