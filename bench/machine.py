"""Facts about the machine and the software versions, printed next to every result."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("usher-server", "pyuwsgi", "gunicorn", "granian", "uvloop", "httptools", "Django")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def facts(nginx: str | None) -> list[tuple[str, str]]:
    """(name, value) pairs: cores, CPU, kernel, Python, and each server's version."""
    found = [
        ("nproc", str(os.cpu_count())),
        ("CPU", cpu_model()),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
    ]
    found += [(name, package_version(name)) for name in PACKAGES]
    nginx_version = _first_line([nginx, "-v"]) if nginx else "not installed"
    found.append(("nginx", nginx_version.removeprefix("nginx version: ")))
    found.append(("wrk", _first_line(["wrk", "-v"]).partition(" Copyright")[0]))
    return found
