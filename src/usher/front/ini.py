"""The front file's text: `[kind label]` sections of `key = value` entries (keys may repeat,
as nginx's directives do), and nginx's value syntax (times, sizes, addresses). Every error names
the file and line, what is wrong and how to fix it (`Reader.fail`). usher.front.config turns the
sections into the front's model."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from usher.front.model import Address


class FrontConfigError(Exception):
    """The front's configuration cannot be used; str() is one line with the cause and the fix."""


@dataclass(slots=True)
class Entry:
    """One `key = value` line of a section."""

    line: int
    key: str
    value: str


@dataclass(slots=True)
class Section:
    """A `[kind label]` section and its entries in order (keys may repeat)."""

    line: int
    kind: str
    label: str
    entries: list[Entry] = field(default_factory=list)

    def values(self, key: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.key == key]

    def last(self, key: str) -> Entry | None:
        found = self.values(key)
        return found[-1] if found else None


KINDS = ("front", "upstream", "server", "location")


class Reader:
    """Reads one file; `fail` makes an error that names the file and line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, line: int, what: str, fix: str) -> FrontConfigError:
        return FrontConfigError(f"{self.path}:{line}: {what} ({fix})")


# -- the ini text ------------------------------------------------------------------------------

_INLINE_COMMENT = re.compile(r"\s[#;]")


def split_sections(text: str, reader: Reader) -> list[Section]:
    """The file's sections with their entries; a key outside any section is an error."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sections.append(read_header(line, number, reader))
            continue
        comment = _INLINE_COMMENT.search(line)
        if comment is not None:
            line = line[: comment.start()].rstrip()
        key, sep, value = line.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sections:
            raise reader.fail(number, f"{key!r} outside any section", "put it under [front]")
        if not key:
            raise reader.fail(number, f"no key in {raw.strip()!r}", "write key = value")
        sections[-1].entries.append(Entry(number, key, value.strip() if sep else ""))
    return sections


def read_header(line: str, number: int, reader: Reader) -> Section:
    if not line.endswith("]"):
        raise reader.fail(number, f"unclosed section header {line!r}", "end it with ]")
    inner = line[1:-1].strip()
    kind, _, label = inner.partition(" ")
    kind = kind.lower()
    if kind not in KINDS:
        raise reader.fail(
            number,
            f"unknown section [{inner}]",
            "use [front], [upstream NAME], [server NAME] or [location [=|~|~*|^~] PATTERN]",
        )
    label = label.strip()
    if kind in ("upstream", "location") and not label:
        what = "a name" if kind == "upstream" else "a pattern"
        raise reader.fail(
            number,
            f"[{kind}] without {what}",
            f"write [{kind} {'app' if kind == 'upstream' else '/'}]",
        )
    return Section(number, kind, label)


# -- values ------------------------------------------------------------------------------------

_TIME = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^(\d+)([kKmMgG])?$")
_SIZE_UNITS = {"k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024, None: 1}


def parse_time(text: str, *, bare_unit: float = 1.0) -> float | None:
    """nginx's time syntax (`500ms`, `10s`, `1m`); a bare number counts in `bare_unit`
    seconds. None when the text is not a time."""
    found = _TIME.match(text.strip())
    if found is None:
        return None
    unit = found.group(2)
    scale = bare_unit if unit is None else _TIME_UNITS[unit]
    return float(found.group(1)) * scale


def parse_size(text: str) -> int | None:
    """nginx's size syntax (`512`, `64k`, `1m`, `1g`); None when the text is not a size."""
    found = _SIZE.match(text.strip())
    if found is None:
        return None
    unit = found.group(2)
    return int(found.group(1)) * _SIZE_UNITS[unit.lower() if unit else None]


def read_time(section: Section, key: str, reader: Reader, default: float) -> float:
    entry = section.last(key)
    if entry is None:
        return default
    value = parse_time(entry.value)
    if value is None:
        raise reader.fail(
            entry.line, f"{key} = {entry.value!r} is not a time", "write 30s, 500ms or 1m"
        )
    return value


def read_size(section: Section, key: str, reader: Reader, default: int) -> int:
    entry = section.last(key)
    if entry is None:
        return default
    value = parse_size(entry.value)
    if value is None:
        raise reader.fail(
            entry.line, f"{key} = {entry.value!r} is not a size", "write 512, 64k or 10m"
        )
    return value


def read_int(section: Section, key: str, reader: Reader, default: int, *, low: int = 0) -> int:
    entry = section.last(key)
    if entry is None:
        return default
    return to_int(entry.value.rstrip("%"), entry, reader, low)


def to_int(text: str, entry: Entry, reader: Reader, low: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise reader.fail(
            entry.line, f"{entry.key} = {entry.value!r}", f"give a whole number of at least {low}"
        )
    return value


def parse_address(text: str, entry: Entry, reader: Reader, *, default_host: str) -> Address:
    """`host:port`, `:port`, `port`, `[v6]:port` or `unix:/path`."""
    text = text.strip()
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise reader.fail(entry.line, f"{entry.key} = {text!r}", "write unix:/run/app.sock")
        return Address(unix=path)
    if text.isdigit():
        host, port_text = default_host, text
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise reader.fail(
                entry.line, f"{entry.key} = {text!r} has no port", f"write {text}:8000"
            )
    port = int(port_text) if port_text.isdigit() else -1
    if not 0 < port < 65536:
        raise reader.fail(
            entry.line, f"{entry.key} = {text!r}: bad port", "give a port from 1 to 65535"
        )
    return Address(host=host or default_host, port=port)


def parse_flags(words: Iterable[str], entry: Entry, reader: Reader) -> dict[str, str]:
    """`name=value` and bare `name` words of a directive's arguments."""
    flags: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        flags[name.lower()] = value if sep else ""
    return flags
