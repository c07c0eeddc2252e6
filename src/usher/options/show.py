"""show-config: the resolved configuration as uWSGI prints it, an ini section of every option
that differs from its default, framed by comment lines."""

from __future__ import annotations

import dataclasses

from usher.options.settings import Settings


def render_config(settings: Settings) -> list[str]:
    """The lines to log: `key = value` for each option set away from its default (a repeatable
    option gives one line per value)."""
    lines = [";usher instance configuration", "[uwsgi]"]
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        if value == field.default:
            continue
        key = field.name.replace("_", "-")
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            lines.append(f"{key} = {text}")
    lines.append(";end of configuration")
    return lines
