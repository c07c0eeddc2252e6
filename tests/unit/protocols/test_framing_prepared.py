"""framing.Prepared: a whole response framed once, written with this second's date."""

from __future__ import annotations

from usher.protocols.framing import Prepared, plan_response

HEADERS = [("Content-Type", "text/plain"), ("ETag", '"1-4"')]
DATE = b"Thu, 01 Jan 2026 00:00:00 GMT"


def _plan(method: str, headers: list[tuple[str, str]], length: int, **kw: object) -> Prepared:
    options: dict[str, object] = {"http_version": "1.1", "keep_alive": True, "uwsgi": False}
    options.update(kw)
    plan = plan_response("200 OK", headers, length, method=method, server=b"usher", **options)  # type: ignore[arg-type]
    return Prepared("200 OK", headers, b"body", plan)


def test_get_is_the_rendered_head_and_the_body() -> None:
    prepared = _plan("GET", HEADERS, 4)
    whole = prepared.before + DATE + prepared.after
    assert whole == prepared.plan.template.render(DATE) + b"body"
    assert prepared.body_bytes == 4 and prepared.keep_alive
    assert b"Content-Length: 4\r\n" in whole


def test_head_has_no_body_but_the_length() -> None:
    prepared = _plan("HEAD", HEADERS, 4)
    whole = prepared.before + DATE + prepared.after
    assert whole.endswith(b"\r\n\r\n") and b"Content-Length: 4\r\n" in whole
    assert prepared.body_bytes == 0


def test_a_short_body_closes_and_a_long_one_is_cut() -> None:
    short = _plan("GET", [*HEADERS, ("Content-Length", "10")], 4)
    assert not short.keep_alive and short.body_bytes == 4
    long = _plan("GET", [*HEADERS, ("Content-Length", "2")], 4)
    assert long.keep_alive and long.after.endswith(b"\r\n\r\nbo") and long.body_bytes == 2


def test_over_uwsgi_no_date_goes_between() -> None:
    prepared = _plan("GET", HEADERS, 4, keep_alive=False, uwsgi=True)
    assert prepared.before == b""
    assert prepared.after == prepared.plan.template.render(DATE) + b"body"
