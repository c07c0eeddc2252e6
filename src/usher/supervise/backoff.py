"""The wait before restarting a child that keeps dying young, so a broken one cannot fork-bomb.

A child that dies within BOOT_WINDOW of its start counts as a boot failure; successive failures
double the wait (0.5 s, 1 s, 2 s, ...) up to MAX_RESPAWN_DELAY, and one that lived longer resets
the count. The master applies it to its workers; an emperor would apply it to its servers.
"""

from __future__ import annotations

# A child that dies sooner than this after its start counts as a boot failure.
BOOT_WINDOW = 5.0
# Respawn delays for successive boot failures: doubling, capped so that recovery is still prompt.
MAX_RESPAWN_DELAY = 30.0
FIRST_DELAY = 0.5


def boot_failures(previous: int, lived: float) -> int:
    """The count of boot failures in a row, after a child that lived `lived` seconds died."""
    return previous + 1 if lived < BOOT_WINDOW else 0


def respawn_delay(failures: int) -> float:
    """Seconds to wait before the next start after `failures` boot failures in a row."""
    if not failures:
        return 0.0
    return min(MAX_RESPAWN_DELAY, FIRST_DELAY * 2.0 ** (failures - 1))
