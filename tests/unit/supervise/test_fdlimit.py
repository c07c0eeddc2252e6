"""max-fd without the privilege to raise the hard limit: the soft limit goes up to the hard one,
and one line says what to change instead."""

from __future__ import annotations

import resource

import pytest

from usher.supervise import fdlimit


def test_a_limit_above_the_hard_one_is_capped_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []

    def setrlimit(which: int, limits: tuple[int, int]) -> None:
        if limits[1] > 1024:
            raise ValueError("not allowed to raise maximum limit")
        calls.append(limits)

    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, 1024))
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    line = fdlimit.set_open_files(65536)
    assert calls == [(1024, 1024)]
    assert line is not None and "the hard limit is 1024" in line and "LimitNOFILE=" in line
    assert fdlimit.set_open_files(512) is None
    assert calls[-1] == (512, 512)
