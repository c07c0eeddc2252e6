"""What the deploy reads on the machine it runs from: the commit, who deploys, the time, a new
secret key. Kept apart so that the planner stays pure and the tests can pin these values."""

from __future__ import annotations

import datetime
import getpass
import os
import secrets
import socket
import string
import subprocess
from pathlib import Path

from usher.deploy.errors import DeployError

# Django's check (security.W009) wants at least 50 characters and 5 distinct ones; letters and
# digits (about 5.95 bits each, 297 bits in all) need no quoting in env files or shells.
SECRET_KEY_LENGTH = 50
_SECRET_ALPHABET = string.ascii_letters + string.digits


def local_commit(source: Path, wanted: str | None) -> str:
    """The full hash of `wanted` (a commit, tag or branch) or of HEAD in the local repository."""
    revision = f"{wanted or 'HEAD'}^{{commit}}"
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--verify", "--quiet", revision],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise DeployError("git is not installed here; install it (apt-get install git)") from None
    if done.returncode != 0:
        raise DeployError(
            f"{source}: no commit {wanted or 'HEAD'} in this git repository; set source (the local checkout) or commit in [deploy]"
        )
    return done.stdout.strip()


def uncommitted_changes(source: Path) -> bool:
    """True when the local checkout has changes that a deploy of a commit would not carry."""
    done = subprocess.run(
        ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(done.stdout.strip())


def holder() -> str:
    """Who takes the lock: user@machine, pid and UTC time, as the lock's holder file says."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()}) since {now}"


def timestamp() -> str:
    """The release timestamp: UTC, second precision, sorts as text."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def new_secret_key() -> str:
    """A SECRET_KEY for a host that has none yet (an existing one is never replaced)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_KEY_LENGTH))


def read_env_file(path: Path | None) -> str:
    """The local env file's text, sent to the hosts as a file (it may hold secrets)."""
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DeployError(
            f"cannot read env_file {path}: {error.strerror}; fix env_file in [deploy]"
        ) from None
    return text if text.endswith("\n") or not text else text + "\n"
