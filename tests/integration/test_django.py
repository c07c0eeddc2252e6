"""The Django fixture project served over HTTP: templates, the ORM, CSRF-protected forms and the
admin login, as a browser would use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.django_site import (
    check_admin_login,
    check_csrf_post_flow,
    check_template_page,
    django_app_args,
    django_env,
)
from tests.support.http import Address, Browser
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def site(module_serve: Serve, django_db: Path) -> Address:
    port = free_port()
    args = [*django_app_args(), "--http-socket", f"127.0.0.1:{port}", "--processes", "2"]
    module_serve(args, env=django_env(django_db))
    return ("127.0.0.1", port)


def browser_for(site: Address) -> Browser:
    assert not isinstance(site, str)
    return Browser(site, host=f"{site[0]}:{site[1]}")


def test_template_page_lists_orm_rows(site: Address) -> None:
    check_template_page(browser_for(site))


def test_csrf_form_post_adds_a_row_and_forged_post_is_refused(site: Address) -> None:
    check_csrf_post_flow(browser_for(site))


def test_admin_login_reaches_the_admin_index(site: Address) -> None:
    check_admin_login(browser_for(site))


def test_unknown_host_is_refused_by_django(site: Address) -> None:
    response = Browser(site, host="evil.example").get("/page/")
    assert response.status == 400


def test_missing_page_is_a_404(site: Address) -> None:
    assert browser_for(site).get("/no/such/page/").status == 404
