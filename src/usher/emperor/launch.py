"""Fork and exec one vassal: its environment, its user, the socket it is handed.

The child gets default signal dispositions, a process group of its own (a Ctrl-C reaches the
emperor alone, which stops the vassals gracefully), the parent-death signal SIGTERM (if the
emperor is killed outright, its vassals stop gracefully instead of running on unsupervised), and
no descriptor but 0, 1, 2 and, when started on demand, its socket as descriptor 3 announced with
systemd's LISTEN_FDS/LISTEN_PID, which usher (and uWSGI) adopt as an inherited listener.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from usher.supervise.spawn import EXEC_FAILED, default_signals

_PR_SET_PDEATHSIG = 1
LISTEN_FD = 3  # SD_LISTEN_FDS_START


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything the child needs, computed in the emperor before the fork."""

    argv: list[str]
    env: Mapping[str, str]
    uid: int | None = None
    gid: int | None = None
    listen_fd: int | None = None


def launch(spec: Launch) -> int:
    """Start the vassal; its pid (the emperor reaps it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs or exits
        try:
            _become_vassal(spec)
        finally:
            os._exit(EXEC_FAILED)
    return pid


def _become_vassal(spec: Launch) -> None:  # pragma: no cover - child side of launch
    default_signals()
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    env = dict(spec.env)
    keep = 3
    if spec.listen_fd is not None:
        if spec.listen_fd != LISTEN_FD:
            os.dup2(spec.listen_fd, LISTEN_FD, inheritable=True)
        else:
            os.set_inheritable(LISTEN_FD, True)
        env.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
        keep = LISTEN_FD + 1
    os.closerange(keep, os.sysconf("SC_OPEN_MAX"))
    if spec.gid is not None:
        _set_groups(spec.uid, spec.gid)
        os.setgid(spec.gid)
    if spec.uid is not None:
        os.setuid(spec.uid)
    os.execve(spec.argv[0], spec.argv, env)


def _set_groups(uid: int | None, gid: int) -> None:  # pragma: no cover - child side
    try:
        name = pwd.getpwuid(uid).pw_name if uid is not None else None
    except KeyError:
        name = None
    if name is not None:
        os.initgroups(name, gid)
    else:
        os.setgroups([gid])
