"""Fixtures of the deploy tests: a real sshd on loopback, a Django project in a git repository
with a bare "origin" the host clones from, and a deploy.ini pointing at both."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.sshd import Sshd, free_port, start_sshd
from usher.deploy.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"
# Checks this fixture project cannot pass over plain HTTP on loopback, accepted by the tests' config.
HTTP_ONLY_CHECKS = "security.W004 security.W008 security.W012 security.W016"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "usher tests",
    "GIT_AUTHOR_EMAIL": "tests@usher.invalid",
    "GIT_COMMITTER_NAME": "usher tests",
    "GIT_COMMITTER_EMAIL": "tests@usher.invalid",
}


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """One sshd for the whole run (starting it costs key generation)."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"), str(SOURCE_ROOT))
    yield server
    server.stop()


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; return its output."""
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@dataclass
class Project:
    """The local checkout (what the user deploys from) and its bare origin (what hosts clone)."""

    work: Path
    origin: Path

    def commit(self, message: str, push: bool = True) -> str:
        """Commit everything in the checkout, push it unless told not to; return the hash."""
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        if push:
            git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    def head(self) -> str:
        """The checkout's HEAD commit."""
        return git(self.work, "rev-parse", "HEAD")

    def set_version(self, version: str) -> None:
        """Change what the page says, so a test can tell releases apart."""
        urls = self.work / "mysite" / "urls.py"
        urls.write_text(re.sub(r'VERSION = "[^"]*"', f'VERSION = "{version}"', urls.read_text()))


@pytest.fixture(params=["djangosite"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    """A fixture project (Django unless a test parametrizes it) pushed to a bare origin on disk."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    shutil.copytree(FIXTURES / request.param, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", str(origin))
    found = Project(work, origin)
    found.commit("the fixture project")
    return found


@dataclass
class Site:
    """A deploy target: the config file, the site root on the host, the ports."""

    config: Path
    root: Path
    http_port: int
    known_hosts: Path

    def pidfile(self) -> Path:
        return self.root / "run" / "usher.pid"


@pytest.fixture
def write_site(tmp_path: Path, sshd: Sshd, project: Project) -> Iterator[Callable[..., Site]]:
    """Write a deploy.ini for the project and sshd; extra keyword arguments add [deploy] keys."""
    sites: list[Site] = []

    def write(trust_host: bool = True, hosts: Sequence[Sshd] = (), **extra: str) -> Site:
        root, known = tmp_path / f"site{len(sites)}", tmp_path / f"known_hosts{len(sites)}"
        trusted = hosts or (sshd,)
        known.write_text("".join(host.known_hosts_line() for host in trusted) if trust_host else "")
        http_port = free_port()
        keys = {
            "repo": str(project.origin),
            "branch": "main",
            "source": str(project.work),
            "host": f"127.0.0.1:{sshd.port}",
            "user": "root",
            "identity": str(sshd.client_key),
            "known_hosts": str(known),
            "site_root": str(root),
            "python": sys.executable,
            "venv_system_site_packages": "true",
            "settings_module": "mysite.settings",
            "allowed_hosts": "localhost",
            "silence": HTTP_ONLY_CHECKS,
            "http": f"127.0.0.1:{http_port}",
            "health_http": f"127.0.0.1:{free_port()}",
            "health_timeout": "20",
            "keep_releases": "2",
            "process_manager": "none",
            "processes": "1",
        }
        keys.update(extra)
        lines = [f"{key} = {value}" for key, value in keys.items() if value and key != "host"]
        # `host` may hold several lines, one host each.
        lines += [f"host = {line}" for line in keys["host"].split("\n")]
        config = tmp_path / f"deploy{len(sites)}.ini"
        config.write_text("[deploy]\n" + "\n".join(lines) + "\n")
        site = Site(config, root, http_port, known)
        sites.append(site)
        return site

    yield write
    for site in sites:
        stop_process(site.pidfile())


def stop_process(pidfile: Path) -> None:
    """Stop the process of a pidfile (a site's usher, an nginx) and wait for it (pidfd, no polling)."""
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        descriptor = os.pidfd_open(pid)
    except (ValueError, ProcessLookupError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        if not select.select([descriptor], [], [], 20)[0]:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(descriptor)


Deploy = Callable[..., tuple[int, str, str]]


@pytest.fixture
def deploy(capsys: pytest.CaptureFixture[str]) -> Deploy:
    """Run `usher deploy ARGS --config SITE` in this process; return status, stdout, stderr."""

    def run(site: Site, *args: str) -> tuple[int, str, str]:
        status = main([*args, "--config", str(site.config)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
