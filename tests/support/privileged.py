"""Running the server as an unprivileged system user, as production does with uid/gid.

Needs root (to drop privileges, and to chown sockets); tests skip with the reason otherwise. The
user is an existing system account (www-data, else nobody); none is created. The interpreter
must be one that user can run: the suite's own may live under /root, so the system Python of
the same version is used instead, with usher's source and the suite's site-packages on its path.
"""

from __future__ import annotations

import functools
import os
import pwd
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support.server import short_tmp_dir

CANDIDATE_USERS = ("www-data", "nobody")
ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")


def unprivileged_user() -> pwd.struct_passwd:
    """The system user the server drops to; skips the test when that cannot be done."""
    if os.geteuid() != 0:
        pytest.skip("uid/gid tests need root (the server drops privileges)")
    for name in CANDIDATE_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip(f"none of the system users {CANDIDATE_USERS} exists")


@functools.cache
def _runnable(user: str, python: str, pythonpath: str) -> bool:
    env = (
        {"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath}
        if pythonpath
        else {"PATH": "/usr/bin:/bin"}
    )
    try:
        result = subprocess.run(
            [python, "-c", "import usher, uvloop, httptools"],
            user=user, env=env, cwd="/", capture_output=True, timeout=30,
        )  # fmt: skip
    except OSError:
        return False
    return result.returncode == 0


def python_for(user: str) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of `python -m usher` that `user` can run; skips when there is none."""
    pythonpath = os.pathsep.join([str(ROOT / "src"), sysconfig.get_paths()["purelib"]])
    for python, path in ((sys.executable, pythonpath), (str(SYSTEM_PYTHON), pythonpath)):
        if _runnable(user, python, path):
            env = dict(os.environ, PYTHONPATH=path)
            return [python, "-m", "usher"], env
    pytest.skip(f"no Python that {user} can run has usher's dependencies")


def readable_dir(prefix: str = "usher-user-") -> Path:
    """A fresh root-owned directory every user can read but only root can write (as /run is)."""
    path = short_tmp_dir(prefix)
    path.chmod(0o755)
    return path


def interpreter_hidden_from(user: str) -> bool:
    """True when the suite's own interpreter is out of `user`'s reach (under /root, say)."""
    return not _runnable(user, sys.executable, "")
