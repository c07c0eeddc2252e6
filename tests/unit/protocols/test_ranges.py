"""Byte ranges (RFC 9110 section 14) and their denial-of-service bounds."""

from __future__ import annotations

import pytest

from usher.protocols.ranges import (
    MAX_PARTS,
    UNSATISFIABLE,
    content_range,
    merge,
    multipart_parts,
    plan_ranges,
)


@pytest.mark.parametrize(
    ("header", "spans"),
    [
        ("bytes=0-99", [(0, 99)]),
        ("bytes=500-", [(500, 999)]),
        ("bytes=-100", [(900, 999)]),
        ("bytes=-5000", [(0, 999)]),
        ("bytes=900-5000", [(900, 999)]),
        ("BYTES = 0-0", [(0, 0)]),
        ("bytes=0-9, 500-509", [(0, 9), (500, 509)]),
        ("bytes=500-509,0-9", [(0, 9), (500, 509)]),  # sorted
        ("bytes=0-9,,500-509,", [(0, 9), (500, 509)]),  # empty list elements
        ("bytes=0-9,2000-3000", [(0, 9)]),  # the unsatisfiable one dropped
    ],
)
def test_satisfiable(header: str, spans: list[tuple[int, int]]) -> None:
    assert plan_ranges(header, 1000) == spans


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=1000-1001,2000-"]
)
def test_unsatisfiable(header: str) -> None:
    assert plan_ranges(header, 1000) is UNSATISFIABLE


def test_empty_file_is_unsatisfiable() -> None:
    assert plan_ranges("bytes=0-", 0) is UNSATISFIABLE
    assert plan_ranges("bytes=-10", 0) is UNSATISFIABLE


@pytest.mark.parametrize(
    "header", ["items=0-9", "bytes", "bytes=a-b", "bytes=9-1", "bytes=-", "bytes=1-2-3", "0-9"]
)
def test_invalid_is_ignored(header: str) -> None:
    assert plan_ranges(header, 1000) is None


def test_overlapping_ranges_are_coalesced() -> None:
    # The Apache killer (CVE-2011-3192): the same bytes asked for many times.
    header = "bytes=0-," + ",".join(f"5-{n + 5}" for n in range(50))
    assert plan_ranges(header, 10_000) == [(0, 9_999)]
    assert merge([(0, 10), (5, 20), (300, 400), (350, 360)]) == [(0, 20), (300, 400)]


def test_close_ranges_merge_into_one_part() -> None:
    assert plan_ranges("bytes=0-9,50-59", 1000) == [(0, 59)]


def test_too_many_small_ranges_are_ignored() -> None:
    many = ",".join(f"{n * 1000}-{n * 1000}" for n in range(MAX_PARTS + 1))
    assert plan_ranges(f"bytes={many}", 1_000_000) is None
    few = ",".join(f"{n * 1000}-{n * 1000}" for n in range(MAX_PARTS))
    assert plan_ranges(f"bytes={few}", 1_000_000) is not None
    assert plan_ranges("bytes=" + "0-0," * 200, 1000) is None


def test_multipart_framing_length_is_exact() -> None:
    spans = [(0, 9), (500, 509)]
    heads, tail, total = multipart_parts(spans, 1000, "text/plain", "BOUND")
    assert heads[0] == (
        b"\r\n--BOUND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/1000\r\n\r\n"
    )
    assert tail == b"\r\n--BOUND--\r\n"
    assert total == sum(map(len, heads)) + 20 + len(tail)
    assert content_range(0, 9, 1000) == "bytes 0-9/1000"
