"""Where the vassals' config files are: `emperor` values to glob patterns, and one scan of them.

A directory means its *.ini, *.json and *.xml files (the formats usher reads); anything with a
glob character is a glob. uWSGI's other imperial monitors (zmq://, amqp://, pg://, mongodb://...)
are refused with one line naming the one given. The scan is a stat per file: see run.py for why
the emperor scans instead of waiting on inotify.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

CONFIG_SUFFIXES = (".ini", ".json", ".xml")
# A file beside the config, read into the vassal's environment (KEY=VALUE lines).
ENV_SUFFIX = ".env"
_GLOB_CHARS = frozenset("*?[")


class UnsupportedSource(Exception):
    """An `emperor` value usher cannot watch; str() is one line naming it."""


@dataclass(frozen=True, slots=True)
class SeenFile:
    """One vassal config file as the scan found it."""

    path: str
    mtime_ns: int  # the config's mtime, or its env file's if that is newer
    env_mtime_ns: int  # 0: no env file
    uid: int
    gid: int


def patterns(values: tuple[str, ...]) -> tuple[str, ...]:
    """Glob patterns for the `emperor` values; UnsupportedSource for another kind of source."""
    found: list[str] = []
    for value in values:
        source = value.removeprefix("dir://").removeprefix("glob://")
        if "://" in source:
            scheme = source.split("://", 1)[0]
            raise UnsupportedSource(
                f"emperor = {value}: the {scheme}:// imperial monitor is not supported; usher "
                "watches a directory or a glob of config files (emperor = /etc/usher/vassals)"
            )
        if _GLOB_CHARS & set(source):
            found.append(source)
        else:
            found.extend(
                os.path.join(glob.escape(source), f"*{suffix}") for suffix in CONFIG_SUFFIXES
            )
    return tuple(found)


def scan(globs: tuple[str, ...]) -> dict[str, SeenFile]:
    """Every config file the patterns match now, by absolute path (a file that vanishes between
    the glob and its stat is simply not seen this time)."""
    seen: dict[str, SeenFile] = {}
    for pattern in globs:
        for path in sorted(glob.glob(pattern)):
            absolute = os.path.abspath(path)
            if absolute in seen or not absolute.endswith(CONFIG_SUFFIXES):
                continue
            found = _stat(absolute)
            if found is not None:
                seen[absolute] = found
    return seen


def env_path(config: str) -> str:
    """The env file of a vassal: app.ini -> app.env beside it."""
    return os.path.splitext(config)[0] + ENV_SUFFIX


def _stat(path: str) -> SeenFile | None:
    try:
        # stat, not lstat: a vassal is often a symlink to the app's own ini, and touching the
        # app's file must reload it (uWSGI follows links too).
        info = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    try:
        env_mtime = os.stat(env_path(path)).st_mtime_ns
    except OSError:
        env_mtime = 0
    return SeenFile(path, max(info.st_mtime_ns, env_mtime), env_mtime, info.st_uid, info.st_gid)
