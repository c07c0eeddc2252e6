"""Accept-Encoding for precompressed static files."""

from __future__ import annotations

import pytest

from usher.protocols.encodings import accepted_codings

OFFERED = ("br", "gzip")


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (None, ()),
        ("", ()),
        ("gzip, deflate, br, zstd", ("br", "gzip")),
        ("gzip", ("gzip",)),
        ("GZIP;q=0.5", ("gzip",)),
        ("br;q=0, gzip", ("gzip",)),
        ("*", ("br", "gzip")),
        ("*;q=0, gzip", ("gzip",)),
        ("br;q=0, *", ("gzip",)),
        ("identity", ()),
        ("gzip;q=abc", ()),
        ("gzip;q=2", ()),
        ("gzip" + " " * 600, ()),
    ],
)
def test_accepted(header: str | None, accepted: tuple[str, ...]) -> None:
    assert accepted_codings(header, OFFERED) == accepted
