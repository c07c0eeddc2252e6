"""usher's build: the request path compiled by mypyc when this machine can, pure Python when not.

The project's metadata is in pyproject.toml; this file only adds the compiled modules
(src/usher/compiled.py lists them and says how a process chooses between the two forms).

USHER_BUILD chooses the form:
- `auto` (the default): compiled when a C compiler and Python's headers are present, otherwise
  pure Python, with one line saying so; a compile that fails also falls back to pure Python;
- `compiled`: compiled or a failed install (what the wheel builds in CI use);
- `pure`: sources only, no compiler run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MODE = os.environ.get("USHER_BUILD", "auto")


def _say(line: str) -> None:
    sys.stderr.write(f"usher build: {line}\n")


def _compiled() -> Any:
    """src/usher/compiled.py, loaded by path: importing the usher package here would need its
    dependencies installed."""
    spec = importlib.util.spec_from_file_location("_usher_compiled", ROOT / "src/usher/compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing_toolchain() -> str | None:
    """Why this machine cannot compile, or None."""
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler} not found)"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return f"no Python headers ({include}/Python.h; Debian: apt-get install python3-dev)"
    return None


def _extensions() -> list[Any]:
    if MODE not in ("auto", "compiled", "pure"):
        raise SystemExit(f"USHER_BUILD={MODE!r}: expected auto, compiled or pure")
    if MODE == "pure":
        _say("pure Python (USHER_BUILD=pure)")
        return []
    missing = _missing_toolchain()
    if missing is not None:
        if MODE == "compiled":
            raise SystemExit(f"usher build: USHER_BUILD=compiled, but {missing}")
        _say(f"pure Python: {missing}; usher runs the same, with more CPU per request")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without isolation, in an environment without mypy
        if MODE == "compiled":
            raise
        _say("pure Python: mypyc is not installed (pip install mypy, or build with isolation)")
        return []

    compiled = _compiled()
    sources = [f"src/{name.replace('.', '/')}.py" for name in compiled.MODULES]
    # opt_level 3 is mypyc's default; the group's name is the shared library's, which
    # usher/compiled.py looks for (its prefix: mypyc adds "__mypyc").
    try:
        return list(
            mypycify(sources, opt_level="3", group_name=compiled.LIBRARY.removesuffix("__mypyc"))
        )
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error it finds
        if MODE == "compiled":
            raise
        _say(f"pure Python: mypyc could not compile ({exc}); usher runs the same, more slowly")
        return []


class OptionalBuildExt(build_ext):  # type: ignore[misc]
    """Compiles the extensions; in auto mode a failed compile installs the pure form instead."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a compiler error, a missing library: anything but success
            if MODE == "compiled" or not self.extensions:
                raise
            _say(f"pure Python: compiling failed ({exc}); usher runs the same, more slowly")
            # A partial build would import half-compiled modules: remove whatever was built.
            for extension in self.extensions:
                for path in (
                    Path(self.get_ext_fullpath(extension.name)),
                    ROOT / "src" / self.get_ext_filename(extension.name),
                ):
                    path.unlink(missing_ok=True)
            self.extensions = []
            self.distribution.ext_modules = []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
