"""Import the user's WSGI app the way uWSGI does, and explain in one line why it failed."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import site
import sys
import traceback
from collections.abc import Callable
from typing import Any

from usher.adapters.base import App
from usher.logs import write_line
from usher.options import Settings, split_factory


class AppLoadError(Exception):
    """The app could not be loaded; str() is one line naming the likely cause and the fix."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def prepare_environment(settings: Settings) -> None:
    """Apply chdir, env, home (virtualenv) and pythonpath before any user code is imported."""
    if settings.chdir:
        os.chdir(settings.chdir)
    for item in settings.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    if settings.home:
        _add_virtualenv(settings.home)
    for path in reversed(settings.pythonpath):
        sys.path.insert(0, os.path.abspath(path))
    # uWSGI imports modules relative to the working directory (after chdir), so must we.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def change_dir_after_load(settings: Settings) -> None:
    """chdir2: the working directory the app runs in, set once it is loaded."""
    if settings.chdir2:
        try:
            os.chdir(settings.chdir2)
        except OSError as exc:
            raise AppLoadError(f"chdir2 {settings.chdir2!r}: {exc.strerror}") from exc


def _add_virtualenv(home: str) -> None:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = os.path.join(home, "lib", version, "site-packages")
    if not os.path.isdir(site_packages):
        raise AppLoadError(
            f"home/virtualenv {home!r} has no {site_packages}: point home at a virtualenv "
            f"made with this Python ({sys.version.split()[0]})"
        )
    site.addsitedir(site_packages)


def describe(settings: Settings) -> str:
    """The app as the startup banner names it, and the mounts' prefixes."""
    mounts = ", ".join(entry.partition("=")[0] for entry in settings.mount)
    mounted = f"; mounts {mounts}" if mounts else ""
    if settings.wsgi_file:
        return f"{settings.wsgi_file} ({settings.callable}){mounted}"
    if settings.paste and not settings.module:
        return f"paste {settings.paste}"
    module, _, name = (settings.module or settings.asgi_module or "").partition(":")
    return (f"{module}:{name or settings.callable}" if module else "(none)") + mounted


def load_app(settings: Settings) -> App:
    """Import the configured callable; on failure raise AppLoadError (need-app, the default)
    or, with need-app off, log why and serve a 500 that says it until a reload fixes it."""
    try:
        return _load_callable(settings)
    except AppLoadError as exc:
        if settings.need_app:
            raise
        write_line(
            f"{exc.details}usher: need-app is off, every request gets 500 until the app loads: {exc}"
        )
        return _unavailable_app(str(exc))


def load_mounts(settings: Settings) -> tuple[tuple[str, App], ...]:
    """The apps of `mount = /prefix=app`, each imported as `module` or `wsgi-file` would be
    (a target ending in .py, or naming a file, is a file); AppLoadError names the mount."""
    mounts = []
    for entry in settings.mount:
        prefix, _, target = entry.partition("=")
        target = target.strip()
        if target.endswith(".py") or os.path.isfile(target):
            one = dataclasses.replace(settings, wsgi_file=target, module=None)
        else:
            one = dataclasses.replace(settings, wsgi_file=None, module=target)
        try:
            mounts.append((prefix.strip(), _load_callable(one)))
        except AppLoadError as exc:
            raise AppLoadError(f"mount {prefix.strip()}: {exc}", exc.details) from exc
    return tuple(mounts)


def _not_mounted(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    # The default app when only mounts are configured: a path outside them is not found.
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Not Found\n"]


def _unavailable_app(reason: str) -> App:
    body = f"usher: the app is not loaded: {reason}\n".encode()

    def unavailable(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")])
        return [body]

    return unavailable


def import_app(settings: Settings) -> App:
    """Import the configured callable or raise AppLoadError, whatever need-app says (the check
    that a reload and --check-config make)."""
    return _load_callable(settings)


def _load_callable(settings: Settings) -> App:
    if settings.asgi_module and not settings.module:
        settings = dataclasses.replace(settings, module=settings.asgi_module)  # asgi = MODULE
    if settings.paste and not (settings.wsgi_file or settings.module):
        from usher.adapters.paste import PasteError, load_paste  # only paste configs need it

        try:
            return load_paste(settings.paste, logger=settings.paste_logger)
        except PasteError as exc:
            # The app's own traceback when loading it raised; none for a missing file or package.
            details = traceback.format_exc() if exc.__cause__ is not None else ""
            raise AppLoadError(str(exc), details) from exc
    if settings.wsgi_file:
        module = _exec_file(settings.wsgi_file)
        target, name = settings.wsgi_file, settings.callable
    elif settings.module:
        target, _, name = settings.module.partition(":")
        name = name or settings.callable
        module = _import(target)
    elif settings.mount:
        return _not_mounted
    else:
        raise AppLoadError(
            "no app configured: give --module pkg.wsgi (or module = pkg.wsgi in the ini) "
            "or --wsgi-file app.py"
        )
    name, factory = split_factory(name)  # "create_app()": call what the module names
    app = getattr(module, name, None)
    if app is None:
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        hint = f" (callables there: {', '.join(found[:6])})" if found else ""
        raise AppLoadError(
            f"{target} has no callable {name!r}{hint}: set --callable NAME or module = {target}:NAME"
        )
    if factory is not None:
        try:
            app = factory.invoke(app)
        except Exception as exc:
            raise AppLoadError(_raised(f"{target}:{name}()", exc), traceback.format_exc()) from exc
    if not callable(app):
        raise AppLoadError(f"{target}:{name} is a {type(app).__name__}, not a WSGI callable")
    return app  # type: ignore[no-any-return]  # user code: callability checked just above


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            # Nothing of the user's ran: the traceback would only show usher's own frames.
            raise AppLoadError(
                f"module {module_name!r} not found: no {exc.name!r} in {_search_path()} "
                "(check --chdir, --pythonpath or --home)"
            ) from exc
        raise AppLoadError(
            f"importing {module_name!r} failed: it imports {exc.name!r}, which is not installed "
            f"in {sys.prefix} (pip install it there, or set --home to the app's virtualenv)",
            traceback.format_exc(),
        ) from exc
    except Exception as exc:
        raise AppLoadError(_raised(module_name, exc), traceback.format_exc()) from exc


def _search_path() -> str:
    """Where an import looked, for the one-line error: the directories of sys.path that exist."""
    places = [entry or os.getcwd() for entry in sys.path if os.path.isdir(entry or ".")]
    shown = ", ".join(places[:4])
    return f"{shown}{f' (and {len(places) - 4} more)' if len(places) > 4 else ''}"


def _exec_file(path: str) -> Any:
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise AppLoadError(
            f"wsgi-file {path!r} does not exist (looked in {os.getcwd()}): fix the path or --chdir"
        )
    # The file's own directory goes on sys.path so that its sibling modules import, as a script's do.
    directory = os.path.dirname(full)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = "usher_file_" + "".join(c if c.isalnum() else "_" for c in full)
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"wsgi-file {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AppLoadError(_raised(path, exc), traceback.format_exc()) from exc
    return module


def _raised(target: str, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{target} has a syntax error at {exc.filename}:{exc.lineno}: {exc.msg}"
    cause = type(exc).__name__
    if "ImproperlyConfigured" in cause or "DJANGO_SETTINGS_MODULE" in str(exc):
        return f"Django is not configured when importing {target}: {exc} (set env = DJANGO_SETTINGS_MODULE=...)"
    return f"importing {target} raised {cause}: {exc}"


def app_interface(settings: Settings) -> str:
    """How to call the app: `asgi` (set, or given as a flag) forces ASGI; else `interface`."""
    return "asgi" if settings.asgi is not None else settings.interface


def is_asgi(app: object, interface: str) -> bool:
    """Whether to call `app` as ASGI: as `interface` says, or (auto) when calling it makes a
    coroutine, as ASGI 3 apps (Django's ASGIHandler, Starlette, FastAPI) do."""
    if interface != "auto":
        return interface == "asgi"
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    return inspect.iscoroutinefunction(call)
