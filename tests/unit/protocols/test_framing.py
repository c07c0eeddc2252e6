"""Response framing decisions and the per-worker cache of recurring heads."""

from __future__ import annotations

import pytest

from usher.protocols.framing import PLAN_CACHE_SIZE, PlanCache, plan_response
from usher.protocols.response import encode_head

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"


def plan(status="200 OK", headers=None, length=None, **overrides):
    args = {
        "method": "GET",
        "http_version": "1.1",
        "keep_alive": True,
        "uwsgi": False,
        "server": b"usher",
    }
    args.update(overrides)
    return plan_response(status, headers or [("Content-Type", "text/plain")], length, **args)


def test_measured_length_is_announced() -> None:
    result = plan(length=13)
    head = result.template.render(DATE)
    assert b"\r\nContent-Length: 13\r\n" in head
    assert result.remaining == 13 and not result.chunked and result.keep_alive


def test_app_content_length_beats_the_measured_one() -> None:
    result = plan(headers=[("Content-Length", "5")], length=13)
    assert result.remaining == 5
    assert result.template.render(DATE).count(b"Content-Length") == 1


def test_unknown_length_is_chunked_on_http11_and_closes_otherwise() -> None:
    assert plan().chunked
    assert plan().keep_alive
    old = plan(http_version="1.0")
    assert not old.chunked and not old.keep_alive
    behind_nginx = plan(uwsgi=True)
    assert not behind_nginx.chunked and not behind_nginx.keep_alive


def test_a_uwsgi_response_head_is_the_apps_status_and_headers_only() -> None:
    # The front server gives its client its own Date and Server and reads to the end of the
    # connection: usher adds only what framing needs (a measured length), as uWSGI does.
    result = plan(headers=[("Content-Type", "text/plain")], length=2, uwsgi=True, keep_alive=False)
    assert result.template.render(DATE) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
    )
    assert not result.keep_alive


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified", "101 Switching"])
def test_bodiless_statuses(status: str) -> None:
    result = plan(status)
    assert not result.body_allowed and not result.chunked
    assert b"Content-Length" not in result.template.render(DATE)


def test_head_request_has_no_body_but_keeps_the_length() -> None:
    result = plan(length=13, method="HEAD")
    assert not result.body_allowed
    assert b"Content-Length: 13" in result.template.render(DATE)


def test_hop_by_hop_headers_are_dropped_and_close_is_honoured() -> None:
    result = plan(
        headers=[("Connection", "close"), ("Transfer-Encoding", "gzip"), ("X-A", "1")], length=2
    )
    head = result.template.render(DATE)
    assert b"Transfer-Encoding" not in head
    assert b"\r\nConnection: close\r\n" in head
    assert not result.keep_alive


def test_invalid_content_length_and_crlf_are_refused() -> None:
    with pytest.raises(ValueError, match="Content-Length"):
        plan(headers=[("Content-Length", "-1")])
    with pytest.raises(ValueError, match="CR or LF"):
        plan(headers=[("X-A", "1\r\nSet-Cookie: x=1")])


def test_template_renders_what_encode_head_encodes() -> None:
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    for keep_alive in (True, False):
        result = plan(headers=headers, keep_alive=keep_alive)
        expected = encode_head(
            "200 OK",
            headers,
            http_version="1.1",
            keep_alive=keep_alive,
            chunked=False,
            date=DATE,
            server=b"usher",
        )
        assert result.template.render(DATE) == expected


def test_app_date_is_kept_and_not_doubled() -> None:
    result = plan(headers=[("Date", "Mon, 07 Nov 1994 00:00:00 GMT")], length=0)
    head = result.template.render(DATE)
    assert DATE not in head
    assert head.count(b"Date:") == 1


def test_cache_returns_the_same_plan_for_the_same_head() -> None:
    cache = PlanCache(b"usher")
    args = {"method": "GET", "http_version": "1.1", "keep_alive": True, "uwsgi": False}
    first = cache.plan("200 OK", [("A", "1")], 3, **args)
    assert cache.plan("200 OK", [("A", "1")], 3, **args) is first
    assert cache.plan("200 OK", [("A", "1")], 3, **{**args, "method": "HEAD"}) is not first
    assert cache.plan("200 OK", [("A", "2")], 3, **args) is not first


def test_cache_starts_over_when_full() -> None:
    cache = PlanCache(b"usher")
    args = {"method": "GET", "http_version": "1.1", "keep_alive": True, "uwsgi": False}
    for index in range(PLAN_CACHE_SIZE + 5):
        cache.plan("200 OK", [("X-N", str(index))], 1, **args)
    assert len(cache.plans) <= PLAN_CACHE_SIZE
