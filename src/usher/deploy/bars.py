"""The progress bars of long steps (pip install, collectstatic, migrate, the health check).

What a bar measures: the time the step has run against the time the same step took in the last
successful deploy to that host (recorded on the host in `.deploy-timings`). Neither pip nor
collectstatic says how much work is left, and a count of output lines has no known total, so the
previous duration is the one honest yardstick; the bar says so in its text ("of ~40s last
time"), stops at 99% while the step runs, and says "longer than last time" past it. A step with
no earlier duration (a first deploy) gets a bouncing block and its elapsed time only.

`render_bar` and `bar_line` are pure (tested as such); `Screen` redraws the bars below the
finished-step lines on a terminal with two ANSI sequences.
"""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 24
# The bouncing block of a bar with no yardstick; it moves this many cells per second.
_BLOCK = 4
_CELLS_PER_SECOND = 4


def render_bar(elapsed: float, expected: float, width: int = BAR_WIDTH) -> str:
    """`[#########.......]  40% 12s of ~30s last time`, or a bouncing block without `expected`."""
    if expected <= 0:
        span = max(width - _BLOCK, 1)
        step = int(elapsed * _CELLS_PER_SECOND) % (2 * span)
        start = step if step < span else 2 * span - step
        cells = "." * start + "#" * _BLOCK + "." * (width - _BLOCK - start)
        return f"[{cells[:width]}] {_seconds(elapsed)} (no earlier deploy to compare with)"
    # Never 100% while running: the step is not done until it says so.
    fraction = min(elapsed / expected, 0.99)
    filled = int(fraction * width)
    cells = "#" * filled + "." * (width - filled)
    if elapsed > expected:
        return f"[{cells}] {_seconds(elapsed)}, longer than last time (~{_seconds(expected)})"
    return (
        f"[{cells}] {fraction * 100:3.0f}% {_seconds(elapsed)} of ~{_seconds(expected)} last time"
    )


def _seconds(value: float) -> str:
    # Tenths below ten seconds, where whole seconds would print "0s of ~0s".
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"


def bar_line(host: str, phase: str, step: str, elapsed: float, expected: float) -> str:
    """One running step as the terminal shows it, aligned with the finished-step lines."""
    return f"{host:<22} {phase:<8} {step:<10} {render_bar(elapsed, expected)}"


class Screen:
    """The bottom of a terminal: finished lines scroll above, the running bars are redrawn below.

    Redrawing moves the cursor up over the bars drawn last time (CSI n F) and erases to the end
    of the screen (CSI J): VT100 sequences every terminal emulator in use understands.
    """

    def __init__(self, stream: TextIO, columns: int = 100) -> None:
        self._stream = stream
        self._columns = columns
        self._drawn = 0

    def show(self, finished: list[str], bars: list[str]) -> None:
        """Print `finished` lines for good, then draw `bars` in place of the previous ones."""
        out = [f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""]
        out += [line + "\n" for line in finished]
        # Cut to the width: a wrapped bar would take two rows and break the next redraw.
        out += [bar[: self._columns - 1] + "\n" for bar in bars]
        self._drawn = len(bars)
        self._stream.write("".join(out))
        self._stream.flush()
