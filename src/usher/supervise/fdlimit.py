"""max-fd: the open-file limit (RLIMIT_NOFILE) set at startup, before the workers are forked, so
that every worker inherits it. Each connection holds a descriptor, so the limit bounds how many
clients a worker can hold at once.

As in uWSGI, both the soft and the hard limit are set to N. Raising the hard limit needs
privileges (root or CAP_SYS_RESOURCE); without them the soft limit goes as high as the hard one
allows and one line says what to change instead.
"""

from __future__ import annotations

import resource


def set_open_files(wanted: int) -> str | None:
    """Set RLIMIT_NOFILE to `wanted`; None, or one line saying why the limit is lower."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        return None
    except (ValueError, OSError):
        pass
    granted = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (granted, hard))
    except (ValueError, OSError) as exc:
        return f"max-fd {wanted}: cannot set the open-file limit ({exc}); the inherited one stays"
    return (
        f"max-fd {wanted}: the hard limit is {hard} and only root can raise it; the limit is "
        f"{granted} (raise LimitNOFILE= in the systemd unit or ulimit -Hn instead)"
    )
