"""Process titles as an operator sees them in `ps`: usher's own, shaped by uWSGI's procname
options.

usher always titles its processes by role (`usher master APP`, `usher worker N`), which is what
uWSGI's `auto-procname` asks for. `procname` replaces the title of every process,
`procname-master` the master's; `procname-prefix`, `procname-prefix-spaced` and
`procname-append` wrap whichever title results, as uWSGI composes them.
"""

from __future__ import annotations

from usher.options import Settings


def title(settings: Settings, role: str, *, master: bool = False) -> str:
    """The title of a process whose own is `role` (e.g. "usher worker 3")."""
    name = settings.procname or role
    if master and settings.procname_master:
        name = settings.procname_master
    prefix = settings.procname_prefix or ""
    if settings.procname_prefix_spaced:
        prefix += settings.procname_prefix_spaced + " "
    return prefix + name + (settings.procname_append or "")


def set_title(settings: Settings, role: str, *, master: bool = False) -> None:
    """Title this process (setproctitle rewrites the memory /proc/PID/cmdline reads)."""
    try:
        import setproctitle
    except ImportError:  # pragma: no cover - a core dependency; titles are cosmetic
        return
    setproctitle.setproctitle(title(settings, role, master=master))
