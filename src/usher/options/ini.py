"""Read uWSGI-style ini files into option assignments.

Rules (docs/options.md explains them to users):

- Only one section is read: the one named in `FILE:SECTION`, else `[uwsgi]`, else `[usher]`.
- `key = value`; a key alone means "set" (true for booleans); repeated keys repeat the option.
- Whole-line comments start with `;` or `#`. A `#` or `;` after whitespace inside a line also
  starts a comment here; uWSGI would keep that text in the value, so a note says it was dropped.
- `ini = other.ini` loads another file right there (relative paths are from the working
  directory, as in uWSGI; write `%d` to mean "next to this file").
- Keys that are not options are kept as `%(key)` variables; one never used gets a note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from usher.options import catalog
from usher.options.catalog import Assignment, IniRequest, OptionInfo
from usher.options.errors import ConfigError, Origin
from usher.options.expand import Expander, RawValue, magic_table

DEFAULT_SECTIONS = ("uwsgi", "usher")
# Includes nest a level or two in practice; the cap turns a runaway chain into an error.
MAX_INCLUDE_DEPTH = 16
_INLINE_COMMENT = re.compile(r"\s([#;])")


@dataclass(frozen=True, slots=True)
class IniLine:
    """One `key = value` line: `value` is None for a bare key, `comment` the dropped marker."""

    number: int
    section: str | None
    key: str
    value: str | None
    comment: str


@dataclass(frozen=True, slots=True)
class IniText:
    """A parsed ini file: its key lines in order and the sections it declares."""

    lines: tuple[IniLine, ...]
    sections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IniOptions:
    """Everything the ini files said: assignments in order, the files read, notes for the log."""

    assignments: tuple[Assignment, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...]


def split_spec(spec: str) -> tuple[str, str | None]:
    """`app.ini:prod` -> ("app.ini", "prod"); a path that exists as written is never split."""
    path, colon, section = spec.rpartition(":")
    if colon and path and section and "/" not in section and not os.path.exists(spec):
        return path, section
    return spec, None


def parse_ini(text: str, path: str) -> IniText:
    """Split ini text into key lines (pure: no expansion, no option knowledge)."""
    lines: list[IniLine] = []
    sections: list[str] = []
    section: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        comment = _INLINE_COMMENT.search(stripped)
        content = stripped[: comment.start()].rstrip() if comment else stripped
        if content.startswith("["):
            if not content.endswith("]"):
                raise ConfigError(
                    Origin("ini", path, number),
                    content,
                    "unclosed section header",
                    "write the header as [uwsgi]",
                )
            section = content[1:-1].strip()
            sections.append(section)
            continue
        key, equals, value = content.partition("=")
        if not key.strip():
            raise ConfigError(
                Origin("ini", path, number), content, "the line has no key", "write key = value"
            )
        marker = comment[1] if comment else ""
        lines.append(
            IniLine(number, section, key.strip(), value.strip() if equals else None, marker)
        )
    return IniText(tuple(lines), tuple(sections))


def read_ini_files(requests: Sequence[IniRequest], environ: Mapping[str, str]) -> IniOptions:
    """Load the requested files in order (and what they include) and expand their values."""
    loader = _Loader(environ)
    for request in requests:
        loader.load(request)
    return loader.finish()


def _read_text(path: str, requested_by: Origin) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            requested_by,
            "ini",
            f"cannot read {path}: {reason}",
            "check the file name and its permissions",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            requested_by, "ini", f"{path} is not UTF-8 text", "save the file as UTF-8"
        ) from None


def _choose_section(text: IniText, wanted: str | None, path: str, origin: Origin) -> str:
    if wanted is not None:
        if wanted in text.sections:
            return wanted
        listed = ", ".join(f"[{name}]" for name in dict.fromkeys(text.sections)) or "none"
        raise ConfigError(
            origin,
            "ini",
            f"{path} has no [{wanted}] section",
            f"pick one of its sections: {listed}",
        )
    for name in DEFAULT_SECTIONS:
        if name in text.sections:
            return name
    raise ConfigError(
        origin,
        "ini",
        f"{path} has no [uwsgi] or [usher] section",
        "put [uwsgi] above the options, or name the section as FILE:SECTION",
    )


class _Loader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.expander = Expander(environ)
        self.options: list[tuple[RawValue, OptionInfo]] = []
        self.unknown: dict[str, RawValue] = {}
        self.files: list[str] = []
        self.notes: list[str] = []
        self.reading: list[str] = []  # absolute paths being read, to catch include loops

    def load(self, request: IniRequest) -> None:
        path, wanted = split_spec(request.spec)
        absolute = os.path.abspath(path)
        if absolute in self.reading:
            raise ConfigError(
                request.origin,
                "ini",
                f"including {path} again makes a loop",
                "remove the ini = line that loops back",
            )
        if len(self.reading) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(
                request.origin,
                "ini",
                f"ini files nest more than {MAX_INCLUDE_DEPTH} deep",
                "include the innermost files directly",
            )
        text = parse_ini(_read_text(path, request.origin), path)
        section = _choose_section(text, wanted, path, request.origin)
        if wanted is None and section == "uwsgi" and "usher" in text.sections:
            self.notes.append(f"{path}: its [usher] section was not read; load it as {path}:usher")
        self.files.append(request.spec)
        magic = magic_table(path)
        self.reading.append(absolute)
        try:
            for line in text.lines:
                self._take(line, section, path, magic)
        finally:
            self.reading.pop()

    def _take(self, line: IniLine, section: str, path: str, magic: Mapping[str, str]) -> None:
        origin = Origin("ini", path, line.number)
        if line.section != section:
            if line.section is None:
                self.notes.append(f"{origin}: {line.key} is outside any section; ignored")
            return
        if line.comment:
            self.notes.append(
                f"{origin}: text after ' {line.comment}' in {line.key} was dropped as a comment "
                "(uWSGI would keep it in the value); put comments on their own line"
            )
        raw = RawValue(line.key, line.value, origin, magic)
        self.expander.define(raw)
        info = catalog.lookup(line.key)
        if info is None:
            self.unknown.setdefault(line.key, raw)
        elif info.name == "ini":
            if raw.text is None:
                raise ConfigError(origin, line.key, "needs a file", "write ini = other.ini")
            self.load(IniRequest(self.expander.expand(raw), origin))
        else:
            self.options.append((raw, info))

    def finish(self) -> IniOptions:
        assignments = []
        for raw, info in self.options:
            literal = info.spec.literal_placeholders
            text = (
                None
                if raw.text is None
                else self.expander.expand(raw, literal_placeholders=literal)
            )
            assignments.append(Assignment(info, text, raw.origin, raw.key))
        for key, raw in self.unknown.items():
            if key not in self.expander.used:
                guess = catalog.suggest(key)
                hint = f"; did you mean {guess}?" if guess else ""
                self.notes.append(f"{raw.origin}: {key} is not an usher option, ignored{hint}")
        return IniOptions(
            tuple(assignments), tuple(self.files), (*self.notes, *self.expander.notes)
        )
