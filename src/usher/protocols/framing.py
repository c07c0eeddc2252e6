"""How a response is framed: from the app's status and headers to the head and the body's rules.

Pure decisions, shared by both listeners:

- the app's Content-Length beats the length usher measured; without either, an HTTP/1.1 client
  gets a chunked body and any other client a body that ends with the connection;
- a 1xx, 204 or 304 status, or a HEAD request, sends no body;
- the app's hop-by-hop headers (``Connection``, ``Transfer-Encoding``, ``Keep-Alive``) are
  dropped, because usher frames the response itself; ``Connection: close`` from the app is
  honoured.

An app answers most requests with the same few heads (hello world, a health check, a JSON API
with a fixed length), so the worker keeps the plans of recent heads in a `PlanCache`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

from usher.protocols.response import HeadTemplate, head_template

# Headers that describe this hop's framing: usher frames the response itself, so an app's copies
# would contradict it. `Connection: close` from the app is honoured; the rest are dropped.
_HOP_BY_HOP: Final = frozenset(("connection", "transfer-encoding", "keep-alive"))

# Distinct heads remembered per worker. Heads that vary per response (a cookie, a length) would
# otherwise grow it without bound; when full it starts over, which costs one re-plan per head.
PLAN_CACHE_SIZE: Final = 256


class ResponsePlan:
    """The framing of one kind of response: its head (less the date) and how its body goes."""

    __slots__ = ("body_allowed", "chunked", "header_count", "keep_alive", "remaining", "template")

    def __init__(
        self,
        template: HeadTemplate,
        *,
        body_allowed: bool,
        remaining: int | None,
        chunked: bool,
        keep_alive: bool,
        header_count: int,
    ) -> None:
        self.template = template
        self.body_allowed = body_allowed
        self.remaining = remaining  # body bytes the head announces; None when not announced
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.header_count = header_count

    def fit(self, body: bytes) -> bytes:
        """A whole body as this plan sends it: nothing where the status or the method allows no
        body, and never more than the length the head announces (the surplus would be read as
        the next response). A shorter one is sent as it is: only closing tells the client."""
        if not self.body_allowed:
            return b""
        remaining = self.remaining
        if remaining is not None and len(body) > remaining:
            return body[:remaining]
        return body


class Prepared:
    """A whole response framed once for one shape of request, to be written again and again:
    its plan, the head's bytes before the Date and, after it, the rest of the head with the body
    (none where the plan allows none). A worker's cached small file is answered with one of
    these: one concatenation per request instead of a plan and a render."""

    __slots__ = (
        "after", "before", "body", "body_bytes", "headers", "keep_alive", "plan", "status",
    )  # fmt: skip

    def __init__(
        self, status: str, headers: list[tuple[str, str]], body: bytes, plan: ResponsePlan
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.plan = plan
        self.keep_alive = plan.keep_alive
        body = plan.fit(body)
        if plan.body_allowed and plan.remaining is not None and len(body) < plan.remaining:
            self.keep_alive = False  # fewer bytes than the head announces: only closing tells
        self.body_bytes = len(body)
        template = plan.template
        after = template.after
        if after is None:  # a Date of its own: nothing goes between
            self.before, self.after = b"", template.before + body
        else:
            self.before, self.after = template.before, after + body


def plan_response(
    status: str,
    headers: list[tuple[str, str]],
    length: int | None,
    *,
    method: str,
    http_version: str,
    keep_alive: bool,
    uwsgi: bool,
    server: bytes,
) -> ResponsePlan:
    """Frame a response. `length` is the body size when usher knows it; `keep_alive` is what the
    request asked for; `uwsgi` says the response goes back over the uwsgi protocol, to a front
    server that reads it until the connection closes (so no chunked body) and gives its client
    its own Date and Server (so usher sends neither, nor a Connection header: the head is the
    app's status and headers, as uWSGI's is).

    Raises ValueError for an invalid Content-Length or a CR/LF in the status or a header.
    """
    code = status[:3]
    status_has_body = code not in ("204", "304") and code[0] != "1"
    body_allowed = status_has_body and method != "HEAD"
    # One pass over the app's headers: its Content-Length beats the length usher measured.
    strip = False
    declared = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            length = content_length(value)
            declared = True
        elif lowered in _HOP_BY_HOP:
            strip = True
    if strip:
        kept = []
        for name, value in headers:
            lowered = name.lower()
            if lowered not in _HOP_BY_HOP:
                kept.append((name, value))
            elif lowered == "connection" and "close" in value.lower():
                keep_alive = False
        headers = kept
    if length is not None and not declared and status_has_body:
        # usher measured the body: say so, or the client could not tell where it ends.
        headers = [*headers, ("Content-Length", str(length))]
    chunked = False
    if length is None and body_allowed:
        if http_version == "1.1" and not uwsgi:
            chunked = True
        else:
            # No length and no chunked framing: the end of the body is the end of the connection.
            keep_alive = False
    template = head_template(
        status,
        headers,
        http_version=http_version,
        keep_alive=keep_alive,
        chunked=chunked,
        server=None if uwsgi else server,
    )
    return ResponsePlan(
        template,
        body_allowed=body_allowed,
        remaining=length,
        chunked=chunked,
        keep_alive=keep_alive,
        header_count=len(headers),
    )


def content_length(value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"the app sent an invalid Content-Length: {value!r}")
    return int(value)


class PlanCache:
    """Plans of recent response heads, keyed by everything `plan_response` reads."""

    __slots__ = ("plans", "server")

    def __init__(self, server: bytes) -> None:
        self.server = server
        self.plans: dict[Hashable, ResponsePlan] = {}

    def plan(
        self,
        status: str,
        headers: list[tuple[str, str]],
        length: int | None,
        *,
        method: str,
        http_version: str,
        keep_alive: bool,
        uwsgi: bool,
    ) -> ResponsePlan:
        head = method == "HEAD"
        try:
            key: Hashable = (
                status, tuple(headers), length, http_version, keep_alive, head, uwsgi,
            )  # fmt: skip
            plan = self.plans.get(key)
        except TypeError:  # headers that are not tuples of strings: planned, never cached
            key, plan = None, None
        if plan is not None:
            return plan
        plan = plan_response(
            status,
            headers,
            length,
            method=method,
            http_version=http_version,
            keep_alive=keep_alive,
            uwsgi=uwsgi,
            server=self.server,
        )
        if key is not None:
            if len(self.plans) >= PLAN_CACHE_SIZE:
                self.plans.clear()
            self.plans[key] = plan
        return plan
