"""`--help` text and docs/options.md, both generated from the option table."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from usher.options.catalog import OPTIONS, OptionInfo
from usher.options.docs_text import INTRODUCTION, KNOWN_NAMES_INTRODUCTION
from usher.options.uwsgi_name_table import Status
from usher.options.uwsgi_names import USHER_ONLY, known_names

_HELP_WIDTH = 100
_FLAG_COLUMN = 34
_KIND_NAMES = {"bool": "boolean", "int": "integer", "str": "string", "list": "string"}


def _groups() -> Iterator[tuple[str, list[OptionInfo]]]:
    grouped: dict[str, list[OptionInfo]] = {}
    for info in OPTIONS:
        grouped.setdefault(info.spec.group, []).append(info)
    yield from grouped.items()


def _describe(info: OptionInfo) -> str:
    text = info.spec.help
    if info.spec.flag_only_value is not None:
        text += f" Given without a value: {info.spec.flag_only_value}."
    if info.spec.cap is not None:
        text += f" Values above {info.spec.cap} are capped at {info.spec.cap}, with a note."
    return text


def _default(info: OptionInfo) -> str:
    if info.kind == "list":
        return "none"
    if info.default is None:
        return "unset"
    if isinstance(info.default, bool):
        return "true" if info.default else "false"
    return str(info.default)


def _flags(info: OptionInfo) -> str:
    flags = [f"-{info.spec.short}"] if info.spec.short else []
    flags.append(f"--{info.name}")
    value = "" if info.kind == "bool" else f" {info.spec.metavar}"
    if info.spec.flag_only_value is not None:
        value = f"[={info.spec.metavar}]"
    return ", ".join(flags) + value


def help_text() -> str:
    """What `usher --help` prints: usage, then every option by group."""
    out = [
        "usage: usher [FILE.ini[:SECTION]] [--ini FILE[:SECTION]] [--option [VALUE]] ...",
        "",
        "Options also come from ini files ([uwsgi] or [usher] section) and from USHER_<NAME> or",
        "UWSGI_<NAME> environment variables. Command-line values win where they are given.",
        "Other uWSGI options are known by name: each is logged with why usher ignores it or what",
        "to use instead (see docs/options.md), and refused under --strict.",
    ]
    for group, infos in _groups():
        out += ["", f"{group}:"]
        for info in infos:
            extra = (
                [f"aliases: {', '.join('--' + a for a in info.spec.aliases)}"]
                if info.spec.aliases
                else []
            )
            extra += ["repeatable"] if info.spec.repeatable else []
            extra += [] if info.kind == "list" else [f"default: {_default(info)}"]
            out += _help_entry(_flags(info), f"{_describe(info)} [{'; '.join(extra)}]")
    out += ["", "Other:"]
    out += _help_entry("-h, --help", "Show this help and exit.")
    out += _help_entry("--version", "Show usher's version and exit.")
    return "\n".join(out)


def _help_entry(flags: str, text: str) -> list[str]:
    indent = " " * _FLAG_COLUMN
    lines = textwrap.wrap(
        text, _HELP_WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )
    head = f"  {flags}"
    if len(head) < _FLAG_COLUMN - 1:
        return [head.ljust(_FLAG_COLUMN) + lines[0][_FLAG_COLUMN:], *lines[1:]]
    return [head, *lines]


def option_reference_markdown() -> str:
    """The text of docs/options.md."""
    out = [INTRODUCTION.strip(), "", *_status_counts(), ""]
    for group, infos in _groups():
        out += [f"## {group}", ""]
        out += ["| Option | Aliases | Type | Default | Repeatable | Description |"]
        out += ["|---|---|---|---|---|---|"]
        out += [_reference_row(info) for info in infos]
        out.append("")
    out += [KNOWN_NAMES_INTRODUCTION.strip(), ""]
    for status, title in _STATUS_TITLES.items():
        out += [f"### {title}", "", "| Options | Why, or what to use instead |", "|---|---|"]
        out += [_known_row(note, names) for note, names in _known_by_note(status).items()]
        out += _accepted_value_rows() if status == "accepted" else []
        out.append("")
    return "\n".join(out)


_STATUS_TITLES: dict[Status, str] = {
    "reader": "Config language (read by the ini reader)",
    "accepted": "Accepted: usher already behaves so, or the option has no meaning here",
    "unsupported": "Not supported: what to use instead",
}


def status_counts() -> dict[str, int]:
    """How many uWSGI option names (aliases included) usher has by status."""
    implemented = sum(len(info.spellings) for info in OPTIONS) - len(USHER_ONLY)
    counts = {"implemented": implemented}
    for status in _STATUS_TITLES:
        counts[status] = sum(
            len(spelling) > 1  # one-letter flags (-Q) are another way to write a name
            for known in known_names()
            if known.status == status
            for spelling in known.spellings
        )
    return counts


def _status_counts() -> list[str]:
    counts = status_counts()
    total = sum(counts.values())
    return [
        "## Every uWSGI option, by status",
        "",
        f"usher knows all {total} option names of uWSGI 2.0 (aliases counted, the core, the "
        "python plugin and the plugins of the standard build):",
        "",
        "| Status | Names |",
        "|---|---|",
        f"| Implemented: a setting below | {counts['implemented']} |",
        f"| Config language: read by the ini reader | {counts['reader']} |",
        f"| Accepted: no effect needed in usher | {counts['accepted']} |",
        f"| Not supported: a note names the alternative | {counts['unsupported']} |",
        "",
        f"usher's own options, not in uWSGI: {', '.join(f'`{name}`' for name in USHER_ONLY)}.",
    ]


def _known_by_note(status: Status) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for known in known_names():
        if known.status == status:
            names = [f"`{known.name}`"]
            names += [f"`-{alias}`" if len(alias) == 1 else f"`{alias}`" for alias in known.aliases]
            grouped.setdefault(known.note, []).append(" / ".join(names))
    return grouped


def _accepted_value_rows() -> list[str]:
    from usher.options.uwsgi_name_table import ACCEPTED_VALUES

    return [
        _known_row(note, [f"`{name} = {value}`"]) for (name, value), note in ACCEPTED_VALUES.items()
    ]


def _known_row(note: str, names: list[str]) -> str:
    sentence = (
        note if note.startswith("usher") else note[:1].upper() + note[1:]
    )  # usher: lower case
    cells = [", ".join(names), sentence + "."]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _reference_row(info: OptionInfo) -> str:
    aliases = [f"`-{info.spec.short}`"] if info.spec.short else []
    aliases += [f"`{alias}`" for alias in info.spec.aliases]
    kind = _KIND_NAMES[info.kind]
    if info.kind != "bool":
        kind += f" ({info.spec.metavar})"
    default = _default(info)
    if info.default is not None and info.kind != "list":
        default = f"`{default}`"  # a real value, as opposed to "unset" or "none"
    repeatable = "yes" if info.spec.repeatable else ""
    cells = [f"`{info.name}`", ", ".join(aliases), kind, default, repeatable, _describe(info)]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
