"""Start a server from settings: logs, listeners, pidfile, privileges, the app, then the master."""

from __future__ import annotations

import gc
import os
import platform
import shlex
import sys

from usher import __version__, compiled, procname
from usher.adapters.base import App
from usher.adapters.load import (
    AppLoadError,
    change_dir_after_load,
    describe,
    load_app,
    prepare_environment,
)
from usher.adapters.router import routing_from_settings
from usher.adapters.routes import RouteError
from usher.logfile import reopen
from usher.logs import install_router, wants_router, write_line
from usher.master.loop import Master
from usher.options import Settings
from usher.privileges import (
    Account,
    PrivilegeError,
    chown_socket,
    drop,
    runtime_places,
    unreadable,
)
from usher.sockets import INHERIT_ENV, Listener, ListenerError, bind_all, close_all


class StartupError(Exception):
    """The server cannot start; str() is one line with the cause and the fix."""


def serve(
    settings: Settings, notes: tuple[str, ...], argv: list[str], app: App | None = None
) -> int:
    """Run the server until it stops; the return value is the process exit status. `app`, when
    given, is served instead of the one the settings name (the front's handler source)."""
    # A re-executed master (a graceful reload) inherits its listeners, and already wrote the
    # pidfile and dropped privileges: as in uWSGI, the pidfile is written once, as root.
    reexecuted = INHERIT_ENV in os.environ
    if (settings.daemonize or settings.logto) and not reexecuted:
        # Also on the terminal that started the server: a note only in a log file is a note
        # nobody reads (a re-executed master has no terminal to speak to).
        for note in notes:
            write_line(f"usher: note: {note}")
    if settings.daemonize and not reexecuted:
        _daemonize(settings.daemonize)
    elif (log := settings.daemonize or settings.logto) is not None:
        # A re-executed master is daemonized already, as uWSGI's is: forking again would change
        # the pid the pidfile (written once) and process managers know it by.
        reopen(log)
    if wants_router(settings):
        # Only then: its encoders import json, which every worker would otherwise keep.
        from usher.logroute import build_router, capture_python_output

        try:
            router = build_router(settings)
        except (ValueError, OSError) as exc:  # a logger or encoder usher cannot use
            write_line(f"usher: {exc}")
            return 1
        install_router(router)
        capture_python_output(router)
    for note in notes:
        write_line(f"usher: note: {note}")
    _show(settings)
    if _refuse_hooks(settings):
        return 2
    if settings.max_fd:
        from usher.supervise.fdlimit import set_open_files  # resource: only with max-fd

        if (problem := set_open_files(settings.max_fd)) is not None:
            write_line(f"usher: {problem}")
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
    if settings.umask is not None:
        os.umask(int(settings.umask, 8))
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
        if not reexecuted:
            _chown_sockets(listeners, settings.chown_socket)
            _write_pidfile(settings.pidfile)
        account = drop(settings.uid, settings.gid)
        if account is not None:
            _check_readable(account, settings)
        if app is None:
            app = _load(settings)
    except (StartupError, AppLoadError, PrivilegeError) as exc:
        if isinstance(exc, AppLoadError) and exc.details:
            write_line(exc.details.rstrip())
        write_line(f"usher: {exc}")
        close_all(listeners, unlink=settings.vacuum and not reexecuted)
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


def _load(settings: Settings) -> App | None:
    prepare_environment(settings)
    if settings.pyargv is not None:
        # The app's sys.argv, as uWSGI sets it; workers inherit it, lazy ones included.
        sys.argv = [sys.argv[0], *shlex.split(settings.pyargv)]
    if settings.lazy_apps:
        return None  # the hooks run in each worker, around its own load
    _run_hooks("hook-pre-app", settings.hook_pre_app)
    app = load_app(settings)
    _run_hooks("hook-post-app", settings.hook_post_app)
    change_dir_after_load(settings)
    return app


def _show(settings: Settings) -> None:
    """print and show-config, before anything else is started, as uWSGI logs them."""
    for text in settings.print:
        write_line(text)
    if settings.show_config:
        from usher.options.show import render_config

        for line in render_config(settings):
            write_line(line)


def _run_hooks(option: str, texts: tuple[str, ...]) -> None:
    if not texts:
        return
    from usher.supervise.hooks import HookFailed, run_hooks  # only configs with hooks need it

    try:
        run_hooks(option, texts)
    except HookFailed as exc:
        raise StartupError(f"{exc} (as in uWSGI, a failing {option} stops the start)") from None


def _refuse_hooks(settings: Settings) -> bool:
    """Name each hook whose action usher does not run; under strict that refuses the start."""
    hooks = [
        *(("hook-pre-app", text) for text in settings.hook_pre_app),
        *(("hook-post-app", text) for text in settings.hook_post_app),
        *(("hook-accepting1-once", text) for text in settings.hook_accepting1_once),
    ]
    if not hooks:
        return False
    from usher.supervise.hooks import unknown_actions

    lines = unknown_actions(hooks)
    for line in lines:
        write_line(f"usher: {'error' if settings.strict else 'note'}: {line}")
    return bool(lines) and settings.strict


def _banner(settings: Settings, listeners: list[Listener]) -> None:
    where = ", ".join(f"{item.protocol} {item.display()}" for item in listeners)
    threads = f"{settings.threads} thread{'s' * (settings.threads > 1)}"
    write_line(
        f"usher {__version__} (Python {platform.python_version()}, {compiled.describe()}), "
        f"master pid {os.getpid()}: "
        f"{where}; {settings.processes} worker(s) x {threads}; app {describe(settings)}"
        f"{' (lazy-apps)' if settings.lazy_apps else ''}"
    )


def _set_title(settings: Settings) -> None:
    procname.set_title(settings, f"usher master {describe(settings)}", master=True)


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


def _chown_sockets(listeners: list[Listener], owner: str | None) -> None:
    if owner:
        for listener in listeners:
            if listener.unix_path:
                chown_socket(listener.unix_path, owner)


def _check_readable(account: Account, settings: Settings) -> None:
    problem = unreadable(account, runtime_places(settings.chdir, settings.home))
    if problem is not None:
        raise StartupError(problem)


def _daemonize(path: str) -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    reopen(path)
