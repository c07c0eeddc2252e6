"""Where a request path leads on disk for static files, pure: the maps read from the options,
and the rules a path must pass before any file is looked at.

A map's prefix takes a path only on a segment boundary: `/static` takes `/static` and
`/static/app.css`, never `/static../settings.py` or `/staticfiles/x`, so nginx's alias
off-by-slash trap (`location /static { alias /srv/static/; }`) has no equivalent here. A path
whose percent-decoded form holds a NUL byte or a `..` segment is refused before it is joined
to any directory; the real path (symlinks resolved) must then still lie in the mapped directory
or under a static-safe one (usher.adapters.static_files).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StaticMap:
    """One place static files come from."""

    prefix: bytes  # the URL prefix, without a trailing slash ("" for check-static)
    root: bytes  # the directory or file, as configured
    append: bool  # the whole path is appended to root (static-map2, check-static)

    def candidate(self, path: bytes) -> bytes | None:
        """The file-system path for a decoded request `path`, None when this map does not
        take it. For a map onto a file, only the exact prefix is taken."""
        prefix = self.prefix
        if prefix:
            if not path.startswith(prefix):
                return None
            rest = path[len(prefix) :]
            if rest and rest[0] != 0x2F:  # "/": on a segment boundary only
                return None
        else:
            rest = path
        if self.append:
            return self.root + path
        return self.root + rest


def parse_map(text: str, *, append: bool) -> StaticMap:
    """A static-map or static-map2 value, `/prefix=path`."""
    prefix, _, root = text.partition("=")
    return StaticMap(prefix.rstrip("/").encode(), root.strip().rstrip("/").encode(), append)


def docroot_map(directory: str) -> StaticMap:
    """check-static: the whole request path under `directory`."""
    return StaticMap(b"", directory.rstrip("/").encode(), True)


def is_safe(path: bytes) -> bool:
    """False for a decoded path that must not reach the file system: one holding a NUL byte or
    a `.` or `..` segment, or not starting with '/'."""
    # 0 as an int, and find() for two bytes: `in` with a bytes operand costs a failed integer
    # conversion first (usher.protocols.events.unescaped_path).
    if not path.startswith(b"/") or 0 in path:
        return False
    if path.find(b"/.") >= 0:
        for segment in path.split(b"/"):
            if segment in (b".", b".."):
                return False
    return True


def within(real: bytes, directory: bytes) -> bool:
    """`real` is `directory` or lies under it (on a segment boundary: /srv/static does not
    contain /srv/static-private)."""
    return real == directory or real.startswith(directory.rstrip(b"/") + b"/")


def skipped(path: bytes, extensions: tuple[bytes, ...]) -> bool:
    """static-skip-ext: the path ends with one of these."""
    return bool(extensions) and path.endswith(extensions)
