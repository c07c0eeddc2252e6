"""Content types of static files by extension: a built-in table of the web's types, then a
mime.types file (uWSGI's mime-file, /etc/mime.types by default) over it.

A slim container often has no /etc/mime.types, and uWSGI then serves every file with no
Content-Type; the built-in table keeps CSS, JavaScript, fonts and images right there too.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_FILE = "/etc/mime.types"
FALLBACK = "application/octet-stream"

_BUILT_IN = {
    "html": "text/html", "htm": "text/html", "css": "text/css", "txt": "text/plain",
    "csv": "text/csv", "md": "text/markdown", "xml": "application/xml",
    "js": "text/javascript", "mjs": "text/javascript", "json": "application/json",
    "map": "application/json", "webmanifest": "application/manifest+json",
    "wasm": "application/wasm", "pdf": "application/pdf", "zip": "application/zip",
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "avif": "image/avif", "svg": "image/svg+xml",
    "ico": "image/vnd.microsoft.icon", "woff": "font/woff", "woff2": "font/woff2",
    "ttf": "font/ttf", "otf": "font/otf", "eot": "application/vnd.ms-fontobject",
    "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg",
    "wav": "audio/wav",
}  # fmt: skip

# Types whose text takes the `charset` option, as nginx's charset_types (plus JSON).
_TEXT_TYPES = frozenset(
    ("application/javascript", "application/json", "application/xml", "application/rss+xml",
     "application/manifest+json", "image/svg+xml")
)  # fmt: skip

# A mime.types file larger than this is not one: it is read whole at startup.
_FILE_MAX = 4 << 20


def parse_mime_types(text: str) -> dict[str, str]:
    """`type ext ext...` lines, as /etc/mime.types has them ('#' starts a comment)."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        words = line.partition("#")[0].split()
        if len(words) >= 2 and "/" in words[0]:
            for ext in words[1:]:
                table[ext.lower()] = words[0]
    return table


def load_types(files: Iterable[str]) -> dict[str, str]:
    """The built-in table with each readable mime.types file's entries over it."""
    table = dict(_BUILT_IN)
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(_FILE_MAX)
        except OSError:
            continue  # uWSGI too goes on without a missing mime file
        table.update(parse_mime_types(text))
    # The web's current names win over older ones a system file may hold (application/javascript
    # and image/x-icon in Debian's): browsers treat both alike, and so do tests comparing servers.
    table["js"] = _BUILT_IN["js"]
    return table


def extension(name: str) -> str:
    """The lower-cased extension after the last dot of a file name, '' without one."""
    dot = name.rfind(".")
    if dot < 0 or "/" in name[dot:]:
        return ""
    return name[dot + 1 :].lower()


def with_charset(content_type: str, charset: str) -> str:
    """`content_type; charset=...` for a text type when a charset is configured."""
    if charset and (content_type.startswith("text/") or content_type in _TEXT_TYPES):
        return f"{content_type}; charset={charset}"
    return content_type
