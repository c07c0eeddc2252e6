"""`usher --check-config [the server's arguments]`: gunicorn's pre-flight check, and the proof a
reload asks for before it replaces anything (usher.master.preflight).

Every source is loaded and checked as `usher` would at startup (options, paths, privileges, that
the app imports), but nothing is bound, written or started. A good configuration prints a short
summary and exits 0; a bad one prints its one-line error (after the app's traceback when the app
itself raised) and exits 2, so it serves as systemd's `ExecStartPre` and as a deploy step.
"""

from __future__ import annotations

import os
import sys

from usher.adapters.load import AppLoadError, describe, import_app, prepare_environment
from usher.options import Settings
from usher.privileges import PrivilegeError, drop, runtime_places, unreadable
from usher.sockets import parse_address

EXIT_BAD_CONFIG = 2


class CheckFailed(Exception):
    """One line: what is wrong and how to fix it."""


def check_config(settings: Settings, notes: tuple[str, ...]) -> int:
    """Check everything short of binding and serving; the exit status (0 or 2)."""
    for note in notes:
        print(f"usher: note: {note}", file=sys.stderr)
    try:
        _check_paths(settings)
        _check_user(settings)
        prepare_environment(settings)
        import_app(settings)
    except AppLoadError as exc:
        if exc.details:
            print(exc.details.rstrip(), file=sys.stderr)
        print(f"usher: check-config: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except (CheckFailed, PrivilegeError) as exc:
        print(f"usher: check-config: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(summary(settings))
    return 0


def summary(settings: Settings) -> str:
    """The lines an operator reads after a good check."""
    where = ", ".join(f"{protocol} {address}" for protocol, address in settings.listeners)
    threads = f"{settings.threads} thread{'s' * (settings.threads > 1)}"
    user = f"; runs as {settings.uid or ''}{':' if settings.gid else ''}{settings.gid or ''}"
    return (
        "usher: configuration OK\n"
        f"  listeners: {where}\n"
        f"  app: {describe(settings)}{' (lazy-apps)' if settings.lazy_apps else ''}\n"
        f"  workers: {settings.processes} x {threads}"
        f"{user if settings.uid or settings.gid else ''}"
    )


def _check_paths(settings: Settings) -> None:
    if not settings.listeners:
        raise CheckFailed(
            "no listener configured: add --http-socket :8000 (HTTP) or --socket :3031 (uwsgi, for nginx uwsgi_pass)"
        )
    if settings.chdir and not os.path.isdir(settings.chdir):
        raise CheckFailed(f"chdir {settings.chdir!r} is not a directory: fix the path")
    if settings.home and not os.path.isdir(settings.home):
        raise CheckFailed(f"home {settings.home!r} is not a directory: point it at the virtualenv")
    files = [("pidfile", settings.pidfile), ("logto", settings.logto or settings.daemonize)]
    for _, address in settings.listeners:
        _, target = parse_address(address)
        if isinstance(target, str) and not target.startswith("\0"):
            files.append(("unix socket", target))
    for what, path in files:
        directory = os.path.dirname(os.path.abspath(path)) if path else ""
        if path and not os.path.isdir(directory):
            raise CheckFailed(
                f"the {what} {path!r} is in {directory}, which does not exist: create it"
            )


def _check_user(settings: Settings) -> None:
    if not (settings.uid or settings.gid):
        return
    if os.geteuid() != 0:
        # Not root (a reload's check runs as the user already): check as whoever runs this.
        return
    account = drop(settings.uid, settings.gid)
    if account is not None:
        problem = unreadable(account, runtime_places(settings.chdir, settings.home))
        if problem is not None:
            raise CheckFailed(problem)
