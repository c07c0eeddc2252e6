"""The option table: `Settings`, one frozen dataclass whose every field declares one option.

A field's name is the option's name with `_` for `-` (`http_socket` is `--http-socket`), its
annotation is the option's type, and `option(...)` puts the rest (aliases, help, group, limits)
in the field's metadata. The command line, ini and environment readers, `--help` and
docs/options.md are generated from `dataclasses.fields(Settings)`, so adding an option is adding
one field. The fields are declared in sections, one dataclass each (the `table_*` modules), which
`Settings` inherits in the order the docs list them.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from usher.options.groups import CONFIG
from usher.options.spec import OptionSpec, option
from usher.options.table_asgi import AsgiOptions
from usher.options.table_beside import BesideOptions
from usher.options.table_emperor import EmperorOptions
from usher.options.table_limits import ControlOptions, LimitOptions, RecyclingOptions, StatsOptions
from usher.options.table_processes import FileAndLogOptions, ProcessOptions
from usher.options.table_serving import AppOptions, ListenerOptions, RoutingOptions
from usher.options.table_static import StaticOptions
from usher.options.table_subscribe import SubscribeOptions
from usher.options.table_websocket import WebSocketOptions

__all__ = ["ListenerProtocol", "OptionSpec", "Settings", "option"]

ListenerProtocol = Literal["http", "uwsgi"]


# The last base's fields come first: the bases are listed from the last section to the first.
@dataclasses.dataclass(frozen=True, slots=True)
class Settings(
    StaticOptions,
    EmperorOptions,
    WebSocketOptions,
    SubscribeOptions,
    BesideOptions,
    StatsOptions,
    ControlOptions,
    RecyclingOptions,
    LimitOptions,
    FileAndLogOptions,
    ProcessOptions,
    RoutingOptions,
    AsgiOptions,
    AppOptions,
    ListenerOptions,
):
    """Every option's final value; built once at startup and passed down explicitly."""

    # -- configuration ----------------------------------------------------------------------
    ini: tuple[str, ...] = option(
        (),
        group=CONFIG,
        repeatable=True,
        metavar="FILE[:SECTION]",
        aliases=("include", "inherit", "config", "json", "js", "xmlconfig", "xml", "yaml", "yml"),
        help="Load options from this config file: an ini file's [uwsgi] section (or [usher], "
        "or the one named), or uWSGI's JSON (.json, --json, -j) or XML (.xml, --xml, -x) "
        "layout. YAML (--yaml, -y) is refused with one line: convert it to ini or JSON.",
    )
    strict: bool = option(
        False,
        group=CONFIG,
        help="Refuse to start on an option usher does not support or does not know (and on ini "
        "keys that are not options), instead of logging a note.",
    )
    allow_exec_placeholders: bool = option(
        False,
        group=CONFIG,
        help="Let ini values read files and run commands with @(path) and @(exec://command). "
        "Off by default: a config file should not run programs unless asked to.",
    )

    @property
    def listeners(self) -> tuple[tuple[ListenerProtocol, str], ...]:
        """Every listener as (protocol, address): "http" for http and http-socket; `protocol`
        (uwsgi unless set) for socket."""
        http: ListenerProtocol = "http"
        return (
            *((http, address) for address in (*self.http, *self.http_socket)),
            *((_socket_protocol(self.protocol), address) for address in self.socket),
        )

    @property
    def module_and_callable(self) -> tuple[str, str] | None:
        """The app's module and callable from `module` (`pkg.mod:app` beats `callable`)."""
        if self.module is None:
            return None
        module, _, attribute = self.module.partition(":")
        return module, attribute or self.callable

    @property
    def env_pairs(self) -> tuple[tuple[str, str], ...]:
        """The `env` options split into (key, value)."""
        return tuple((key, value) for key, _, value in (pair.partition("=") for pair in self.env))

    @property
    def socket_mode(self) -> int | None:
        """`chmod-socket` as a number for os.chmod, or None to leave unix sockets alone."""
        return None if self.chmod_socket is None else int(self.chmod_socket, 8)


def _socket_protocol(name: str) -> ListenerProtocol:
    return "http" if name == "http" else "uwsgi"  # the value's check allows only these two
