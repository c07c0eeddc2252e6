"""What can stop option loading: a configuration mistake, or a request for help or the version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one value came from; `str()` is what error messages and notes print."""

    kind: Literal["ini", "env", "cli"]
    where: str = ""  # the file name for ini, the variable name for env
    line: int = 0

    def __str__(self) -> str:
        if self.kind == "ini":
            return f"{self.where}:{self.line}" if self.line else self.where
        if self.kind == "env":
            return f"env {self.where}"
        return "command line"


COMMAND_LINE = Origin("cli")


def one_line(text: str) -> str:
    """Fold `text` onto a single line, so one error is always one log line."""
    return " ".join(text.split())


class ConfigError(Exception):
    """A configuration mistake; `str()` is one line: source, option, problem and the fix.

    The CLI prints it and exits with `exit_status` (2, the usual status for bad usage).
    """

    exit_status: ClassVar[int] = 2

    def __init__(self, source: Origin | str, option: str, problem: str, fix: str) -> None:
        super().__init__(str(source), option, problem, fix)
        self.source = str(source)
        self.option = option
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return one_line(f"{self.source}: {self.option}: {self.problem}; {self.fix}")


class InvalidValue(Exception):
    """Raised by a value check; the loader adds the option and the source to make a ConfigError."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix


class ExitRequested(Exception):
    """The command line asked for text to be printed instead of a server: print `text`, exit 0."""

    exit_status: ClassVar[int] = 0

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class HelpRequested(ExitRequested):
    """`--help` or `-h`: `text` is the generated option help, grouped."""


class VersionRequested(ExitRequested):
    """`--version`: `text` is the version line."""
