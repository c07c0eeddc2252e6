"""RequestBody (the WSGI adapter's spool): memory up to the spool threshold, an anonymous file past
it, a wsgi.input after."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from usher.adapters.body import RequestBody

LINES = [b"first line\n", b"second, longer line\n", b"\n", b"last line without newline"]


Filler = Callable[[list[bytes], int], RequestBody]


@pytest.fixture
def filled() -> Iterator[Filler]:
    """Make finished bodies; every one is closed after the test (a spooled one holds a file)."""
    made: list[RequestBody] = []

    def fill(pieces: list[bytes], threshold: int) -> RequestBody:
        body = RequestBody(threshold)
        for piece in pieces:
            body.append(piece)
        body.finish()
        made.append(body)
        return body

    yield fill
    for body in made:
        body.close()


@pytest.mark.parametrize("threshold", [0, 10, 30, 1 << 20], ids=lambda t: f"threshold={t}")
class TestReading:
    """Every read method gives the same bytes whether the body is in memory or in a file."""

    def test_read_all(self, threshold: int, filled: Filler) -> None:
        body = filled(LINES, threshold)
        assert body.read() == b"".join(LINES)
        assert body.read() == b""
        body.close()

    def test_read_none_means_all(self, threshold: int, filled: Filler) -> None:
        assert filled(LINES, threshold).read(None) == b"".join(LINES)

    def test_read_in_pieces(self, threshold: int, filled: Filler) -> None:
        body = filled(LINES, threshold)
        pieces = list(iter(lambda: body.read(7), b""))
        assert b"".join(pieces) == b"".join(LINES)
        assert {len(piece) for piece in pieces[:-1]} == {7}

    def test_readline(self, threshold: int, filled: Filler) -> None:
        body = filled(LINES, threshold)
        assert [body.readline() for _ in LINES] == LINES
        assert body.readline() == b""

    def test_readline_limit(self, threshold: int, filled: Filler) -> None:
        body = filled(LINES, threshold)
        assert body.readline(5) == b"first"
        assert body.readline(None) == b" line\n"
        assert body.readline(-1) == LINES[1]

    def test_readlines(self, threshold: int, filled: Filler) -> None:
        assert filled(LINES, threshold).readlines() == LINES
        assert filled(LINES, threshold).readlines(12) == LINES[:2]

    def test_iteration_yields_lines(self, threshold: int, filled: Filler) -> None:
        assert list(filled(LINES, threshold)) == LINES


def test_stays_in_memory_up_to_the_threshold(filled: Filler) -> None:
    body = filled([b"12345", b"67890"], 10)
    assert not body.spooled
    assert body.length == 10


def test_moves_to_a_file_past_the_threshold() -> None:
    body = RequestBody(10)
    body.append(b"12345")
    body.append(b"67890")
    assert not body.spooled
    body.append(b"!")
    assert body.spooled
    body.append(b"more")
    body.finish()
    assert body.length == 15
    assert body.read() == b"1234567890!more"
    body.close()


def test_threshold_zero_spools_any_byte(filled: Filler) -> None:
    body = filled([b"x"], 0)
    assert body.spooled
    assert body.read() == b"x"


def test_readline_across_the_memory_to_file_boundary(filled: Filler) -> None:
    # The spill happens inside the second line: its first half was in memory.
    body = filled([b"alpha\nbra", b"vo\ncharlie\n"], 9)
    assert body.spooled
    assert list(body) == [b"alpha\n", b"bravo\n", b"charlie\n"]


def test_large_upload_does_not_sit_in_memory() -> None:
    piece = bytes(range(256)) * 256  # 64 KiB
    tracemalloc.start()
    try:
        body = RequestBody(1 << 20)
        for _ in range(256):  # 16 MiB
            body.append(piece)
        body.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert body.spooled
    assert body.length == 16 << 20
    assert peak < 3 << 20, f"peak {peak} bytes: the body is being held in memory"
    assert body.read(65536) == piece
    body.close()


def test_empty_body_before_any_byte(filled: Filler) -> None:
    body = filled([], 10)
    assert body.length == 0
    assert body.read() == b""
    assert list(body) == []


def test_append_ignores_empty_pieces(filled: Filler) -> None:
    body = filled([b"", b"a", b""], 0)
    assert body.length == 1


def test_reading_before_finish_is_an_error() -> None:
    body = RequestBody(10)
    body.append(b"abc")
    with pytest.raises(ValueError, match="before it was complete"):
        body.read()


def test_appending_after_finish_is_an_error(filled: Filler) -> None:
    body = filled([b"abc"], 10)
    with pytest.raises(ValueError, match="already finished"):
        body.append(b"d")


@pytest.mark.parametrize("threshold", [0, 100])
def test_close_releases_and_later_reads_fail(threshold: int, filled: Filler) -> None:
    body = filled([b"abc"], threshold)
    body.close()
    with pytest.raises(ValueError):
        body.read()


def test_shared_empty_body() -> None:
    empty = RequestBody.EMPTY
    assert empty.read() == b""
    assert empty.readline() == b""
    assert empty.readlines() == []
    assert list(empty) == []
    assert empty.length == 0
    empty.close()  # shared by every bodiless request: closing it must not break the next one
    assert empty.read(10) == b""
    with pytest.raises(ValueError):
        empty.append(b"x")
