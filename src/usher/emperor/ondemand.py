"""Socket activation of vassals: the emperor binds the socket, the vassal gets it at first use.

With emperor-on-demand-directory DIR, app.ini's socket is the unix socket DIR/app.socket; with
emperor-on-demand-extension EXT, its address is the first line of app.iniEXT (a unix path or a
host:port), as in uWSGI. Until a client connects, only the emperor's socket exists: the
connection waits in the kernel's queue while the vassal starts and adopts the socket.
"""

from __future__ import annotations

import os
import socket

from usher.sockets import ListenerError, bind

# The queue of a socket nobody accepts from yet: uWSGI's default listen queue.
BACKLOG = 100


def on_demand_address(config: str, directory: str | None, extension: str | None) -> str | None:
    """The socket address of the vassal configured by `config`, or None (not on demand)."""
    if directory:
        name = os.path.splitext(os.path.basename(config))[0]
        return os.path.join(directory, f"{name}.socket")
    if extension:
        try:
            with open(config + extension) as handle:
                return handle.readline().strip() or None
        except OSError:
            return None
    return None


def bind_on_demand(address: str) -> socket.socket:
    """Bind and listen on `address`; ListenerError (one line) when that is impossible."""
    # The protocol spoken on it is the vassal's business: this only holds the socket.
    listener = bind("uwsgi", address, backlog=BACKLOG, chmod=None)
    return listener.sock


__all__ = ["BACKLOG", "ListenerError", "bind_on_demand", "on_demand_address"]
