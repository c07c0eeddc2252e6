"""The option table's section of static files (see usher.options.settings and
usher.adapters.static). uWSGI's names and meanings; `charset` is usher's own."""

from __future__ import annotations

import dataclasses
import re

from usher.options.errors import InvalidValue
from usher.options.groups import STATIC
from usher.options.spec import option


def check_static_map(text: str) -> None:
    """`/prefix=path`: a URL prefix starting with / and a directory (or file) to serve it from."""
    prefix, equals, path = text.partition("=")
    if not equals or not prefix.startswith("/") or not path.strip() or "\0" in text:
        raise InvalidValue(
            f"{text!r} is not /PREFIX=DIRECTORY", "write e.g. static-map = /static=/srv/app/static"
        )


def check_regexp_seconds(text: str) -> None:
    """`REGEXP SECONDS`, as uWSGI's static-expires family takes it."""
    pattern, _, seconds = text.rpartition(" ")
    if not pattern.strip() or not seconds.isdigit():
        raise InvalidValue(
            f"{text!r} is not REGEXP SECONDS", "write e.g. static-expires = \\.css$ 86400"
        )
    try:
        re.compile(pattern.strip())
    except re.error as exc:
        raise InvalidValue(
            f"{pattern.strip()!r} is not a regular expression: {exc}", "fix the pattern"
        ) from None


def check_type_seconds(text: str) -> None:
    """`TYPE=SECONDS`, as uWSGI's static-expires-type takes it."""
    kind, equals, seconds = text.partition("=")
    if not equals or not kind.strip() or not seconds.strip().isdigit():
        raise InvalidValue(
            f"{text!r} is not MIME-TYPE=SECONDS", "write e.g. static-expires-type = text/css=86400"
        )


def check_regexp(text: str) -> None:
    try:
        re.compile(text)
    except re.error as exc:
        raise InvalidValue(
            f"{text!r} is not a regular expression: {exc}", "fix the pattern"
        ) from None


def check_charset(text: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._-]*", text):
        raise InvalidValue(f"{text!r} is not a charset name", "write e.g. charset = utf-8")


_EXPIRES = (
    " The first matching static-expires* rule sets the Expires header (uWSGI's order: filename, "
    "PATH_INFO, REQUEST_URI, then content type)."
)


@dataclasses.dataclass(frozen=True)
class StaticOptions:
    """Static files served from the worker's event loop (usher.adapters.static)."""

    static_map: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_static_map,
        metavar="/PREFIX=DIR",
        help="Serve the files under DIR at /PREFIX (a file: at exactly /PREFIX). Maps are "
        "searched in order; a request no file answers goes on to the app.",
    )
    static_map2: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_static_map,
        metavar="/PREFIX=DIR",
        help="As static-map, but the whole request path is appended to DIR (/PREFIX/a.css is "
        "DIR/PREFIX/a.css).",
    )
    check_static: tuple[str, ...] = option(
        (),
        aliases=("static-check",),
        group=STATIC,
        repeatable=True,
        metavar="DIR",
        help="Serve DIR + the request path when such a file exists (a document root), before "
        "the static maps.",
    )
    static_index: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        metavar="NAME",
        help="For a directory, serve the first of these files it holds (index.html).",
    )
    static_safe: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        metavar="DIR",
        help="A file a symlink leads to may be served when it is under DIR, outside the mapped "
        "directory (which is otherwise refused).",
    )
    static_skip_ext: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        metavar="EXT",
        help="Never serve a path ending with EXT as a static file (.py, .pyc): the app gets it.",
    )
    static_gzip_all: bool = option(
        False,
        group=STATIC,
        help="For every static file, serve a precompressed FILE.br or FILE.gz beside it when the "
        "client accepts that encoding (the smallest such), with Vary: Accept-Encoding.",
    )
    static_gzip_dir: tuple[str, ...] = option(
        (),
        aliases=("static-gzip-prefix",),
        group=STATIC,
        repeatable=True,
        metavar="DIR",
        help="As static-gzip-all, for the files whose real path starts with DIR.",
    )
    static_gzip_ext: tuple[str, ...] = option(
        (),
        aliases=("static-gzip-suffix",),
        group=STATIC,
        repeatable=True,
        metavar="EXT",
        help="As static-gzip-all, for the files whose name ends with EXT.",
    )
    static_gzip: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp,
        metavar="REGEXP",
        help="As static-gzip-all, for the files whose real path matches REGEXP.",
    )
    static_expires: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: now + SECONDS for the files whose real path matches REGEXP." + _EXPIRES,
    )
    static_expires_mtime: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: the file's mtime + SECONDS for the files whose real path matches REGEXP.",
    )
    static_expires_path_info: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: now + SECONDS when the request's PATH_INFO matches REGEXP.",
    )
    static_expires_path_info_mtime: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: the file's mtime + SECONDS when PATH_INFO matches REGEXP.",
    )
    static_expires_uri: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: now + SECONDS when the REQUEST_URI (path and query) matches REGEXP.",
    )
    static_expires_uri_mtime: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_regexp_seconds,
        metavar="REGEXP SECONDS",
        help="Expires: the file's mtime + SECONDS when REQUEST_URI matches REGEXP.",
    )
    static_expires_type: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_type_seconds,
        metavar="TYPE=SECONDS",
        help="Expires: now + SECONDS for the files of this content type (text/css=86400).",
    )
    static_expires_type_mtime: tuple[str, ...] = option(
        (),
        group=STATIC,
        repeatable=True,
        check=check_type_seconds,
        metavar="TYPE=SECONDS",
        help="Expires: the file's mtime + SECONDS for the files of this content type.",
    )
    mime_file: tuple[str, ...] = option(
        (),
        aliases=("mimefile",),
        group=STATIC,
        repeatable=True,
        metavar="PATH",
        help="Read content types from this mime.types file instead of /etc/mime.types (usher's "
        "built-in table of web types applies under either).",
    )
    charset: str = option(
        "",
        group=STATIC,
        check=check_charset,
        metavar="NAME",
        help="Add '; charset=NAME' to the Content-Type of static text files (text/*, JavaScript, "
        "JSON, XML), as nginx's charset directive does. usher's own option.",
    )
