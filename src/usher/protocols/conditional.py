"""Conditional requests on a stored representation (RFC 9110 section 13), pure.

A static file's validators are its ETag, in nginx's form (`"<mtime hex>-<size hex>"`, strong),
and its Last-Modified date. `evaluate` applies the preconditions in the order RFC 9110 13.2.2
fixes:

1. If-Match (strong comparison; `*` matches any current representation), else
   If-Unmodified-Since: a failure is 412;
2. If-None-Match (weak comparison), else If-Modified-Since, for GET and HEAD: a match is 304.

If-None-Match takes precedence over If-Modified-Since: when both are present the date is not
looked at (13.1.3). nginx requires both to hold, so a client whose cached tag matches but whose
date is older than the file (a file restored from an older build, a copied tree) is sent the
whole file again.

`if_range_holds` tells whether a Range applies under If-Range (13.1.5): a strong ETag that matches,
or a date equal to Last-Modified. Dates that do not parse are ignored, as the RFC says.
"""

from __future__ import annotations

import calendar
import time
from email.utils import parsedate_tz
from typing import Final

NOT_MODIFIED: Final = 304
PRECONDITION_FAILED: Final = 412
PROCEED: Final = 0

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

# A header longer than this is no date: parsing it would be work spent on an attack.
_DATE_MAX: Final = 64
# An If-Match or If-None-Match list is compared tag by tag; a long one is refused as a whole
# (as no match) rather than scanned, since a head within buffer-size could hold thousands.
_TAGS_MAX: Final = 64


def http_date(seconds: float) -> str:
    """IMF-fixdate (RFC 9110 5.6.7) of a POSIX time: `Sun, 06 Nov 1994 08:49:37 GMT`."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(text: str) -> int | None:
    """POSIX seconds of an HTTP date in any of the three forms a recipient must accept
    (IMF-fixdate, RFC 850, asctime); None when it is not one."""
    if len(text) > _DATE_MAX:
        return None
    parts = parsedate_tz(text)
    if parts is None:
        return None
    try:
        return calendar.timegm(parts[:6]) - (parts[9] or 0)
    except (ValueError, OverflowError):
        return None


def etag_of(mtime: int, size: int) -> str:
    """A file's strong ETag in nginx's form, so the ETags seen behind nginx stay the same."""
    return f'"{mtime:x}-{size:x}"'


def tags(header: str) -> list[str] | None:
    """The entity-tags of an If-Match / If-None-Match value (`*` as itself); None when the list
    is too long to compare."""
    found: list[str] = []
    for raw in header.split(","):
        tag = raw.strip()
        if tag:
            found.append(tag)
            if len(found) > _TAGS_MAX:
                return None
    return found


def _strong_match(header: str, etag: str) -> bool:
    listed = tags(header)
    if listed is None:
        return False
    return "*" in listed or etag in listed  # a W/ tag never equals a strong one


def _weak_match(header: str, etag: str) -> bool:
    listed = tags(header)
    if listed is None:
        return False
    if "*" in listed:
        return True
    bare = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == bare for tag in listed)


def evaluate(
    method: str,
    etag: str,
    mtime: int,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
    if_unmodified_since: str | None = None,
) -> int:
    """PROCEED, NOT_MODIFIED or PRECONDITION_FAILED for a request on an existing file."""
    if if_match is not None:
        if not _strong_match(if_match, etag):
            return PRECONDITION_FAILED
    elif if_unmodified_since is not None:
        date = parse_http_date(if_unmodified_since)
        if date is not None and mtime > date:
            return PRECONDITION_FAILED
    safe = method in ("GET", "HEAD")
    if if_none_match is not None:
        if _weak_match(if_none_match, etag):
            return NOT_MODIFIED if safe else PRECONDITION_FAILED
    elif if_modified_since is not None and safe:
        date = parse_http_date(if_modified_since)
        if date is not None and mtime <= date:
            return NOT_MODIFIED
    return PROCEED


def if_range_holds(value: str, etag: str, mtime: int) -> bool:
    """True when the Range of a request with this If-Range value applies (13.1.5)."""
    value = value.strip()
    if value.startswith('"'):
        return value == etag  # strong comparison: a weak tag never matches
    if value.startswith("W/"):
        return False
    date = parse_http_date(value)
    return date is not None and date == mtime
