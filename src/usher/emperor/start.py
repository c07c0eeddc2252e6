"""`usher emperor DIR` and `emperor = DIR`: from settings to a running emperor."""

from __future__ import annotations

import os

from usher import procname
from usher.emperor.run import Emperor
from usher.emperor.sources import UnsupportedSource, patterns
from usher.logfile import reopen
from usher.logs import write_line
from usher.options import Settings
from usher.privileges import PrivilegeError, drop
from usher.sockets import ListenerError


def run_emperor(settings: Settings, notes: tuple[str, ...]) -> int:
    """Run the emperor until it is stopped; the exit status."""
    try:
        globs = patterns(settings.emperor)
    except UnsupportedSource as exc:
        write_line(f"usher: {exc}")
        return 2
    if settings.emperor_tyrant and (os.geteuid() != 0 or settings.uid or settings.gid):
        write_line(
            "usher: emperor-tyrant starts each vassal as its file's owner, which only root can: "
            "run the emperor as root, without uid/gid"
        )
        return 2
    if settings.logto:
        reopen(settings.logto)
    for note in notes:
        write_line(f"usher: note: {note}")
    for value in settings.emperor:
        if "*" not in value and not os.path.isdir(value.removeprefix("dir://")):
            write_line(f"usher: note: emperor = {value}: no such directory (yet); watching for it")
    if settings.listeners:
        write_line(
            "usher: note: the emperor serves no app itself; its listeners are ignored (give them to a vassal)"
        )
    try:
        emperor = Emperor(settings, globs)
    except ListenerError as exc:
        write_line(f"usher: emperor-stats: {exc}")
        return 1
    if settings.pidfile:
        # `usher --stop PIDFILE` stops the emperor and its vassals, `--reload` reloads them all.
        try:
            with open(settings.pidfile, "w") as handle:
                handle.write(f"{os.getpid()}\n")
        except OSError as exc:
            write_line(f"usher: cannot write pidfile {settings.pidfile}: {exc.strerror}")
            return 1
    try:
        # As uWSGI's emperor with uid/gid: the emperor, and so every vassal, runs as that user
        # (emperor-tyrant needs root, to give each vassal its file's owner).
        drop(settings.uid, settings.gid)
    except PrivilegeError as exc:
        write_line(f"usher: {exc}")
        return 1
    procname.set_title(settings, f"usher emperor {' '.join(settings.emperor)}", master=True)
    return emperor.run()
