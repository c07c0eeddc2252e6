"""Which modules the compiled build compiles, and whether this process runs them.

usher installs in one of two forms with the same behaviour:
- **compiled**: the modules below are also built by mypyc into C extensions, installed beside
  their sources. Python imports an extension before a source of the same name, so they run
  compiled. A request costs 40-56% fewer CPU instructions (bench/steps.md).
- **pure Python**: when the machine that built usher had no C compiler or no Python headers
  (or `USHER_BUILD=pure` was set), only the sources are installed.

This module is read by setup.py, without importing usher, to know what to compile; so it imports
nothing of usher. At run time `choose()` (called by `usher/__init__.py` before any other usher
import) decides, once per process, between the extensions and the sources:
- `USHER_PURE=1` runs the sources even when the extensions are installed (to tell whether a
  problem is the compiler's, and how the test suite runs against both forms);
- in a source checkout (an editable install), an extension older than its source would run
  stale code, so then all of usher runs from the sources, and the banner says to rebuild.

`describe()` is the form's part of the startup banner.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The request path: codecs, framing, the WSGI and static-file handlers, the worker's carriers,
# and the front's proxy. Each is `mypy --strict` clean and keeps to what mypyc compiles with
# the same behaviour (no monkeypatched globals, no interpreted subclasses of its classes).
# Startup, options, the master and the ops pages stay pure: they run once, not per request.
MODULES = (
    "usher.protocols.events",
    "usher.protocols.framing",
    "usher.protocols.http1",
    "usher.protocols.http1_rules",
    "usher.protocols.response",
    "usher.protocols.uwsgi",
    "usher.protocols.conditional",
    "usher.protocols.ranges",
    "usher.protocols.http1_client",
    "usher.protocols.proxy",
    "usher.adapters.body",
    "usher.adapters.environ",
    "usher.adapters.wsgi",
    "usher.adapters.static",
    "usher.adapters.static_files",
    "usher.adapters.static_paths",
    "usher.adapters.router",
    "usher.adapters.asgi",
    "usher.adapters.asgi_scope",
    "usher.adapters.lifespan",
    "usher.worker.board",
    "usher.worker.connection",
    "usher.worker.context",
    "usher.worker.oneshot",
    "usher.worker.proxied",
    "usher.worker.responder",
    "usher.front.proxy",
    "usher.front.upstream",
    "usher.front.balance",
    "usher.front.choice",
    "usher.front.headers",
    "usher.front.routing",
    "usher.front.handler",
    "usher.front.pool",
)

# The shared library that holds the compiled code of all of them (setup.py's group_name).
LIBRARY = "usher__mypyc"

PACKAGE = Path(__file__).resolve().parent
# Set by choose(): why this process runs the sources, or None when it runs the extensions.
pure_reason: str | None = None


def _extension(module: str) -> Path | None:
    """The installed extension of `module`, if any."""
    stem = PACKAGE.parent.joinpath(*module.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def _source(module: str) -> Path:
    return PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")


def _in_checkout() -> bool:
    """True for a source checkout (src/usher beside pyproject.toml), where sources get edited."""
    return (PACKAGE.parent.parent / "pyproject.toml").is_file()


def _stale(library: Path) -> str | None:
    """The first compiled module whose source changed after the build, in a checkout. Each
    module's own extension is a stub that a rebuild may leave as it was; the code is in the one
    shared library (setup.py's group), so that is the build's time."""
    built = library.stat().st_mtime
    for module in MODULES:
        if _source(module).stat().st_mtime > built:
            return module
    return None


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports usher's compiled modules from their sources, ahead of the path's finders."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        source = _source(fullname)
        return importlib.util.spec_from_file_location(fullname, source)


def choose() -> None:
    """Decide once whether this process runs the extensions or the sources (see above)."""
    global pure_reason
    if any(isinstance(finder, _SourcesFirst) for finder in sys.meta_path):
        return
    library = _extension(LIBRARY)
    if library is None or _extension(MODULES[0]) is None:
        pure_reason = "installed without the compiled form (no C compiler or Python headers)"
        return
    if os.environ.get("USHER_PURE", "") not in ("", "0"):
        pure_reason = "USHER_PURE is set"
    elif _in_checkout() and (stale := _stale(library)) is not None:
        pure_reason = (
            f"{stale} changed after it was compiled; `pip install -e .` rebuilds the compiled form"
        )
    if pure_reason is not None:
        sys.meta_path.insert(0, _SourcesFirst())


def running_compiled() -> bool:
    """True when this process runs usher's request path compiled."""
    return pure_reason is None


def describe() -> str:
    """The form this process runs, for the startup banner."""
    if pure_reason is None:
        return "compiled"
    return f"pure Python: {pure_reason}"
