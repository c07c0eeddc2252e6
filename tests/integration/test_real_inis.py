"""The Flask app and the Django project under uwsgi.ini files shaped like the ones sites keep: a
shared base section, if-env, an app factory, loggers with routes, route donotlog and redirects,
mount with manage-script-name, an attached daemon and a cron line. Each test asserts what a user
sees: responses, headers, log files and child processes."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.support.django_site import django_env, note_titles
from tests.support.events import EventListener
from tests.support.http import get
from tests.support.paths import DJANGO_PROJECT, FIXTURES, FLASK_APP, WSGI_APPS
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(60)

DAEMON = FIXTURES / "daemon.py"

FLASK_INI = """\
; the settings every environment shares
[base]
master = true
processes = 1
http-socket = 127.0.0.1:{port}
logger = app file:{logs}/app.log
logger = file:{logs}/server.log
log-route = app ERROR in app
req-logger = file:{logs}/access.log

[uwsgi]
ini = :base
wsgi-file = {flask}
callable = app
if-env = USHER_TEST_RELEASE
env = RELEASE=%(_)
endif =
route = ^/healthz$ donotlog:
route = ^/healthz$ return:204
route = ^/old-home$ redirect-permanent:/
add-header = X-Frame-Options: DENY
pythonpath = {repo}
mount = /tools=tests.fixtures.wsgi_apps:application
manage-script-name = true
attach-daemon = {daemon}
cron = -1 -1 -1 -1 -1 /bin/true
"""


def test_flask_under_a_production_style_ini(
    serve: Serve, events: EventListener, tmp_path: Path
) -> None:
    port, logs = free_port(), tmp_path / "logs"
    logs.mkdir()
    ini = tmp_path / "uwsgi.ini"
    daemon = shlex.join([sys.executable, str(DAEMON), "worker-daemon"])
    ini.write_text(
        FLASK_INI.format(
            port=port, logs=logs, flask=FLASK_APP, repo=FIXTURES.parent.parent, daemon=daemon
        )
    )
    env = {**os.environ, **events.env(), "USHER_TEST_RELEASE": "2026.12"}
    server = serve([str(ini)], env=env)
    site = ("127.0.0.1", port)

    # The app, with the header every response gets.
    home = get(site, "/")
    assert (home.status, home.body) == (200, b"Flask on usher\n")
    assert home.header("x-frame-options") == "DENY"
    # Routes: a permanent redirect, and a health check answered without the app, not logged.
    moved = get(site, "/old-home")
    assert moved.status == 301 and moved.header("location") == "/"
    assert get(site, "/healthz").status == 204
    # The mounted app sees its prefix as SCRIPT_NAME (manage-script-name).
    seen = json.loads(get(site, "/tools/echo").body)
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/tools", "/echo")
    # The attached daemon runs beside the app.
    assert events.wait_for("worker-daemon ")
    # Flask's error line is routed to the app's log (line by line, as uWSGI routes), the
    # requests to the access log, the rest to the server log.
    assert get(site, "/boom").status == 500
    server.stop()
    access = (logs / "access.log").read_text()
    assert "GET /old-home" in access and "GET /tools/echo" in access
    assert "/healthz" not in access  # donotlog
    assert "ERROR in app: Exception on /boom [GET]" in (logs / "app.log").read_text()
    server_log = (logs / "server.log").read_text()
    assert "ERROR in app" not in server_log and "ready, 1 worker serving" in server_log


def test_an_app_factory_and_if_env_blocks(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    ini = tmp_path / "uwsgi.ini"
    ini.write_text(
        "[uwsgi]\n"
        f"http-socket = 127.0.0.1:{port}\n"
        f"wsgi-file = {WSGI_APPS}\n"
        'callable = make_app("factory says hi")\n'
        "if-env = USHER_TEST_RELEASE\n"
        "env = RELEASE=%(_)\n"
        "endif =\n"
        "if-env = USHER_TEST_RELEASE\n"
        "add-header = X-Release: %(_)\n"
        "endif =\n"
        "if-env = USHER_TEST_UNSET\n"
        "add-header = X-Unset: yes\n"
        "endif =\n"
    )
    env = {**os.environ, "USHER_TEST_RELEASE": "2026.12"}
    env.pop("USHER_TEST_UNSET", None)
    serve([str(ini)], env=env)
    response = get(("127.0.0.1", port), "/")
    assert response.body == b"factory says hi"  # the app factory, called with its argument
    assert response.header("x-release") == "2026.12"
    assert response.header("x-unset") is None


DJANGO_INI = """\
[uwsgi]
chdir = {project}
module = mysite.wsgi:application
master = true
processes = 2
http-socket = 127.0.0.1:{port}
env = DJANGO_SETTINGS_MODULE=mysite.settings
route-uri = ^/legacy/(.*)$ redirect:/$1
route = ^/robots.txt$ return:404
req-logger = file:{logs}/requests.log
log-4xx = true
"""


def test_django_under_a_site_ini(serve: Serve, tmp_path: Path, django_db: Path) -> None:
    port = free_port()
    ini = tmp_path / "django.ini"
    ini.write_text(DJANGO_INI.format(project=DJANGO_PROJECT, port=port, logs=tmp_path))
    serve([str(ini)], env=django_env(django_db))
    site = ("127.0.0.1", port)
    page = get(site, "/")
    assert page.status == 200 and note_titles(page)
    legacy = get(site, "/legacy/hello/")
    assert legacy.status == 302 and legacy.header("location") == "/hello/"
    assert get(site, "/robots.txt").status == 404
    assert "GET /legacy/hello/" in (tmp_path / "requests.log").read_text()
