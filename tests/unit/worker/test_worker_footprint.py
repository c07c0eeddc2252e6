"""What every worker inherits: the modules the master has imported when it forks.

Features only the master uses are imported when their option is set, so a server without them
does not keep their code resident in each worker.
"""

from __future__ import annotations

import subprocess
import sys

# Imported only by the option (or the mistake) that needs them.
OPTIONAL = {
    "--stats": ("usher.master.statsserver", "usher.ops.stats", "usher.ops.figures"),
    "--stats-prometheus": ("usher.ops.prometheus", "usher.master.statsserver", "usher.ops.figures"),
    "--master-fifo": ("usher.supervise.fifo",),
    "--cheaper": ("usher.master.cheaper",),
    "--touch-reload": ("usher.supervise.touch",),
    "--uid": ("pwd", "grp"),
    "--limit-as": ("resource",),
    "--attach-daemon": (
        "usher.master.sidecars",
        "usher.supervise.cron",
        "usher.options.daemonspec",
        "usher.supervise.spawn",
    ),
    "--hook-pre-app": ("usher.supervise.hooks",),
    "--py-autoreload": ("usher.supervise.autoreload", "watchfiles"),
    "--paste": ("usher.adapters.paste",),
    "--show-config": ("usher.options.show",),
    "help": ("usher.options.docs", "usher.options.docs_text", "difflib"),
}

# Builds the master as `serve` does (its constructor creates every helper), then lists the modules.
PROBE = """
import os, sys
from usher.master.loop import Master
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
    assert {"usher.master.statsserver", "usher.supervise.fifo", "usher.master.cheaper"} <= loaded
    assert "usher.ops.prometheus" not in loaded


def test_daemons_and_cron_import_the_sidecars_only_when_set() -> None:
    loaded = modules_at_fork("--cron", "-1 -1 -1 -1 -1 true")
    assert {"usher.master.sidecars", "usher.supervise.cron", "usher.supervise.spawn"} <= loaded
