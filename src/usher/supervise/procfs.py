"""What the kernel says about a process, from /proc: its memory, and what it waits on.

Reads of a process that may be gone: each answers with zeros or nothing instead of raising, since
a child can exit between the decision to look and the read.
"""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE")


def read_memory(pid: int) -> tuple[int, int]:
    """(rss, vsz) of a process in bytes from /proc/PID/statm; zeros once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            fields = handle.read().split()
    except OSError:
        return 0, 0
    return int(fields[1]) * _PAGE, int(fields[0]) * _PAGE


def kernel_view(pid: int) -> str:
    """What the kernel says the process waits on (harakiri-verbose)."""
    parts = []
    for name in ("wchan", "syscall"):
        try:
            with open(f"/proc/{pid}/{name}") as handle:
                parts.append(f"{name}: {handle.read().strip() or '-'}")
        except OSError:
            continue
    return "; ".join(parts)
