"""Static locations: a file under the location's directory, sent with sendfile.

This is the front's minimal file path (GET and HEAD, a length, a type, an ETag-free
Last-Modified, `expires`); usher's static-file handler (conditional and range requests,
precompressed files) replaces it where it is available. The path is safe by construction: the
request path was decoded and its dot segments resolved (usher.front.routing.decoded_path), and
the file's real path must still lie under the directory's, so symlinks cannot lead out of it.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from email.utils import formatdate

from usher.adapters.base import Exchange, Responder
from usher.front.model import Static
from usher.protocols.events import Request


def file_path(action: Static, prefix: str, path: str) -> str | None:
    """The file a request path names in a static location, or None when it is outside it."""
    rest = path[len(prefix) :] if action.alias else path
    root = os.path.realpath(action.directory)
    candidate = os.path.realpath(os.path.join(root, rest.lstrip("/")))
    if candidate != root and not candidate.startswith(root.rstrip("/") + "/"):
        return None
    if os.path.isdir(candidate):
        for name in action.index:
            index = os.path.join(candidate, name)
            if os.path.isfile(index):
                return index
        return None
    return candidate


class FileExchange:
    """Sends one open file, then closes it."""

    __slots__ = ("fd", "headers", "out", "size")

    def __init__(
        self, responder: Responder, fd: int, size: int, headers: list[tuple[str, str]]
    ) -> None:
        self.out = responder
        self.fd = fd
        self.size = size
        self.headers = headers

    def receive_data(self, data: bytes) -> None:
        pass

    def receive_end(self) -> None:
        out = self.out
        out.send_head("200 OK", self.headers, self.size)
        out.send_file(self.fd, 0, self.size)
        if not out.paused:
            self.resume()

    def resume(self) -> None:
        self.out.finish()
        self.release()

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Refused:
    """A fixed small answer (404, 405) for a static location."""

    __slots__ = ("code", "out")

    def __init__(self, responder: Responder, code: int) -> None:
        self.out = responder
        self.code = code

    def receive_data(self, data: bytes) -> None:
        pass

    def receive_end(self) -> None:
        status = "404 Not Found" if self.code == 404 else "405 Method Not Allowed"
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if self.code == 405:
            headers.append(("Allow", "GET, HEAD"))
        self.out.send_whole(status, headers, status[4:].lower().encode() + b"\n")

    def resume(self) -> None:
        pass

    def release(self) -> None:
        pass


def serve_file(
    responder: Responder, request: Request, action: Static, prefix: str, path: str
) -> Exchange:
    """The exchange answering `request` from a static location."""
    if request.method not in ("GET", "HEAD"):
        return Refused(responder, 405)
    found = file_path(action, prefix, path)
    if found is None:
        return Refused(responder, 404)
    try:
        fd = os.open(found, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return Refused(responder, 404)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return Refused(responder, 404)
    kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
    headers = [("Content-Type", kind), ("Last-Modified", formatdate(info.st_mtime, usegmt=True))]
    if action.expires is not None:
        headers.append(("Cache-Control", f"max-age={int(action.expires)}"))
    return FileExchange(responder, fd, info.st_size, headers)
