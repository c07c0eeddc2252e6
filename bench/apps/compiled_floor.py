"""bare_prefork.py compiled to C with mypyc, as usher's request path is: the floor of a WSGI server
on uvloop + httptools once the interpreter's own work is gone.

bare_prefork.py parses with httptools, builds a minimal environ, calls the app and writes the joined
body with a Content-Length: nothing any WSGI server can skip, and none of what usher adds (limits,
timeouts, keep-alive rules, scoreboard, error pages). Compiled, it shows how close to the bare
uvloop + httptools loop (no WSGI at all) a WSGI server can get on these two libraries.

The first run compiles it into a cache directory named after the source's hash (~15 s, within the
benchmark's start timeout); later runs reuse it. Run it as bare_prefork.py is run:

    python bench/apps/compiled_floor.py --port 8000 hello:application
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "bare_prefork.py"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "usher-bench"


def build() -> Path:
    """The directory holding bare_prefork compiled from the current source, compiled if needed."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    target = CACHE / f"floor-{digest}"
    if not any(target.glob("bare_prefork.*.so")):
        work = CACHE / f"floor-{digest}.tmp{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shutil.copy(SOURCE, work / SOURCE.name)
        subprocess.run(
            [sys.executable, "-m", "mypyc", SOURCE.name],
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (work / SOURCE.name).unlink()  # only the extension must be importable from there
        shutil.rmtree(work / "build", ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    return target


def main() -> None:
    sys.path.insert(0, str(build()))
    module = importlib.import_module("bare_prefork")
    if not str(module.__file__).endswith(".so"):
        sys.exit(f"compiled_floor: imported {module.__file__}, not the compiled module")
    module.main()


if __name__ == "__main__":
    main()
