"""What every worker inherits: the modules the master has imported when it forks.

Features only the master uses are imported when their option is set, so a server without them
does not keep their code resident in each worker.
"""

from __future__ import annotations

import subprocess
import sys

# Imported only by the option (or the mistake) that needs them.
OPTIONAL = {
    "--stats": ("usher.statsserver", "usher.stats", "usher.figures"),
    "--stats-prometheus": ("usher.prometheus", "usher.statsserver", "usher.figures"),
    "--master-fifo": ("usher.fifo",),
    "--cheaper": ("usher.cheaper",),
    "--touch-reload": ("usher.touch",),
    "--uid": ("pwd", "grp"),
    "--limit-as": ("resource",),
    "help": ("usher.options.docs", "usher.options.docs_text", "difflib"),
}

# Builds the master as `serve` does (its constructor creates every helper), then lists the modules.
PROBE = """
import os, sys
from usher.master import Master
from usher.options import load_settings
settings = load_settings(["--http-socket", ":0", *sys.argv[1:]], {}).settings
master = Master(settings, [], None, [], os.getcwd())
print("\\n".join(sorted(sys.modules)))
"""


def modules_at_fork(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_a_plain_server_imports_no_optional_feature() -> None:
    loaded = modules_at_fork()
    unexpected = {name for names in OPTIONAL.values() for name in names} & loaded
    assert not unexpected


def test_an_option_imports_its_feature() -> None:
    loaded = modules_at_fork(
        "--stats", "127.0.0.1:0", "--master-fifo", "/nonexistent/fifo", "--cheaper", "1"
    )
    assert {"usher.statsserver", "usher.fifo", "usher.cheaper"} <= loaded
    assert "usher.prometheus" not in loaded
