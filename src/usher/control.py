"""`usher --reload PIDFILE` and `usher --stop PIDFILE`: uWSGI's way for init scripts to reach a
running master through its pidfile.

A pidfile outlives a crash, and its pid may since belong to another program: the signal is sent
only to a live process whose command line is usher's, and a stale pidfile gets one clear line.
"""

from __future__ import annotations

import os
import signal
import sys


def signal_pidfile(action: str, path: str, signame: str) -> int:
    """Send `signame` to the master in `path`; the exit status (0 sent, 1 not)."""
    if not path:
        return _fail(f"--{action} needs the pidfile: usher --{action} /run/usher/site.pid")
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError as exc:
        return _fail(f"--{action}: cannot read pidfile {path}: {exc.strerror}")
    if not text.isdigit():
        return _fail(f"--{action}: pidfile {path} holds {text[:20]!r}, not a pid")
    pid = int(text)
    stale = _stale_because(pid)
    if stale is not None:
        return _fail(
            f"--{action}: pidfile {path} is stale: {stale} (the server is not running; "
            "start it, or remove the file)"
        )
    try:
        os.kill(pid, getattr(signal, signame))
    except PermissionError:
        return _fail(f"--{action}: not allowed to signal pid {pid}: run as its user or as root")
    done = "reload" if action == "reload" else "stop"
    print(f"usher: sent {signame} to the master (pid {pid}): it will {done} gracefully")
    return 0


def _stale_because(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except FileNotFoundError:
        return f"no process has pid {pid}"
    except OSError:
        return None  # cannot tell (another user's process): let the signal decide
    if b"usher" not in cmdline and b"uwsgi" not in cmdline:
        words = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:60]
        return f"pid {pid} is now another program ({words})"
    return None


def _fail(message: str) -> int:
    print(f"usher: {message}", file=sys.stderr)
    return 1
