"""Read argv the way uWSGI takes it: `--name value`, `--name=value`, bare boolean flags, short
flags (`-p 4`, `-p4`, `-Mp4`) and bare `FILE.ini` arguments.

Values stay text here; the resolver types and checks them, so every source fails the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import usher
from usher.options import catalog
from usher.options.catalog import Assignment, IniRequest, OptionInfo, Refusal
from usher.options.errors import COMMAND_LINE, ConfigError, HelpRequested, VersionRequested
from usher.options.uwsgi_names import KnownName, lookup_known, lookup_known_short, with_value


@dataclass(frozen=True, slots=True)
class CommandLine:
    """What argv asked for: option values in order, and ini files to load in order."""

    assignments: tuple[Assignment, ...]
    ini_files: tuple[IniRequest, ...]
    notes: tuple[str, ...] = ()  # uWSGI options usher knows only by name, dropped
    refusals: tuple[Refusal, ...] = ()  # what `strict` turns into errors


# Bare arguments that name a config file, as uWSGI takes them (`uwsgi app.ini`, `app.json`).
CONFIG_SUFFIXES = (".ini", ".json", ".js", ".xml", ".yaml", ".yml")
# uWSGI's one-letter flags that load a config file in a given layout (the ini option takes none).
CONFIG_SHORT_FLAGS = frozenset("jxy")


def read_argv(argv: Sequence[str]) -> CommandLine:
    """Split argv into assignments and ini requests; raise ConfigError, HelpRequested or
    VersionRequested."""
    reader = _ArgvReader(argv)
    reader.run()
    return CommandLine(
        tuple(reader.assignments),
        tuple(reader.ini_files),
        tuple(reader.notes),
        tuple(reader.refusals),
    )


def is_ini_argument(token: str) -> bool:
    """A bare argument naming a config file: `app.ini`, `app.ini:section`, `app.json`..."""
    return token.endswith(CONFIG_SUFFIXES) or token.rpartition(":")[0].endswith(CONFIG_SUFFIXES)


class _ArgvReader:
    def __init__(self, argv: Sequence[str]) -> None:
        self.args = list(argv)
        self.position = 0
        self.assignments: list[Assignment] = []
        self.ini_files: list[IniRequest] = []
        self.notes: list[str] = []
        self.refusals: list[Refusal] = []

    def run(self) -> None:
        while self.position < len(self.args):
            token = self.take()
            if token == "--":
                for rest in self.args[self.position :]:
                    self.positional(rest)
                return
            if token.startswith("--"):
                self.long_flag(token)
            elif token.startswith("-") and token != "-":
                self.short_flags(token)
            else:
                self.positional(token)

    def take(self) -> str:
        token = self.args[self.position]
        self.position += 1
        return token

    def peek(self) -> str | None:
        return self.args[self.position] if self.position < len(self.args) else None

    def long_flag(self, token: str) -> None:
        spelled, equals, inline = token[2:].partition("=")
        if spelled in ("help", "usage"):
            raise HelpRequested(_help_text())
        if spelled == "version":
            raise VersionRequested(f"usher {usher.__version__}")
        info = catalog.lookup(spelled)
        if info is None:
            known = lookup_known(spelled)
            if known is None:
                guess = catalog.suggest(spelled)
                fix = (
                    f"did you mean --{guess}?" if guess else "run usher --help to list the options"
                )
                raise ConfigError(COMMAND_LINE, f"--{spelled}", "unknown option", fix)
            value = inline if equals else self.optional_value()
            self.drop(known, value, f"--{spelled}")
            return
        value = inline if equals else self.value_for(info, f"--{spelled}")
        self.assign(info, value, f"--{spelled}")

    def short_flags(self, token: str) -> None:
        # Like getopt: flags without values may be grouped (-ML), and the first flag that
        # takes a value swallows the rest of the token (-p4) or else the next argument.
        letters = token[1:]
        for index, letter in enumerate(letters):
            if letter == "h":
                raise HelpRequested(_help_text())
            if letter in CONFIG_SHORT_FLAGS:
                rest = letters[index + 1 :]
                ini = catalog.lookup("ini")
                assert ini is not None  # a Settings field: the table cannot lose it
                self.assign(ini, rest or self.value_for(ini, f"-{letter}"), f"-{letter}")
                return
            info = catalog.lookup_short(letter)
            known = lookup_known_short(letter) if info is None else None
            if known is not None:
                rest = letters[index + 1 :]
                value = rest or self.optional_value()
                self.drop(known, value, f"-{letter}")
                return
            if info is None:
                raise ConfigError(COMMAND_LINE, f"-{letter}", "unknown option", "run usher --help")
            if info.kind == "bool":
                self.assign(info, None, f"-{letter}")
                continue
            rest = letters[index + 1 :]
            self.assign(info, rest or self.value_for(info, f"-{letter}"), f"-{letter}")
            return

    def optional_value(self) -> str | None:
        # usher does not know whether an option it only knows by name takes a value; the next
        # argument is its value unless it is an option or a config file, which is what any
        # other bare argument would be refused for anyway.
        upcoming = self.peek()
        if upcoming is not None and not upcoming.startswith("-") and not is_ini_argument(upcoming):
            return self.take()
        return None

    def drop(self, known: KnownName, value: str | None, spelled: str) -> None:
        """Note (and, for strict, refuse) an option usher knows only by name."""
        if known.name == "set" and self.set_option(value, spelled):
            return
        known = with_value(known, value)
        self.notes.append(catalog.known_name_note(COMMAND_LINE, spelled, known))
        refusal = catalog.known_name_refusal(COMMAND_LINE, spelled, known)
        if refusal is not None:
            self.refusals.append(refusal)

    def set_option(self, value: str | None, spelled: str) -> bool:
        """`--set key=value` (`-S`) is `--key value`, as in uWSGI; False when it is not."""
        key, equals, text = (value or "").partition("=")
        info = catalog.lookup(key.strip()) if equals else None
        if info is None:
            return False
        self.assign(info, text.strip(), f"{spelled} {key.strip()}")
        return True

    def value_for(self, info: OptionInfo, flag: str) -> str | None:
        if info.kind == "bool":
            return None  # booleans take a value only as --flag=false
        upcoming = self.peek()
        if not info.needs_value:
            if upcoming is None or upcoming.startswith("-") or is_ini_argument(upcoming):
                return None
            return self.take()
        if upcoming is None or upcoming.startswith("--"):
            raise ConfigError(
                COMMAND_LINE, flag, "needs a value", f"write {flag} {info.spec.metavar}"
            )
        return self.take()

    def assign(self, info: OptionInfo, raw: str | None, spelled: str) -> None:
        if info.name == "ini":
            if not raw:
                raise ConfigError(COMMAND_LINE, spelled, "needs a file", f"write {spelled} app.ini")
            self.ini_files.append(IniRequest(raw, COMMAND_LINE, spelled.lstrip("-")))
        else:
            self.assignments.append(Assignment(info, raw, COMMAND_LINE, spelled))

    def positional(self, token: str) -> None:
        if not is_ini_argument(token):
            raise ConfigError(
                COMMAND_LINE,
                repr(token),
                "unexpected argument",
                "write options as --name value, and name config files *.ini or pass --ini FILE",
            )
        self.ini_files.append(IniRequest(token, COMMAND_LINE))


def _help_text() -> str:
    # The help and reference text are built only when asked for, not kept in every worker.
    from usher.options.docs import help_text

    return help_text()
