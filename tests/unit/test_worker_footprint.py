"""What every worker inherits: the modules the master has imported when it forks.

Features only the master uses are imported when their option is set, and the option readers are
released once the settings are read, so a server does not keep their code resident in each
worker.
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
# Needed once, to read the settings.
READERS = {
    f"usher.options.{name}"
    for name in ("cli_args", "environ", "ini", "expand", "resolve", "catalog")
}

# Reads the settings as `usher.cli` does and builds the master as `serve` does (its constructor
# creates every helper), then lists the modules.
PROBE = """
import os, sys
from usher.options import load_settings, release_readers
settings = load_settings(["--http-socket", ":0", *sys.argv[1:]], {}).settings
release_readers()
from usher.master import Master
master = Master(settings, [], None, [], os.getcwd())
print("\\n".join(sorted(sys.modules)))
"""


def modules_at_fork(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_a_plain_server_imports_no_optional_feature_and_keeps_no_reader() -> None:
    loaded = modules_at_fork()
    assert not {name for names in OPTIONAL.values() for name in names} & loaded
    assert not READERS & loaded


def test_an_option_imports_its_feature() -> None:
    loaded = modules_at_fork(
        "--stats", "127.0.0.1:0", "--master-fifo", "/nonexistent/fifo", "--cheaper", "1"
    )
    assert {"usher.statsserver", "usher.fifo", "usher.cheaper"} <= loaded
    assert "usher.prometheus" not in loaded


def test_settings_read_again_after_the_readers_are_released() -> None:
    code = (
        "from usher.options import load_settings, release_readers\n"
        "first = load_settings(['--processes', '3'], {}).settings\n"
        "release_readers()\n"
        "again = load_settings(['--processes', '3'], {}).settings\n"
        "print(first == again, again.processes)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "3"]
