"""uWSGI's other config layouts, read into the same key lines as an ini file.

- JSON (`--json app.json`, `app.json[:section]`): `{"uwsgi": {"key": value}}`; a list repeats
  the key, `true`/`false` are the words, numbers their digits, `null` a bare key.
- XML (`--xml app.xml`, `app.xml[:id]`): `<uwsgi><key>value</key><flag/></uwsgi>`; the section
  is the `id` attribute of a `<uwsgi>` element (the root, or one under it); attributes of
  option elements are not read.
- YAML: refused with one line. uWSGI's YAML needs a YAML parser, and usher depends on none for
  a format its users rarely write; JSON says the same thing and is read by the standard library.

Both formats are read with the standard library only, imported when a file needs them (not
in every worker). Keys keep their order; every line carries line number 0, so messages name the
file alone.
"""

from __future__ import annotations

from usher.options.errors import InvalidValue
from usher.options.ini_text import IniLine, IniText

_FORMAT_BY_OPTION = {
    **{name: "json" for name in ("json", "js", "j")},
    **{name: "xml" for name in ("xml", "xmlconfig", "x")},
    **{name: "yaml" for name in ("yaml", "yml", "y")},
}
_FORMAT_BY_SUFFIX = {".json": "json", ".js": "json", ".xml": "xml", ".yaml": "yaml", ".yml": "yaml"}


def config_format(path: str, spelled: str) -> str:
    """ "ini", "json", "xml" or "yaml": from the option that asked (--json) or the file name."""
    if spelled in _FORMAT_BY_OPTION:
        return _FORMAT_BY_OPTION[spelled]
    for suffix, name in _FORMAT_BY_SUFFIX.items():
        if path.endswith(suffix):
            return name
    return "ini"


def parse_json(text: str) -> IniText:
    """uWSGI's JSON layout as key lines, one section per top-level object."""
    import json

    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidValue(f"is not valid JSON ({error})", "fix the JSON syntax") from None
    if not isinstance(document, dict):
        raise InvalidValue("is not a JSON object", 'write {"uwsgi": {"option": "value"}}')
    lines: list[IniLine] = []
    sections = [name for name, body in document.items() if isinstance(body, dict)]
    for section in sections:
        for key, value in document[section].items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(IniLine(0, section, key, _json_text(key, item), ""))
    return IniText(tuple(lines), tuple(sections))


def _json_text(key: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidValue(f"{key} holds a JSON object", "give a string, number, boolean or list")


def parse_xml(text: str) -> IniText:
    """uWSGI's XML layout as key lines, one section per `<uwsgi>` element."""
    from xml.etree import ElementTree

    # ElementTree never fetches external entities, and the expat it ships with bounds entity
    # expansion; a config file is the administrator's own input besides.
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise InvalidValue(f"is not valid XML ({error})", "fix the XML syntax") from None
    blocks = [root] if root.tag == "uwsgi" else list(root.iter("uwsgi"))
    lines: list[IniLine] = []
    sections: list[str] = []
    for block in blocks:
        section = block.get("id", "uwsgi")
        sections.append(section)
        for element in block:
            if not isinstance(element.tag, str):
                continue  # comments and processing instructions
            value = (element.text or "").strip()
            lines.append(IniLine(0, section, element.tag, value or None, ""))
    return IniText(tuple(lines), tuple(sections))


def refuse_yaml() -> InvalidValue:
    """The one-line refusal for a YAML config."""
    return InvalidValue(
        "is YAML, which usher does not read", "convert it to an ini file or to uWSGI's JSON layout"
    )
