"""Static locations: the front answers them with usher's static-file handler
(usher.adapters.static), so a front's files get what an app server's static-map gets: ETag and
Last-Modified, conditional and range requests, precompressed siblings, immutable hashed names,
and the same path safety (no dot segments or NUL, no symlink out of the directory).

nginx's two forms map onto static-map's two: `alias DIR` replaces the location's prefix
(static-map), `root DIR` prefixes the whole path (static-map2). `expires` becomes an Expires
header and `Cache-Control: max-age`, as nginx's `expires` does.
"""

from __future__ import annotations

import os
import re

from usher.adapters.base import Exchange, Responder
from usher.adapters.static import StaticExchange
from usher.adapters.static_files import Expiry, StaticConfig, StaticFiles
from usher.adapters.static_paths import StaticMap
from usher.adapters.static_types import DEFAULT_FILE, load_types
from usher.front.model import Static
from usher.protocols.events import Request

_EVERY_FILE = re.compile(b"")


def static_files(action: Static, prefix: str) -> StaticFiles:
    """The lookup of one static location (built once per worker)."""
    root = os.path.realpath(action.directory).encode()
    if action.alias:
        static_map = StaticMap(prefix.rstrip("/").encode(), root, append=False)
    else:
        static_map = StaticMap(b"", root, append=True)
    seconds = None if action.expires is None else int(action.expires)
    expiries = () if seconds is None else (Expiry(_EVERY_FILE, "", seconds, False, "file"),)
    config = StaticConfig(
        maps=(static_map,),
        index=tuple(name.encode() for name in action.index),
        safe=(),
        skip_ext=(),
        gzip_all=False,
        gzip_dirs=(),
        gzip_exts=(),
        gzip_patterns=(),
        expiries=expiries,
        types=load_types((DEFAULT_FILE,)),
        charset="",
        max_age=seconds,
    )
    return StaticFiles(config)


def serve_file(responder: Responder, request: Request, files: StaticFiles) -> Exchange | None:
    """The exchange answering `request` from a static location, None when no file answers."""
    found = files.lookup(request.path)
    if found is None:
        return None
    return StaticExchange(files, request, responder, found)
