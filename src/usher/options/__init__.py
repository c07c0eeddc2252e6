"""usher's options: one table (`Settings`), read from the command line, ini files and the
environment.

`load_settings(argv, environ)` returns `Loaded` or raises:

- `ConfigError`: a configuration mistake; `str()` is one line (option, source, fix). The CLI
  prints it and exits with `ConfigError.exit_status` (2).
- `HelpRequested` (`--help`, `-h`) or `VersionRequested` (`--version`), both `ExitRequested`:
  the CLI prints `.text` and exits with status 0.

Precedence, weakest first: defaults, environment, ini files, command line (see docs/options.md).

A server reads its sources once (a reload re-executes the master), then calls `release_readers()`
before it imports anything else.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from usher.options.errors import (
    ConfigError,
    ExitRequested,
    HelpRequested,
    VersionRequested,
)
from usher.options.settings import Settings

__all__ = [
    "ConfigError",
    "ExitRequested",
    "HelpRequested",
    "Loaded",
    "Settings",
    "VersionRequested",
    "help_text",
    "load_settings",
    "option_reference_markdown",
    "release_readers",
]

# The modules that read the sources and look options up: imported by `load_settings`.
_READERS = ("cli_args", "environ", "ini", "expand", "resolve", "catalog")


@dataclass(frozen=True, slots=True)
class Loaded:
    """The settings, and the notes to log at startup (ignored options, dropped comments...)."""

    settings: Settings
    notes: tuple[str, ...]


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Loaded:
    """Read every source and merge them; `argv` excludes the program name."""
    from usher.options.cli_args import read_argv
    from usher.options.environ import read_environ
    from usher.options.ini import read_ini_files
    from usher.options.resolve import resolve

    command_line = read_argv(argv)
    environment = read_environ(environ)
    ini = read_ini_files((*environment.ini_files, *command_line.ini_files), environ)
    settings, ignored = resolve(
        (*environment.assignments, *ini.assignments, *command_line.assignments), ini.files
    )
    return Loaded(settings, (*environment.notes, *ini.notes, *ignored))


def release_readers() -> None:
    """Forget the modules that read the sources; a later `load_settings` imports them again.

    Whatever the master holds when it forks stays resident in every worker. Released before the
    app is imported, the readers' memory is reused by the app's modules (-0.25 MiB per worker).
    """
    package = sys.modules[__name__]
    for name in _READERS:
        sys.modules.pop(f"{__name__}.{name}", None)
        package.__dict__.pop(name, None)


def help_text() -> str:
    """The `--help` text, generated from the option table (imported only when asked for)."""
    from usher.options.docs import help_text as generate

    return generate()


def option_reference_markdown() -> str:
    """The text of docs/options.md, generated from the option table."""
    from usher.options.docs import option_reference_markdown as generate

    return generate()
