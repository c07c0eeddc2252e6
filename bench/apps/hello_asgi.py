"""The hello-world ASGI 3 app every server in the ASGI rows serves (the WSGI hello's twin)."""

from collections.abc import Awaitable, Callable
from typing import Any

BODY = b"Hello, World!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())],
}
RESPONSE = {"type": "http.response.body", "body": BODY}


async def application(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Answer every HTTP request with the same 13-byte body; no lifespan."""
    if scope["type"] != "http":
        return
    await send(START)
    await send(RESPONSE)
