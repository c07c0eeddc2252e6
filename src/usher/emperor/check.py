"""`usher --check-config` of an emperor: its sources, then each vassal's own check.

Each vassal is checked by `usher --check-config` on its command line, in a child process (as the
emperor would start it: with the vassals-include files and vassals-set options), so one vassal's
imports cannot mask or break another's check. The result is a line per vassal and the worst
status.
"""

from __future__ import annotations

import subprocess
import sys

from usher.emperor.sources import UnsupportedSource, patterns, scan
from usher.emperor.vassal import VassalCommand
from usher.options import Settings

EXIT_BAD_CONFIG = 2
# A vassal's check imports its app; a project that takes longer than this to import is stuck.
CHECK_TIMEOUT = 120.0


def check_emperor(settings: Settings) -> int:
    """Check the emperor's sources and every vassal found; the exit status (0 or 2)."""
    try:
        found = scan(patterns(settings.emperor))
    except UnsupportedSource as exc:
        print(f"usher: check-config: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    command = VassalCommand(settings.vassals_include, settings.vassals_set)
    status = 0
    for path in found:
        argv = command.argv(path)
        argv.insert(3, "--check-config")
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"usher: check-config: vassal {path}: no answer in {CHECK_TIMEOUT:.0f} s")
            status = EXIT_BAD_CONFIG
            continue
        if result.returncode == 0:
            print(f"usher: vassal {path}: ok")
        else:
            sys.stderr.write(result.stderr)
            print(f"usher: check-config: vassal {path}: failed", file=sys.stderr)
            status = EXIT_BAD_CONFIG
    print(f"usher: emperor: {len(found)} vassal(s) in {' '.join(settings.emperor)}")
    return status
