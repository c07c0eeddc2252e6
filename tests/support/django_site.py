"""The Django fixture project: preparing its database and the browser flows the tests run against
it, shared by the direct-HTTP tests and the tests behind nginx."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from tests.support.http import Browser, Response
from tests.support.paths import DJANGO_PROJECT

ADMIN_USER = "admin"
ADMIN_PASSWORD = "usher-test-" + secrets.token_hex(8)

# The sample rows the project's data migration inserts; the page must list them.
SAMPLE_TITLE = "Welcome to usher"


def django_env(db_path: Path) -> dict[str, str]:
    """The environment for the project's server and manage.py: this run's database, DEBUG off."""
    env = dict(os.environ)
    env["DJANGO_DB_PATH"] = str(db_path)
    env.pop("DJANGO_DEBUG", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def manage(db_path: Path, *args: str, extra_env: dict[str, str] | None = None) -> None:
    """Run `manage.py ARGS` against `db_path`; fail with its output."""
    env = {**django_env(db_path), **(extra_env or {})}
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DJANGO_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def prepare_django_db(db_path: Path) -> None:
    """Migrate a fresh SQLite database at `db_path` and add the admin superuser."""
    manage(db_path, "migrate", "--noinput", "-v", "0")
    manage(
        db_path,
        "createsuperuser",
        "--noinput",
        "--username",
        ADMIN_USER,
        "--email",
        "admin@example.com",
        extra_env={"DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
    )


def django_app_args() -> list[str]:
    """The flags that load the project the way its README command does."""
    return ["--chdir", str(DJANGO_PROJECT), "--module", "mysite.wsgi"]


def note_titles(page: Response) -> list[str]:
    """The note titles the page lists, in order."""
    return [
        m.decode() for m in re.findall(rb'<li class="note"><strong>([^<]*)</strong>', page.body)
    ]


def check_template_page(browser: Browser) -> None:
    """/page/ renders the template with ORM rows; /hello/ is the plain view."""
    page = browser.get("/page/")
    assert page.status == 200, page.text[:2000]
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert SAMPLE_TITLE in note_titles(page)
    assert re.search(rb"<h2>\d+ notes</h2>", page.body)
    hello = browser.get("/hello/")
    assert (hello.status, hello.body) == (200, b"Hello, World!")


def check_csrf_post_flow(browser: Browser) -> None:
    """GET the form, POST it with cookie and token, follow the 302 and find the new row; the same
    POST without a token is refused with 403."""
    form = browser.get("/notes/new/")
    assert form.status == 200, form.text[:2000]
    assert "csrftoken" in browser.cookies
    token = browser.csrf_field(form)
    title = "note " + secrets.token_hex(6)
    saved = browser.post_form(
        "/notes/new/",
        {"title": title, "body": "posted through usher", "csrfmiddlewaretoken": token},
    )
    assert saved.status == 302, saved.text[:2000]
    location = saved.header("location")
    assert location == "/page/"
    listed = browser.get(location)
    assert listed.status == 200
    assert title in note_titles(listed)

    forged = Browser(browser.address, host=browser.host, tls=browser.tls)
    refused = forged.post_form("/notes/new/", {"title": "forged " + title, "body": ""})
    assert refused.status == 403, refused.text[:2000]
    assert "forged " + title not in note_titles(browser.get("/page/"))


def check_admin_login(browser: Browser) -> None:
    """Log in through /admin/login/ (CSRF included) and reach the admin index."""
    anonymous = browser.get("/admin/")
    assert anonymous.status == 302
    assert (anonymous.header("location") or "").startswith("/admin/login/")
    login = browser.get("/admin/login/?next=/admin/")
    assert login.status == 200, login.text[:2000]
    done = browser.post_form(
        "/admin/login/?next=/admin/",
        {
            "username": ADMIN_USER,
            "password": ADMIN_PASSWORD,
            "next": "/admin/",
            "csrfmiddlewaretoken": browser.csrf_field(login),
        },
    )
    assert done.status == 302, done.text[:3000]
    assert done.header("location") == "/admin/"
    assert "sessionid" in browser.cookies
    index = browser.get("/admin/")
    assert index.status == 200, index.text[:2000]
    assert b"Site administration" in index.body
    notes = browser.get("/admin/notes/note/")
    assert notes.status == 200
    assert SAMPLE_TITLE.encode() in notes.body
