"""The hello-world WSGI app every server in the benchmark serves."""

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"Hello, World!"
HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Length", str(len(BODY))),
]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer every request with the same 13-byte body."""
    start_response("200 OK", HEADERS)
    return [BODY]
