"""The server arguments a front runs with: its listeners and limits in usher's own options.

The master and workers are usher's, so the front's [front] section becomes the options they
read (`--http-socket` per listen address, `--processes`, the head and body limits and the client
timeouts); this module only spells them, the option table reads them.
"""

from __future__ import annotations

from usher.front.model import Front


def server_arguments(front: Front) -> list[str]:
    """usher's command-line options for the front's master and workers."""
    args = ["--master", "--processes", str(front.processes)]
    for address in front.listens():
        args += ["--http-socket", str(address)]
    limits = front.limits
    args += ["--buffer-size", str(limits.client_header_buffer_size)]
    args += ["--limit-post", str(limits.client_max_body_size)]
    args += ["--socket-timeout", str(max(1, round(limits.client_body_timeout)))]
    args += ["--http-timeout", str(max(1, round(limits.keepalive_timeout)))]
    if front.stats:
        args += ["--stats", front.stats]
    if not front.access_log:
        args.append("--disable-logging")
    return args
