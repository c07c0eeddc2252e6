"""A vassal's env file: KEY=VALUE lines, as systemd's EnvironmentFile= reads the simple ones.

Blank lines and lines starting with # or ; are skipped; a value may be wrapped in one pair of
single or double quotes, which are removed. No expansion and no escapes: what is written is
what the vassal gets.
"""

from __future__ import annotations

import os


class EnvFileError(ValueError):
    """A line that is not KEY=VALUE; str() names the file and line."""


def parse_env(text: str, name: str) -> dict[str, str]:
    """The variables of an env file's text (`name` is for the error message)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, equals, value = line.removeprefix("export ").partition("=")
        key = key.strip()
        if not equals or not key.replace("_", "a").isalnum() or key[0].isdigit():
            # The line itself is not repeated: the file may hold secrets, and the log may not.
            raise EnvFileError(f"{name}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = value
    return found


def read_env_file(path: str, owner: int | None = None) -> dict[str, str]:
    """The variables of the env file at `path` (none when there is no such file); OSError or
    EnvFileError when it cannot be read. With `owner`, a file (or a link's target) owned by
    anyone else is refused: under emperor-tyrant the emperor reads it as root for a vassal that
    runs as `owner`, who must not reach other users' files through a symlink."""
    try:
        with open(path) as handle:
            if owner is not None and os.fstat(handle.fileno()).st_uid != owner:
                raise EnvFileError(f"{path}: not owned by the vassal's user (emperor-tyrant)")
            text = handle.read()
    except FileNotFoundError:
        return {}
    return parse_env(text, path)
