"""Conditional requests on a static file (RFC 9110 section 13)."""

from __future__ import annotations

import pytest

from usher.protocols.conditional import (
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    PROCEED,
    etag_of,
    evaluate,
    http_date,
    if_range_holds,
    parse_http_date,
)

MTIME = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example
ETAG = etag_of(MTIME, 1234)
DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
LATER = "Sun, 06 Nov 1994 08:49:38 GMT"
EARLIER = "Sun, 06 Nov 1994 08:49:36 GMT"


def test_etag_is_nginx_form() -> None:
    assert etag_of(0x5F8A1B2C, 0x1A2B) == '"5f8a1b2c-1a2b"'


@pytest.mark.parametrize(
    "text",
    [DATE, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_the_three_date_forms_parse(text: str) -> None:
    assert parse_http_date(text) == MTIME


@pytest.mark.parametrize("text", ["", "yesterday", "Sun, 99 Foo 1994 08:49:37 GMT", "x" * 100])
def test_bad_dates_are_none(text: str) -> None:
    assert parse_http_date(text) is None


def test_http_date_round_trips() -> None:
    assert http_date(MTIME) == DATE


def test_if_none_match_beats_if_modified_since() -> None:
    # RFC 9110 13.1.3: with If-None-Match present the date is not looked at, either way.
    assert evaluate("GET", ETAG, MTIME, if_none_match='"other"', if_modified_since=LATER) == PROCEED
    assert evaluate("GET", ETAG, MTIME, if_none_match=ETAG, if_modified_since=EARLIER) == 304


def test_if_none_match_weak_comparison_and_star() -> None:
    assert evaluate("GET", ETAG, MTIME, if_none_match=f'"a", W/{ETAG}') == NOT_MODIFIED
    assert evaluate("HEAD", ETAG, MTIME, if_none_match="*") == NOT_MODIFIED


def test_if_modified_since() -> None:
    assert evaluate("GET", ETAG, MTIME, if_modified_since=DATE) == NOT_MODIFIED
    assert evaluate("GET", ETAG, MTIME, if_modified_since=EARLIER) == PROCEED
    assert evaluate("GET", ETAG, MTIME, if_modified_since="garbage") == PROCEED


def test_if_match_is_strong_and_fails_with_412() -> None:
    assert evaluate("GET", ETAG, MTIME, if_match=ETAG) == PROCEED
    assert evaluate("GET", ETAG, MTIME, if_match="*") == PROCEED
    assert evaluate("GET", ETAG, MTIME, if_match=f"W/{ETAG}") == PRECONDITION_FAILED
    assert evaluate("GET", ETAG, MTIME, if_match='"nope"') == PRECONDITION_FAILED


def test_if_unmodified_since_and_if_match_precedence() -> None:
    assert evaluate("GET", ETAG, MTIME, if_unmodified_since=EARLIER) == PRECONDITION_FAILED
    assert evaluate("GET", ETAG, MTIME, if_unmodified_since=DATE) == PROCEED
    # If-Match present: the date is not looked at.
    assert evaluate("GET", ETAG, MTIME, if_match=ETAG, if_unmodified_since=EARLIER) == PROCEED


def test_a_huge_tag_list_matches_nothing() -> None:
    listed = ", ".join(['"x"'] * 200 + [ETAG])
    assert evaluate("GET", ETAG, MTIME, if_none_match=listed) == PROCEED


def test_if_range() -> None:
    assert if_range_holds(ETAG, ETAG, MTIME)
    assert not if_range_holds(f"W/{ETAG}", ETAG, MTIME)
    assert not if_range_holds('"other"', ETAG, MTIME)
    assert if_range_holds(DATE, ETAG, MTIME)
    assert not if_range_holds(LATER, ETAG, MTIME)  # only an exact date holds
