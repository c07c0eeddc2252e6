"""A copy of usher with its request path compiled by mypyc, to measure what compiling would give.

    python bench/compiled.py DIR [--set protocols|request-path]

copies `src/usher` to `DIR/src/usher` and compiles the chosen modules there in place with mypyc
(from the `mypy` package; needs a C compiler and Python's headers). The copy is then measured like
any other checkout:

    PYTHONPATH=DIR/src python bench/request_path.py --instructions
    python bench/run.py --only usher,nginx-usher --apps hello --baseline DIR

usher itself is not shipped compiled: bench/steps.md says what compiling measured and why it is
left out. This script keeps the measurement repeatable.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The codecs and framing: pure, no I/O, the fewest boundaries with user code.
PROTOCOLS = [
    "usher/protocols/events.py",
    "usher/protocols/framing.py",
    "usher/protocols/http1.py",
    "usher/protocols/http1_rules.py",
    "usher/protocols/response.py",
    "usher/protocols/uwsgi.py",
]
# Everything a hello-world request runs through, WSGI handler and carriers included.
REQUEST_PATH = [
    *PROTOCOLS,
    "usher/adapters/body.py",
    "usher/adapters/environ.py",
    "usher/adapters/wsgi.py",
    "usher/worker/board.py",
    "usher/worker/connection.py",
    "usher/worker/context.py",
    "usher/worker/oneshot.py",
    "usher/worker/responder.py",
]
SETS = {"protocols": PROTOCOLS, "request-path": REQUEST_PATH}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="where the compiled copy goes (replaced)")
    parser.add_argument("--set", choices=SETS, default="request-path", help="modules to compile")
    args = parser.parse_args()
    target = args.dir.resolve() / "src"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(ROOT / "src" / "usher", target / "usher")
    command = [sys.executable, "-m", "mypyc", *SETS[args.set]]
    result = subprocess.run(command, cwd=target, capture_output=True, text=True)
    if result.returncode:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        return 1
    compiled = sorted(str(path.relative_to(target)) for path in target.rglob("usher/**/*.so"))
    print(f"{len(compiled)} modules compiled in {target}:")
    for name in compiled:
        print(f"  {name}")
    print(f"measure: PYTHONPATH={target} python bench/request_path.py --instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
