"""The static files a worker serves: the configuration read once from the options, and the
lookup of a request path (the file-system side: real paths, stat, index files, precompressed
siblings). What to answer from a found file is usher.adapters.static's business.

Lookups are cached per worker: a request path's real path (symlinks resolved, checked to lie in
its map) for one second, so a busy file costs one stat per request, and a small file's bytes,
checked against that stat (inode, size, mtime) on every request, so a deploy that replaces a
file is seen at once.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

from usher.adapters.static_paths import (
    StaticMap,
    docroot_map,
    is_safe,
    parse_map,
    skipped,
    within,
)
from usher.adapters.static_types import DEFAULT_FILE, FALLBACK, extension, load_types, with_charset
from usher.protocols.conditional import etag_of, http_date
from usher.protocols.events import PERCENT, unescaped_path
from usher.protocols.framing import Prepared

# Django's ManifestStaticFilesStorage names a file name.<first 12 hex of its md5>.ext: its content
# never changes under that name, so it may be cached for a year (RFC 8246 immutable).
HASHED_NAME: Final = re.compile(rb"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
IMMUTABLE: Final = "max-age=31536000, public, immutable"

# How long a request path's resolution (real path, map checks) is trusted: one second, as the
# Date header; file contents and sizes are checked on every request regardless.
RESOLVE_TTL: Final = 1.0
# Per worker, bounded: paths come from clients, so both caches start over when full.
RESOLVED_MAX: Final = 1024
# Files up to this size are read once and answered with one write; larger ones go by sendfile.
SMALL_FILE: Final = 32 << 10
# The small files' bytes kept per worker, their prepared responses included; past it the caches
# start over.
CACHED_BYTES_MAX: Final = 8 << 20


@dataclass(frozen=True, slots=True)
class Expiry:
    """One static-expires* rule: the Expires header when `pattern` (or the type) matches."""

    pattern: re.Pattern[bytes] | None
    content_type: str
    seconds: int
    from_mtime: bool
    subject: str  # "file", "path", "uri", "type"


@dataclass(frozen=True, slots=True)
class StaticConfig:
    """What the static-file options ask for, read once."""

    maps: tuple[StaticMap, ...]
    index: tuple[bytes, ...]
    safe: tuple[bytes, ...]
    skip_ext: tuple[bytes, ...]
    gzip_all: bool
    gzip_dirs: tuple[bytes, ...]
    gzip_exts: tuple[bytes, ...]
    gzip_patterns: tuple[re.Pattern[bytes], ...]
    expiries: tuple[Expiry, ...]
    types: dict[str, str] = field(repr=False)
    charset: str
    # nginx's `expires` in a front's static location: Cache-Control max-age beside Expires.
    max_age: int | None = None


def config_from_settings(settings: Any) -> StaticConfig | None:
    """The static configuration, or None when no static-map, static-map2 or check-static is
    set (then nothing of static files is on a request's path)."""
    maps = (
        *(docroot_map(d) for d in settings.check_static),
        *(parse_map(m, append=False) for m in settings.static_map),
        *(parse_map(m, append=True) for m in settings.static_map2),
    )
    if not maps:
        return None
    return StaticConfig(
        maps=tuple(_real_map(m) for m in maps),
        index=tuple(name.encode() for name in settings.static_index),
        safe=tuple(os.path.realpath(d.encode()) for d in settings.static_safe),
        skip_ext=tuple(ext.encode() for ext in settings.static_skip_ext),
        gzip_all=settings.static_gzip_all,
        gzip_dirs=tuple(os.path.realpath(d.encode()) for d in settings.static_gzip_dir),
        gzip_exts=tuple(ext.encode() for ext in settings.static_gzip_ext),
        gzip_patterns=tuple(re.compile(p.encode()) for p in settings.static_gzip),
        expiries=_expiries(settings),
        types=load_types(settings.mime_file or (DEFAULT_FILE,)),
        charset=settings.charset,
    )


def _real_map(m: StaticMap) -> StaticMap:
    # Resolved once, as uWSGI does: the containment check compares real paths.
    return StaticMap(m.prefix, os.path.realpath(m.root), m.append)


def _expiries(settings: Any) -> tuple[Expiry, ...]:
    rules: list[Expiry] = []
    for subject, name in (("file", "static_expires"), ("path", "static_expires_path_info"),
                          ("uri", "static_expires_uri")):  # fmt: skip
        for from_mtime in (False, True):
            for text in getattr(settings, name + ("_mtime" if from_mtime else "")):
                pattern, _, seconds = text.rpartition(" ")
                regexp = re.compile(pattern.strip().encode())
                rules.append(Expiry(regexp, "", int(seconds), from_mtime, subject))
    for from_mtime in (False, True):
        name = "static_expires_type" + ("_mtime" if from_mtime else "")
        for text in getattr(settings, name):
            kind, _, seconds = text.partition("=")
            rules.append(Expiry(None, kind.strip(), int(seconds.strip()), from_mtime, "type"))
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file a request path leads to, with what its responses say, computed once per
    version of the file (`key`: mtime, inode, size)."""

    real: bytes  # its real path
    name: bytes  # the decoded request path (for static-expires-path-info, the hashed name)
    st: os.stat_result
    key: tuple[int, int, int]  # mtime in ns, inode, size
    content_type: str
    gzip: bool  # precompressed siblings may be looked for
    etag: str
    last_modified: str
    immutable: bool  # a hashed name: Cache-Control immutable
    headers: list[tuple[str, str]]  # a 200's headers, less Expires and Vary
    body: bytes | None  # a small file's bytes, None for a file sent by sendfile
    # A small file's 200, framed by a responder once per shape of request (usher.adapters
    # .static): a handful of shapes (HTTP version x keep-alive x GET/HEAD x listener protocol).
    # None where the answer depends on more (a file that may have precompressed siblings, or
    # one sent by sendfile).
    prepared: dict[Hashable, Prepared] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Redirect:
    """A directory asked for without its trailing slash: 301 to `location`."""

    location: str


class Refused:
    """A path that must not reach the file system (NUL, `..`): 400."""

    __slots__ = ()


REFUSED: Final = Refused()
Lookup = Found | Redirect | Refused | None


class StaticFiles:
    """The static files of one worker: the configuration and its cache of lookups."""

    __slots__ = ("cached_bytes", "config", "prefixes", "resolved")

    def __init__(self, config: StaticConfig) -> None:
        self.config = config
        # request path -> (the file it led to, until when the resolution is trusted)
        self.resolved: dict[bytes, tuple[Found, float]] = {}
        self.cached_bytes = 0
        # The maps' prefixes, for the app's requests to be told apart in one call; None when a
        # document root (check-static) takes every path.
        prefixes = tuple(m.prefix for m in config.maps)
        self.prefixes: tuple[bytes, ...] | None = None if b"" in prefixes else prefixes

    def lookup(self, raw_path: bytes) -> Lookup:
        """What a request path leads to: a file, a redirect, a refusal, or None (a miss: the
        app answers)."""
        prefixes = self.prefixes
        if prefixes is not None and not raw_path.startswith(prefixes) and PERCENT not in raw_path:
            return None  # the app's request (an encoded path is decoded below first)
        cached = self.resolved.get(raw_path)
        now = time.monotonic()
        if cached is not None:
            found, until = cached
            if until > now:
                # One stat per request, as nginx without open_file_cache: a replaced file is
                # seen by its next request.
                try:
                    st = os.stat(found.real)
                except OSError:
                    pass
                else:
                    if (st.st_mtime_ns, st.st_ino, st.st_size) == found.key:
                        return found
            self._forget(raw_path)
        config = self.config
        path = unescaped_path(raw_path)  # %2e%2e is `..` here
        candidates = [(m, c) for m in config.maps if (c := m.candidate(path)) is not None]
        if not candidates:
            return None  # no map takes it: the app's business
        if not is_safe(path):
            # Under a map's prefix only clients forging paths send these; a document root
            # (check-static) takes every path, and the app may answer those.
            return REFUSED if any(m.prefix for m, _ in candidates) else None
        if skipped(path, config.skip_ext):
            return None
        for static_map, candidate in candidates:
            answer = self._resolve(static_map, candidate, path, raw_path, now)
            if answer is not None:
                return answer
        return None

    def _forget(self, raw_path: bytes) -> None:
        found = self.resolved.pop(raw_path)[0]
        if found.body is not None:
            self.cached_bytes -= len(found.body)
        if found.prepared:
            self.cached_bytes -= sum(len(prepared.after) for prepared in found.prepared.values())

    def _resolve(
        self, static_map: StaticMap, candidate: bytes, path: bytes, raw_path: bytes, now: float
    ) -> Found | Redirect | None:
        config = self.config
        real = os.path.realpath(candidate)
        if not within(real, static_map.root) and not any(within(real, d) for d in config.safe):
            return None  # a symlink out of the map: refused, as uWSGI refuses it
        try:
            st = os.stat(real)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            index = self._index(real)
            if index is None:
                return None
            if not path.endswith(b"/"):
                return Redirect((raw_path + b"/").decode("latin-1"))
            real, st = index
        elif not stat.S_ISREG(st.st_mode):
            return None
        if skipped(real, config.skip_ext):
            return None
        found = self._found(real, path, st)
        if len(self.resolved) >= RESOLVED_MAX or self.cached_bytes > CACHED_BYTES_MAX:
            self.resolved.clear()
            self.cached_bytes = 0
        self.resolved[raw_path] = (found, now + RESOLVE_TTL)
        if found.body is not None:
            self.cached_bytes += len(found.body)
        return found

    def _index(self, directory: bytes) -> tuple[bytes, os.stat_result] | None:
        for name in self.config.index:
            real = os.path.join(directory, name)
            try:
                st = os.stat(real)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                return real, st
        return None

    def _found(self, real: bytes, name: bytes, st: os.stat_result) -> Found:
        config = self.config
        kind = config.types.get(extension(real.decode("utf-8", "replace")), FALLBACK)
        content_type = with_charset(kind, config.charset)
        mtime = int(st.st_mtime)
        etag, last_modified = etag_of(mtime, st.st_size), http_date(mtime)
        immutable = is_hashed(name)
        gzip, body = self._gzip(real), small_body(real, st)
        headers = [("Content-Type", content_type), ("ETag", etag), ("Last-Modified", last_modified)]
        if immutable:
            headers.append(("Cache-Control", IMMUTABLE))
        headers.append(("Accept-Ranges", "bytes"))
        return Found(
            real, name, st, (st.st_mtime_ns, st.st_ino, st.st_size), content_type,
            gzip, etag, last_modified, immutable, headers, body,
            None if body is None or gzip else {},
        )  # fmt: skip

    def _gzip(self, real: bytes) -> bool:
        config = self.config
        if config.gzip_all:
            return True
        if any(real.startswith(d) for d in config.gzip_dirs):
            return True
        if config.gzip_exts and real.endswith(config.gzip_exts):
            return True
        return any(p.search(real) for p in config.gzip_patterns)


def small_body(real: bytes, st: os.stat_result) -> bytes | None:
    """A small file's bytes; None for a larger file, or one changing or unreadable now (it is
    then sent by sendfile, which copes with either)."""
    if st.st_size > SMALL_FILE:
        return None
    try:
        with open(real, "rb") as f:
            data = f.read(SMALL_FILE + 1)
    except OSError:
        return None
    return data if len(data) == st.st_size else None


def variant_of(found: Found, codings: tuple[str, ...]) -> tuple[bytes, os.stat_result, str] | None:
    """The smallest precompressed sibling (FILE.br, FILE.gz) of a coding in `codings`."""
    best: tuple[bytes, os.stat_result, str] | None = None
    for coding in codings:
        sibling = found.real + (b".br" if coding == "br" else b".gz")
        try:
            st = os.stat(sibling)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (best is None or st.st_size < best[1].st_size):
            best = (sibling, st, coding)
    return best


def has_variant(found: Found) -> bool:
    """A precompressed sibling exists (responses then vary by Accept-Encoding)."""
    return any(os.path.isfile(found.real + suffix) for suffix in (b".br", b".gz"))


def is_hashed(name: bytes) -> bool:
    """A name of Django's ManifestStaticFilesStorage (name.0123456789ab.css)."""
    return HASHED_NAME.search(name) is not None


def expires(config: StaticConfig, found: Found, uri: bytes, now: float) -> float | None:
    """The Expires time of the first static-expires* rule that matches, None without one."""
    for rule in config.expiries:
        if rule.subject == "type":
            hit = found.content_type.partition(";")[0] == rule.content_type
        else:
            assert rule.pattern is not None
            subject = (
                found.real
                if rule.subject == "file"
                else found.name
                if (rule.subject == "path")
                else uri
            )
            hit = rule.pattern.search(subject) is not None
        if hit:
            return (found.st.st_mtime if rule.from_mtime else now) + rule.seconds
    return None
