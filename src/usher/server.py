"""Start a server from settings: logs, listeners, pidfile, privileges, the app, then the master."""

from __future__ import annotations

import gc
import os
import platform

from usher import __version__
from usher.adapters.load import AppLoadError, WsgiApp, describe, load_app, prepare_environment
from usher.adapters.router import routing_from_settings
from usher.adapters.routes import RouteError
from usher.logfile import reopen
from usher.logs import write_line
from usher.master.loop import Master
from usher.options import Settings
from usher.sockets import Listener, ListenerError, bind_all, close_all


class StartupError(Exception):
    """The server cannot start; str() is one line with the cause and the fix."""


def serve(settings: Settings, notes: tuple[str, ...], argv: list[str]) -> int:
    """Run the server until it stops; the return value is the process exit status."""
    if settings.daemonize:
        _daemonize(settings.daemonize)
    elif settings.logto:
        reopen(settings.logto)
    for note in notes:
        write_line(f"usher: note: {note}")
    refused = _check_routes(settings)
    if refused:
        return refused
    cwd = os.getcwd()
    wanted = list(settings.listeners)
    if not wanted:
        write_line(
            "usher: no listener configured: add --http-socket :8000 (HTTP) or --socket :3031 (uwsgi, for nginx uwsgi_pass)"
        )
        return 2
    try:
        listeners = bind_all(
            wanted,
            backlog=settings.listen,
            chmod=settings.chmod_socket,
            defer_accept=0 if settings.no_defer_accept else settings.socket_timeout,
        )
    except ListenerError as exc:
        write_line(f"usher: {exc}")
        return 1
    try:
        _write_pidfile(settings.pidfile)
        _drop_privileges(settings.uid, settings.gid)
        app = _load(settings)
    except (StartupError, AppLoadError) as exc:
        if isinstance(exc, AppLoadError) and exc.details:
            write_line(exc.details.rstrip())
        write_line(f"usher: {exc}")
        close_all(listeners, unlink=settings.vacuum)
        return 1
    _banner(settings, listeners)
    _set_title(settings)
    # Everything imported so far lives as long as the server: moved out of the collector's reach,
    # full collections in the workers stop walking the framework's objects, and the workers do
    # not copy the master's pages just to update their GC headers.
    gc.collect()
    gc.freeze()
    master = Master(settings, listeners, app, argv, cwd)
    try:
        return master.run()
    finally:
        master.cleanup()


def _check_routes(settings: Settings) -> int:
    """Read the routing rules once before anything starts: a rule that cannot be read stops the
    server (status 2); an action usher does not run is one line, and stops it under strict."""
    try:
        routing = routing_from_settings(settings)
    except RouteError as exc:
        write_line(f"usher: {exc}")
        return 2
    if routing is None:
        return 0
    left_out = (*routing.request.unsupported, *routing.response.unsupported)
    for line in left_out:
        write_line(f"usher: {'error' if settings.strict else 'note'}: {line}")
    return 2 if left_out and settings.strict else 0


def _load(settings: Settings) -> WsgiApp | None:
    prepare_environment(settings)
    if settings.lazy_apps:
        return None
    return load_app(settings)


def _banner(settings: Settings, listeners: list[Listener]) -> None:
    where = ", ".join(f"{item.protocol} {item.display()}" for item in listeners)
    threads = f"{settings.threads} thread{'s' * (settings.threads > 1)}"
    write_line(
        f"usher {__version__} (Python {platform.python_version()}), master pid {os.getpid()}: "
        f"{where}; {settings.processes} worker(s) x {threads}; app {describe(settings)}"
        f"{' (lazy-apps)' if settings.lazy_apps else ''}"
    )


def _set_title(settings: Settings) -> None:
    try:
        import setproctitle
    except ImportError:  # pragma: no cover - a core dependency; titles are cosmetic
        return
    setproctitle.setproctitle(f"usher master {describe(settings)}")


def _write_pidfile(path: str | None) -> None:
    if not path:
        return
    try:
        with open(path, "w") as handle:
            handle.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise StartupError(
            f"cannot write pidfile {path}: {exc.strerror} (check the directory exists and is writable)"
        ) from exc


def _drop_privileges(uid: str | None, gid: str | None) -> None:
    if not (uid or gid):
        return
    import grp  # only with uid/gid: not worth their memory in every worker
    import pwd

    try:
        if gid:
            group = int(gid) if gid.isdigit() else grp.getgrnam(gid).gr_gid
            os.setgroups([group])
            os.setgid(group)
        if uid:
            user = int(uid) if uid.isdigit() else pwd.getpwnam(uid).pw_uid
            if not gid:
                os.setgroups([pwd.getpwuid(user).pw_gid])
                os.setgid(pwd.getpwuid(user).pw_gid)
            os.setuid(user)
    except KeyError as exc:
        raise StartupError(f"no such user or group {exc.args[0]!r}: fix uid/gid") from exc
    except PermissionError as exc:
        raise StartupError(
            "uid/gid can only be changed when usher starts as root: drop those options or start as root"
        ) from exc


def _daemonize(path: str) -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    reopen(path)
