"""`usher deploy` end to end: a real sshd on loopback, a Django project cloned from a bare origin,
usher started for real on the host (process_manager = none), checked over HTTP."""

from __future__ import annotations

import http.client
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import Project, Site
from usher.deploy.cli import main

Deploy = Callable[..., tuple[int, str, str]]


@pytest.fixture
def deploy(capsys: pytest.CaptureFixture[str]) -> Deploy:
    """Run `usher deploy ARGS --config SITE` in this process; return status, stdout, stderr."""

    def run(site: Site, *args: str) -> tuple[int, str, str]:
        status = main([*args, "--config", str(site.config)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def get_page(site: Site) -> str:
    """The site's home page over its HTTP address (what the health check asks for)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": "localhost"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return response.read().decode()
    finally:
        connection.close()


def current_release(site: Site) -> str:
    return os.readlink(site.root / "current")


def secret_key(site: Site) -> str:
    env = site.root / "shared" / "env" / "secret.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    return env.read_text().strip().partition("=")[2]


def test_first_deploy_second_deploy_and_rollback(write_site: Callable[..., Site], project: Project, deploy: Deploy) -> None:
    site = write_site()
    status, out, err = deploy(site)
    assert status == 0, out + err
    first = current_release(site)
    head = project.head()
    assert first.startswith("releases/") and first.endswith("-" + head[:12])
    release = site.root / first
    assert (release / "manage.py").is_file() and (release / "venv" / "bin" / "python").exists()
    key = secret_key(site)
    assert len(key) == 50
    assert stat.S_IMODE((site.root / "shared" / "env" / "app.env").stat().st_mode) == 0o600
    assert (site.root / "shared" / "static" / "site.css").is_file()
    assert (site.root / "shared" / "db" / "db.sqlite3").stat().st_size > 0
    ini = (release / "usher.ini").read_text()
    assert f"chdir = {site.root}/current/." in ini and "module = mysite.wsgi:application" in ini
    assert "DEBUG = False" in (release / "usher_deploy_settings.py").read_text()
    assert get_page(site) == "mysite version=1 debug=False key=50\n"
    assert "health" in out and "usher deploy: deploy done" in out

    project.set_version("2")
    project.commit("version 2")
    status, out, err = deploy(site)
    assert status == 0, out + err
    second = current_release(site)
    assert second != first and (site.root / "current").is_symlink()
    assert secret_key(site) == key
    assert get_page(site).startswith("mysite version=2 debug=False")

    status, out, err = deploy(site, "rollback")
    assert status == 0, out + err
    assert current_release(site) == first
    assert get_page(site).startswith("mysite version=1 ")
