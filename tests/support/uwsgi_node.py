"""A real uWSGI (the pyuwsgi wheel) for the subscription tests: started in its own process group,
stopped with SIGINT (uWSGI's SIGTERM reloads), its group killed if anything lingers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def uwsgi_binary() -> Path | None:
    """The pyuwsgi wheel's `uwsgi` script of the environment running the tests."""
    candidate = Path(sys.executable).parent / "uwsgi"
    return candidate if candidate.exists() else None


def uwsgi_env() -> dict[str, str]:
    # pyuwsgi re-executes the real interpreter behind the venv's symlink, which then needs the
    # venv's packages on its path.
    import pyuwsgi

    return {**os.environ, "PYTHONPATH": str(Path(pyuwsgi.__file__).parent)}


def start_uwsgi(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    binary = uwsgi_binary()
    if binary is None:
        pytest.skip("the pyuwsgi wheel is not installed")
    # A uWSGI worker stopped in its first second ignores the stop and is killed only after
    # the mercy (60 s by default): one second keeps the test short.
    mercy = ["--worker-reload-mercy", "1", "--reload-mercy", "1"]
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(binary), *args, *mercy],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=uwsgi_env(),
            start_new_session=True,
        )


def stop_uwsgi(proc: subprocess.Popen[bytes]) -> None:
    # SIGINT stops uWSGI at once (its SIGTERM reloads); the group takes its workers too.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with_leftovers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True)
    if with_leftovers.returncode == 0:
        os.killpg(proc.pid, signal.SIGKILL)
