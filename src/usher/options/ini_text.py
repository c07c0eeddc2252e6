"""Split ini text into key lines: pure, with no expansion and no knowledge of options.

- Lines are split on any line ending (CRLF included); keys and values are stripped, so indented
  keys read as any other.
- Whole-line comments start with `;` or `#`. A `#` or `;` after whitespace inside a line also
  starts a comment here; the marker is kept so that the reader can say the text was dropped.
- `key = value`; a key alone (no `=`) has the value None: "set".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from usher.options.errors import ConfigError, Origin

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
