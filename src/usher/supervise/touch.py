"""touch-reload and touch-chain-reload: notice that a file's modification time changed.

The master checks once a second with one stat() per file, the same cost as uWSGI's polling, and
needs no inotify thread. A file that appears, disappears or changes counts as touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class TouchWatch:
    """Remembers the files' modification times and reports which changed since the last check."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.seen = {path: _mtime(path) for path in paths}

    def touched(self) -> list[str]:
        """The files whose modification time changed since the previous call (or creation)."""
        changed = []
        for path, before in self.seen.items():
            now = _mtime(path)
            if now != before:
                self.seen[path] = now
                changed.append(path)
        return changed
