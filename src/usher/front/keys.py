"""What a balancing policy knows of a request, and nginx's variables for a hash key.

`hash $request_uri`, `hash $cookie_user$arg_v`: the key is a template of nginx variables, each
expanded from `RequestInfo` as nginx expands it (an unknown or absent variable is empty). Only
the variables a balancing key is written with are known here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The parts of a request the policies read; built by the proxy handler."""

    client: str = ""  # the client's address, after the trusted-proxy rules (nginx's realip)
    method: str = "GET"
    target: str = "/"  # the request target as received: path and query ($request_uri)
    host: str = ""
    scheme: str = "http"
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The target's query, without the `?`."""
        return self.target.partition("?")[2]

    def cookie(self, name: str) -> str:
        """The value of cookie `name`, or "" (a malformed Cookie header has none)."""
        raw = self.headers.get("cookie", "")
        if not raw:
            return ""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return ""
        morsel = jar.get(name)
        return morsel.value if morsel is not None else ""

    def argument(self, name: str) -> str:
        """The first `name=` argument of the query, undecoded as nginx's $arg_NAME."""
        for pair in self.query.split("&"):
            key, _, value = pair.partition("=")
            if key == name:
                return value
        return ""


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _variable(info: RequestInfo, name: str) -> str:
    simple = {
        "request_uri": info.target,
        "uri": info.path,
        "args": info.query,
        "query_string": info.query,
        "remote_addr": info.client,
        "host": info.host,
        "scheme": info.scheme,
        "request_method": info.method,
    }
    if name in simple:
        return simple[name]
    for prefix, lookup in (
        ("cookie_", info.cookie),
        ("arg_", info.argument),
        ("http_", lambda n: info.headers.get(n.replace("_", "-").lower(), "")),
    ):
        if name.startswith(prefix):
            return lookup(name[len(prefix) :])
    return ""


def expand(template: str, info: RequestInfo) -> bytes:
    """The template with each `$name` (or `${name}`) replaced by the request's value."""
    text = _VARIABLE.sub(lambda m: _variable(info, m.group(1) or m.group(2)), template)
    return text.encode("latin-1", "replace")


def header_names(template: str) -> list[str]:
    """The request headers a template reads (`$http_x_user` reads `x-user`), lower-cased."""
    names = []
    for match in _VARIABLE.finditer(template):
        name = match.group(1) or match.group(2)
        if name.startswith("http_"):
            names.append(name[5:].replace("_", "-").lower())
    return names
