"""The option table's section of ASGI apps (see usher.options.settings): usher's own names, for
what uWSGI never had; the names follow uvicorn's where it has one (root-path, proxy-headers,
forwarded-allow-ips), so a uvicorn command line translates word for word."""

from __future__ import annotations

import dataclasses
import ipaddress

from usher.options import values
from usher.options.errors import InvalidValue
from usher.options.groups import APP
from usher.options.spec import option

LIFESPAN_MODES = ("auto", "on", "off")

# `--asgi` without a value: force ASGI on the app that module or wsgi-file names.
ASGI_FLAG = "true"


def check_asgi(text: str) -> None:
    """`true` (the bare flag) or a module as `module` takes it."""
    if text != ASGI_FLAG:
        values.check_module(text)


def check_lifespan(text: str) -> None:
    """auto, on or off."""
    if text not in LIFESPAN_MODES:
        raise InvalidValue(
            f"{text!r} is not a lifespan mode", f"use one of {', '.join(LIFESPAN_MODES)}"
        )


def check_root_path(text: str) -> None:
    """Empty, or a path starting with a slash."""
    if text and not text.startswith("/"):
        raise InvalidValue(f"{text!r} is not a URL path", "write e.g. /api")


def check_allow_ips(text: str) -> None:
    """A comma-separated list of addresses or networks, or *."""
    for item in (part.strip() for part in text.split(",")):
        if item and item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise InvalidValue(
                    f"{item!r} is not an address or network", "write e.g. 127.0.0.1,10.0.0.0/8"
                ) from None


@dataclasses.dataclass(frozen=True)
class AsgiOptions:
    """ASGI apps: forcing the interface, the lifespan protocol and the scope."""

    # -- ASGI apps (usher.adapters.asgi, usher.adapters.lifespan) ------------------------------
    asgi: str | None = option(
        None,
        group=APP,
        check=check_asgi,
        flag_only_value=ASGI_FLAG,
        metavar="[MODULE[:CALLABLE]]",
        help="Serve this module's app as ASGI 3 (as module = does, with interface = asgi); "
        "given without a value, force ASGI on the app that module or wsgi-file names. "
        "usher's own option.",
    )
    asgi_lifespan: str = option(
        "auto",
        group=APP,
        check=check_lifespan,
        metavar="auto|on|off",
        help="The ASGI lifespan protocol, run in each worker before it reports ready (startup) "
        "and after it stops serving (shutdown): on (a startup that does not complete stops the "
        "boot), auto (as on, except that an app that never asks for the startup message is "
        "served without it) or off. usher's own option (uvicorn's --lifespan).",
    )
    root_path: str = option(
        "",
        group=APP,
        check=check_root_path,
        metavar="PATH",
        help="The ASGI scope's root_path when the front server sends no SCRIPT_NAME: the prefix a "
        "proxy mounts the app at (the path then starts with it too). usher's own option "
        "(uvicorn's --root-path).",
    )
    proxy_headers: bool = option(
        False,
        group=APP,
        help="ASGI scopes take the client from X-Forwarded-For and the scheme from "
        "X-Forwarded-Proto, when the peer is one of forwarded-allow-ips. usher's own option "
        "(uvicorn's --proxy-headers, on there by default).",
    )
    forwarded_allow_ips: str = option(
        "127.0.0.1",
        group=APP,
        check=check_allow_ips,
        metavar="ADDRESSES",
        help="The proxies whose X-Forwarded-* headers proxy-headers believes: addresses or "
        "networks, comma-separated, or * for any. usher's own option (uvicorn's "
        "--forwarded-allow-ips).",
    )

    @property
    def asgi_module(self) -> str | None:
        """The module `asgi = MODULE` names, or None (unset, or the bare flag)."""
        return None if self.asgi in (None, ASGI_FLAG) else self.asgi
