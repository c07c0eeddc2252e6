"""Pure parsers and checks for option values: text in, a value out or `InvalidValue`.

They know nothing of options or sources; the resolver names both when it turns an
`InvalidValue` into a `ConfigError`.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from usher.options.errors import InvalidValue

TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
FALSE_WORDS = frozenset({"false", "off", "no", "0"})

# RFC 1123 host names: letters, digits and inner hyphens per dot-separated label.
_HOSTNAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_OCTAL_MODE = re.compile(r"[0-7]{3,4}")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_ADDRESS_FORMS = "host:port, :port, [::1]:port, a unix socket path or @abstract-name"


def parse_bool(text: str) -> bool:
    """Read a boolean the way uWSGI configs write them (true/false, on/off, yes/no, 1/0)."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue(f"{text!r} is not a boolean", "use true or false (also on/off, yes/no, 1/0)")


def parse_int(text: str, minimum: int | None, maximum: int | None) -> int:
    """Read a whole number and keep it inside [minimum, maximum] (either bound may be open)."""
    bounds = _describe_bounds(minimum, maximum)
    if not _WHOLE_NUMBER.fullmatch(text.strip()):
        raise InvalidValue(
            f"{text!r} is not a whole number", f"use a whole number {bounds}".strip()
        )
    number = int(text)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidValue(f"{number} is out of range", f"use a whole number {bounds}")
    return number


def _describe_bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"from {minimum} to {maximum}"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}" if maximum is not None else ""


def check_listener(address: str) -> None:
    """Accept the listener address forms usher can bind; reject the rest before binding."""
    if address.startswith("@"):
        if len(address) == 1:
            raise InvalidValue("'@' names no abstract socket", "write @name, e.g. @usher")
        return
    if "/" in address or address.endswith(".sock"):
        return  # a unix socket path; whether its directory exists is checked when binding
    if address.startswith("["):
        host, closed, rest = address[1:].partition("]")
        if not closed or not rest.startswith(":"):
            raise InvalidValue(f"{address!r} is not [ipv6]:port", f"write one of {_ADDRESS_FORMS}")
        _check_ipv6(host)
        _check_port(rest[1:], address)
        return
    host, colon, port = address.rpartition(":")
    if not colon:
        raise InvalidValue(f"{address!r} has no port", f"write one of {_ADDRESS_FORMS}")
    if ":" in host:
        raise InvalidValue(
            f"{address!r} looks like a bare IPv6 address", "put it in brackets: [::1]:8000"
        )
    if host:
        _check_host(host)
    _check_port(port, address)


def _check_ipv6(host: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise InvalidValue(f"{host!r} is not an IPv6 address", "write e.g. [::]:8000") from None


def _check_host(host: str) -> None:
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise InvalidValue(
                f"{host!r} is not an IPv4 address", "write e.g. 127.0.0.1:8000"
            ) from None
    elif not _HOSTNAME.fullmatch(host):
        raise InvalidValue(f"{host!r} is not a host name", f"write one of {_ADDRESS_FORMS}")


def _check_port(port: str, address: str) -> None:
    # Port 0 asks the kernel for any free port, as uWSGI allows; handy for tests.
    if not port.isdigit() or int(port) > 65535:
        raise InvalidValue(f"{address!r} has no valid port", "use a port from 0 to 65535")


def check_octal_mode(text: str) -> None:
    """A unix permission mode in octal, as chmod takes it (660, 0666)."""
    if not _OCTAL_MODE.fullmatch(text):
        raise InvalidValue(f"{text!r} is not an octal file mode", "write e.g. 660 or 666")


def check_module(text: str) -> None:
    """`pkg.mod`, `pkg.mod:callable` or `pkg.mod:factory()`; a path ending in .py is accepted
    as uWSGI does."""
    if text.endswith(".py"):
        return
    module, colon, attribute = text.partition(":")
    if _dotted(module) and (not colon or _dotted(split_factory(attribute)[0])):
        return
    raise InvalidValue(
        f"{text!r} is not an importable module",
        "write package.module, package.module:app or package.module:create_app()",
    )


INTERFACES = ("auto", "wsgi", "asgi")


def check_interface(text: str) -> None:
    """auto, wsgi or asgi."""
    if text not in INTERFACES:
        raise InvalidValue(f"{text!r} is not an interface", f"use one of {', '.join(INTERFACES)}")


def check_identifier(text: str) -> None:
    """A Python name (possibly dotted), e.g. the WSGI callable, or a factory call `create_app()`."""
    if not _dotted(split_factory(text)[0]):
        raise InvalidValue(
            f"{text!r} is not a Python name",
            "write a name such as application or app, or a factory call such as create_app()",
        )


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


@dataclass(frozen=True, slots=True)
class FactoryCall:
    """The call in `create_app("prod", debug=False)`: literal arguments only, as gunicorn allows."""

    args: tuple[object, ...]
    kwargs: tuple[tuple[str, object], ...]

    def invoke(self, factory: Callable[..., object]) -> object:
        """Call `factory` with these arguments; the result is the WSGI app."""
        return factory(*self.args, **dict(self.kwargs))


def split_factory(text: str) -> tuple[str, FactoryCall | None]:
    """`create_app()` -> ("create_app", FactoryCall()); `app` -> ("app", None).

    Arguments must be Python literals: a config file names an app, it does not run code.
    """
    name, paren, rest = text.partition("(")
    if not paren:
        return text, None
    if not rest.endswith(")"):
        raise InvalidValue(
            f"{text!r} has an unclosed call", "write create_app() or create_app('x')"
        )
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
        if not isinstance(call, ast.Call):
            raise ValueError(text)
        args = tuple(ast.literal_eval(arg) for arg in call.args)
        kwargs = tuple((kw.arg or "", ast.literal_eval(kw.value)) for kw in call.keywords)
    except (SyntaxError, ValueError):
        raise InvalidValue(
            f"{text!r} calls the factory with something other than literals",
            "pass only strings, numbers, True/False/None, lists or dicts",
        ) from None
    if any(not key for key, _ in kwargs):
        raise InvalidValue(f"{text!r} unpacks **arguments", "pass keyword arguments one by one")
    return name.strip(), FactoryCall(args, kwargs)


def check_env_pair(text: str) -> None:
    """`KEY=VALUE` for the app's environment; the value may be empty, the key may not."""
    key, equals, _ = text.partition("=")
    if not equals or not key or any(ch.isspace() for ch in key) or "\0" in text:
        raise InvalidValue(
            f"{text!r} is not KEY=VALUE", "write e.g. env = DJANGO_SETTINGS_MODULE=site.settings"
        )


def check_account(text: str) -> None:
    """A user or group: a name or a number, as in /etc/passwd and /etc/group."""
    if not text or any(ch.isspace() or ch == ":" for ch in text):
        raise InvalidValue(
            f"{text!r} is not a user or group", "give a name (www-data) or a number (33)"
        )


def check_owner(text: str) -> None:
    """`user[:group]`, as chown takes it (chown-socket)."""
    user, colon, group = text.partition(":")
    if not user or (colon and not group):
        raise InvalidValue(
            f"{text!r} is not USER[:GROUP]", "write e.g. chown-socket = www-data:www-data"
        )
    check_account(user)
    if group:
        check_account(group)


def check_cron(text: str) -> None:
    """`minute hour day month weekday command`, as usher.options.cronspec reads it."""
    from usher.options.cronspec import parse_cron  # only configs with cron lines need it

    _as_invalid(parse_cron, text, "write e.g. -1 -1 -1 -1 -1 /usr/bin/true (-1: any)")


def check_daemon_keyval(text: str) -> None:
    """attach-daemon2's `key=value,...`, as usher.options.daemonspec reads it."""
    from usher.options.daemonspec import parse_attach_daemon2

    _as_invalid(parse_attach_daemon2, text, "write e.g. cmd=celery -A app worker,stopsignal=15")


def check_smart_daemon(text: str) -> None:
    """smart-attach-daemon's `PIDFILE COMMAND`."""
    from usher.options.daemonspec import parse_smart_attach_daemon

    _as_invalid(parse_smart_attach_daemon, text, "write the pidfile, a space, then the command")


def _as_invalid(parse: Callable[[str], object], text: str, fix: str) -> None:
    try:
        parse(text)
    except ValueError as exc:
        raise InvalidValue(str(exc), fix) from None


def check_socket_protocol(text: str) -> None:
    """`protocol`/`socket-protocol`: the two protocols usher speaks."""
    if text not in ("http", "uwsgi"):
        raise InvalidValue(
            f"usher serves http and uwsgi on socket listeners, not {text!r}",
            "write protocol = uwsgi (nginx uwsgi_pass) or protocol = http",
        )


def check_mount(text: str) -> None:
    """`/prefix=app`: a URL prefix starting with / and a module or file to serve under it."""
    prefix, equals, app = text.partition("=")
    if not equals or not prefix.startswith("/") or not app.strip() or " " in prefix:
        raise InvalidValue(
            f"{text!r} is not /PREFIX=APP", "write e.g. mount = /blog=blog.wsgi:application"
        )


def check_header_line(text: str) -> None:
    """`Name: value`, as a response header is written (no CR or LF: they would split it)."""
    name, colon, _ = text.partition(":")
    if not colon or not name.strip() or any(ch in text for ch in "\r\n\0"):
        raise InvalidValue(
            f"{text!r} is not a header", "write e.g. add-header = X-Frame-Options: DENY"
        )


def check_collect_header(text: str) -> None:
    """`HEADER VAR`: the response header to read and the request variable that keeps it."""
    if len(text.split()) != 2:
        raise InvalidValue(
            f"{text!r} is not HEADER VAR", "write e.g. collect-header = Content-Type CT"
        )
