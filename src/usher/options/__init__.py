"""usher's options: one table (`Settings`, and by name only every other uWSGI option in
`uwsgi_names`), read from the command line, config files (ini, JSON, XML) and the environment.

`load_settings(argv, environ)` returns `Loaded` or raises:

- `ConfigError`: a configuration mistake; `str()` is one line (option, source, fix). The CLI
  prints it and exits with `ConfigError.exit_status` (2).
- `HelpRequested` (`--help`, `-h`) or `VersionRequested` (`--version`), both `ExitRequested`:
  the CLI prints `.text` and exits with status 0.

Precedence, weakest first: defaults, environment, ini files, command line (see docs/options.md).
A uWSGI option usher does not implement, or a key that is no option at all, is a note in
`Loaded.notes`, or with `strict` a ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from usher.options.catalog import Assignment
from usher.options.cli_args import read_argv
from usher.options.environ import read_environ
from usher.options.errors import (
    ConfigError,
    ExitRequested,
    HelpRequested,
    VersionRequested,
)
from usher.options.ini import read_ini_files
from usher.options.resolve import convert, resolve
from usher.options.settings import Settings
from usher.options.values import FactoryCall, split_factory

__all__ = [
    "ConfigError",
    "ExitRequested",
    "FactoryCall",
    "HelpRequested",
    "Loaded",
    "Settings",
    "VersionRequested",
    "help_text",
    "load_settings",
    "option_reference_markdown",
    "split_factory",
]


@dataclass(frozen=True, slots=True)
class Loaded:
    """The settings, and the notes to log at startup (ignored options, dropped comments...)."""

    settings: Settings
    notes: tuple[str, ...]


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Loaded:
    """Read every source and merge them; `argv` excludes the program name.

    With `strict` set, the first option that was dropped for being unknown or not supported
    is a ConfigError instead of a note.
    """
    command_line = read_argv(argv)
    environment = read_environ(environ)
    given = (*environment.assignments, *command_line.assignments)
    ini = read_ini_files(
        (*environment.ini_files, *command_line.ini_files),
        environ,
        allow_exec=_allows_exec(given),
    )
    settings, read_as = resolve(
        (*environment.assignments, *ini.assignments, *command_line.assignments), ini.files
    )
    if settings.strict:
        for refusal in (*environment.refusals, *ini.refusals, *command_line.refusals):
            raise refusal.error()
    notes = (*environment.notes, *ini.notes, *command_line.notes, *read_as)
    return Loaded(settings, notes)


def _allows_exec(assignments: Sequence[Assignment]) -> bool:
    # The ini reader needs this before the files are read (they may say it themselves too).
    allowed = False
    for assignment in assignments:
        if assignment.info.field == "allow_exec_placeholders":
            value, _ = convert(assignment)
            allowed = bool(value)
    return allowed


def help_text() -> str:
    """The `--help` text, generated from the option table (imported only when asked for)."""
    from usher.options.docs import help_text as generate

    return generate()


def option_reference_markdown() -> str:
    """The text of docs/options.md, generated from the option table."""
    from usher.options.docs import option_reference_markdown as generate

    return generate()
