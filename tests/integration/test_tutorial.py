"""docs/tutorial.md followed literally, step by step, on this machine: a fresh project from
`django-admin startproject`, STATIC_ROOT and collectstatic, the tutorial's ini (unix socket,
chmod-socket 660, chown-socket to nginx's user, uid/gid of an unprivileged system user, pidfile,
stats, vacuum), `--check-config`, a real nginx whose workers run as that user, a reload, a reload
of broken code, `usher top`, and `--stop`. Step 6 (systemd) is not run here: the suite has no
systemd; its unit is the one in docs/systemd, and readiness is the same notify protocol the harness
listens to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ops import expect_status, forget_notices
from tests.support.http import get
from tests.support.nginx import start_nginx
from tests.support.privileged import python_for, readable_dir, unprivileged_user
from tests.support.server import server_is_usher, start_server

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.nginx,
    pytest.mark.skipif(not server_is_usher(), reason="usher's tutorial"),
]


@pytest.fixture
def srv() -> Iterator[Path]:
    """/srv/mysite of the tutorial: root-owned, readable by everyone."""
    path = readable_dir("usher-tutorial-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_tutorial_step_by_step(srv: Path, tmp_path: Path) -> None:
    account = unprivileged_user()
    user = account.pw_name
    usher, env = python_for(user)
    run_dir = srv / "run"  # /run/mysite: install -d -o USER -g NGINX-GROUP -m 750
    run_dir.mkdir()
    os.chown(run_dir, account.pw_uid, account.pw_gid)  # nginx runs as the same user here
    run_dir.chmod(0o750)
    # 1. Install: the suite's environment stands for the virtualenv; startproject.
    src = srv / "src"
    src.mkdir()
    run(sys.executable, "-m", "django", "startproject", "mysite", "src", cwd=srv)
    # 2. Static files.
    settings = src / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + '\nSTATIC_ROOT = BASE_DIR / "static"\n')
    run(sys.executable, "manage.py", "collectstatic", "--noinput", cwd=src)
    subprocess.run(["chmod", "-R", "o+rX", str(srv)], check=True)
    # 4. The ini file, then --check-config.
    ini = srv / "usher.ini"
    ini.write_text(
        f"[uwsgi]\nchdir = {src}\nmodule = mysite.wsgi:application\n"
        "env = DJANGO_SETTINGS_MODULE=mysite.settings\nmaster = true\nprocesses = 2\n"
        f"socket = {run_dir}/app.sock\nchmod-socket = 660\nchown-socket = {user}:{user}\n"
        f"uid = {user}\ngid = {user}\npidfile = {run_dir}/usher.pid\n"
        f"stats = {run_dir}/stats.sock\nvacuum = true\nbuffer-size = 32768\n"
    )
    summary = run(*usher, "--check-config", "--ini", str(ini), cwd=srv, env=env)
    assert "configuration OK" in summary and "mysite.wsgi:application" in summary
    server = start_server([str(ini)], log_dir=tmp_path / "usher", env=env, cwd=srv, command=usher)
    nginx = None
    try:
        # 5. nginx in front, its workers as the unprivileged user.
        nginx = start_nginx(
            tmp_path, f"unix:{run_dir}/app.sock", user=user, statics={"/static/": src / "static"}
        )
        page = get(nginx.address, "/")
        assert page.status == 200 and "Django" in page.text, page.text[:300]
        assert get(nginx.address, "/static/admin/css/base.css").status == 200, nginx.describe()
        # 7. Reloads: through the pidfile; then broken code is refused and the site stays up.
        pidfile = run_dir / "usher.pid"
        forget_notices(server)
        run(*usher, "--reload", str(pidfile), cwd=srv, env=env)
        expect_status(server, "READY=1")
        good = settings.read_text()
        settings.write_text(good + "\ndef broken(:\n")
        forget_notices(server)
        run(*usher, "--reload", str(pidfile), cwd=srv, env=env)
        note = expect_status(server, "FAILED")
        assert "settings.py" in note or "syntax" in note, note
        assert get(nginx.address, "/").status == 200
        settings.write_text(good)
        forget_notices(server)
        run(*usher, "--reload", str(pidfile), cwd=srv, env=env)
        expect_status(server, "READY=1")
        # 8. usher top and the stats.
        screen = run(*usher, "top", f"{run_dir}/stats.sock", "--once", cwd=srv, env=env)
        assert "WID" in screen and "LAST RELOAD FAILED" not in screen
        run(*usher, "--stop", str(pidfile), cwd=srv, env=env)
        assert server.wait() == 0, server.describe()
    finally:
        if nginx is not None:
            nginx.stop()
        server.close()
