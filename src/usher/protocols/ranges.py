"""Byte ranges (RFC 9110 section 14), pure: parse a Range header against a file size, and frame
a multipart/byteranges body.

`plan_ranges(header, size)` answers one of:

- None: serve the whole file (no usable Range: another unit, a syntax error, or too many
  ranges, which RFC 9110 14.2 lets a server ignore);
- UNSATISFIABLE: no range overlaps the file (416, `Content-Range: bytes */size`);
- a list of (first, last) inclusive spans, ascending, none overlapping.

Denial of service (RFC 9110 14.2; CVE-2011-3192 against Apache): a client asking for the same
bytes many times over, or for thousands of tiny ranges, makes a server send far more than the
file, in many small writes. Spans are sorted and merged where they overlap or lie closer than a
part's own framing (`MERGE_GAP`), so no byte is sent twice; a header with more than `MAX_SPECS`
specs, or more than `MAX_PARTS` parts left after merging, is ignored and the whole file sent.
"""

from __future__ import annotations

import os
from typing import Final

# Apache refuses more than 200 ranges (MaxRanges) and nginx none by default; real clients (PDF
# viewers, media players, download resumers) ask for one range, rarely a handful.
MAX_SPECS: Final = 100
MAX_PARTS: Final = 16
# Two ranges closer than this cost more as two parts (each with its boundary and headers, ~80
# bytes) than the gap between them sent once.
MERGE_GAP: Final = 80


class _Unsatisfiable:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE: Final = _Unsatisfiable()

Spans = list[tuple[int, int]]


def plan_ranges(header: str, size: int) -> Spans | _Unsatisfiable | None:
    """The spans of `header` over a file of `size` bytes (see the module's docstring)."""
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    items = specs.split(",")
    if len(items) > MAX_SPECS:
        return None
    spans: Spans = []
    for item in items:
        item = item.strip()
        if not item:
            continue  # RFC 9110's list rule: empty elements are allowed and ignored
        span = _span(item, size)
        if span is None:
            return None  # a syntax error: the whole header is ignored
        if span is not UNSATISFIABLE:
            assert isinstance(span, tuple)
            spans.append(span)
    if not spans:
        return UNSATISFIABLE
    merged = merge(spans)
    if len(merged) > MAX_PARTS:
        return None
    return merged


def _span(item: str, size: int) -> tuple[int, int] | _Unsatisfiable | None:
    first, dash, last = item.partition("-")
    first, last = first.strip(), last.strip()
    if not dash or (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:  # suffix: the last N bytes
        if not last:
            return None
        count = int(last)
        if count == 0 or size == 0:
            return UNSATISFIABLE
        return (max(0, size - count), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return (start, min(end, size - 1))


def merge(spans: Spans) -> Spans:
    """Sorted spans, those overlapping or closer than MERGE_GAP joined into one."""
    merged: Spans = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + MERGE_GAP:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def content_range(first: int, last: int, size: int) -> str:
    return f"bytes {first}-{last}/{size}"


def new_boundary() -> str:
    """A multipart boundary no file's bytes can be expected to contain."""
    return os.urandom(12).hex()


def multipart_parts(
    spans: Spans, size: int, content_type: str, boundary: str
) -> tuple[list[bytes], bytes, int]:
    """The head of each part, the closing delimiter and the body's whole length, for a
    multipart/byteranges body (RFC 9110 14.6) whose parts are `spans` of a file of `size`."""
    heads = []
    total = 0
    for first, last in spans:
        head = (
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: {content_range(first, last, size)}\r\n\r\n"
        ).encode("latin-1")
        heads.append(head)
        total += len(head) + last - first + 1
    tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
    return heads, tail, total + len(tail)
