"""py-autoreload: watch the files of the modules a process has imported, and say when one changes.

uWSGI scans every module's modification time each N seconds. usher asks the kernel instead
(inotify, through watchfiles): nothing is read until a file changes. The directories holding the
modules are watched, not the files, because editors save by writing a new file and renaming it
over the old one, which a watch on the old file would not see. The standard library is left out:
it does not change under a running server.

`ModuleWatch.start` returns once the watch is in place, so a change made after the process said it
was ready is seen. The callback runs on the watch's own thread; the worker's callback only sends
the master SIGHUP, so the reload is the one SIGHUP and touch-reload do.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

# py-autoreload is a development option: watchfiles is the `dev` extra, and this module is
# imported only when the option is set (an ImportError then says what to install).
from watchfiles import watch

# How long the watching thread sleeps between checks of its stop flag when nothing changes; it
# is also the longest `start` waits for the watch to be in place, times SETUP_TICKS.
TICK_MS = 200
SETUP_TICKS = 25


def module_files(modules: Iterable[object]) -> set[str]:
    """The source files of `modules` (sys.modules values) outside the standard library."""
    paths = sysconfig.get_paths()
    stdlib = tuple(str(Path(paths[key]).resolve()) + "/" for key in ("stdlib", "platstdlib"))
    site = ("site-packages", "dist-packages")
    files = set()
    for module in modules:
        name = getattr(module, "__file__", None)
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        path = str(Path(name).resolve())
        if path.startswith(stdlib) and not any(part in path for part in site):
            continue
        files.add(path)
    return files


class ModuleWatch:
    """A thread that calls `on_change(paths)` once for the first change among `files`."""

    def __init__(self, files: set[str], period: int, on_change: Callable[[list[str]], None]):
        self.files = files
        # uWSGI's N: changes within N seconds are reported together, as one reload.
        self.debounce_ms = max(1, period) * 1000
        self.on_change = on_change
        self.watching = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="usher-autoreload", daemon=True)

    def start(self) -> bool:
        """Start watching; True once the watch is in place (False if it could not be set up)."""
        self.thread.start()
        return self.watching.wait(TICK_MS * SETUP_TICKS / 1000)

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        folders = sorted({str(Path(path).parent) for path in self.files})
        for changes in watch(
            *folders,
            watch_filter=lambda _change, path: path in self.files,
            debounce=self.debounce_ms,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            stop_event=self.stopped,
            recursive=False,
            raise_interrupt=False,
        ):
            self.watching.set()
            if changes:
                self.on_change(sorted({path for _, path in changes}))
                return


def watch_loaded_modules(period: int, on_change: Callable[[list[str]], None]) -> ModuleWatch:
    """Watch the files of every module imported so far (the app's included)."""
    watcher = ModuleWatch(module_files(list(sys.modules.values())), period, on_change)
    watcher.start()
    return watcher
