"""The option table: `Settings`, one frozen dataclass whose every field declares one option.

A field's name is the option's name with `_` for `-` (`http_socket` is `--http-socket`), its
annotation is the option's type, and `option(...)` puts the rest (aliases, help, group, limits)
in the field's metadata. The command line, ini and environment readers, `--help` and
docs/options.md are generated from `dataclasses.fields(Settings)`, so adding an option is adding
one field here.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from usher.options import values
from usher.options.spec import OptionSpec, option

__all__ = ["ListenerProtocol", "OptionSpec", "Settings", "option"]

ListenerProtocol = Literal["http", "uwsgi"]

LISTENERS = "Listeners"
APP = "Application"
PROCESSES = "Processes"
FILES = "Files and logs"
LIMITS = "Limits"
CONFIG = "Configuration"
RECYCLING = "Worker limits and recycling"
CONTROL = "Reloads and control"
STATS = "Stats and monitoring"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every option's final value; built once at startup and passed down explicitly."""

    # -- listeners --------------------------------------------------------------------------
    http: tuple[str, ...] = option(
        (),
        aliases=("httprouter",),
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve HTTP/1.1 on this address. usher has no separate router process, so this "
        "is the same as --http-socket.",
    )
    http_socket: tuple[str, ...] = option(
        (),
        aliases=("http11-socket",),
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve HTTP/1.1 on this address (host:port, :port, [::1]:port, a unix socket "
        "path or @abstract-name).",
    )
    socket: tuple[str, ...] = option(
        (),
        aliases=("uwsgi-socket",),
        short="s",
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve the uwsgi binary protocol on this address, for nginx's uwsgi_pass.",
    )
    chmod_socket: str | None = option(
        None,
        aliases=("chmod",),
        short="C",
        group=LISTENERS,
        flag_only_value="666",
        check=values.check_octal_mode,
        metavar="MODE",
        help="Octal permissions for unix socket listeners.",
    )
    listen: int = option(
        100,
        short="l",
        group=LISTENERS,
        minimum=1,
        metavar="N",
        help="Accept backlog of each listener; the kernel caps it at net.core.somaxconn.",
    )
    no_defer_accept: bool = option(
        False,
        group=LISTENERS,
        help="Do not set TCP_DEFER_ACCEPT on TCP listeners. By default, as in uWSGI, the kernel "
        "hands a connection to a worker only once its first bytes arrived, or after "
        "socket-timeout seconds.",
    )

    # -- application ------------------------------------------------------------------------
    chdir: str | None = option(
        None, group=APP, metavar="DIR", help="Change to this directory before loading the app."
    )
    module: str | None = option(
        None,
        aliases=("wsgi",),
        short="w",
        group=APP,
        check=values.check_module,
        metavar="MODULE[:CALLABLE]",
        help="Import the WSGI app from this module: pkg.mod or pkg.mod:callable.",
    )
    wsgi_file: str | None = option(
        None,
        aliases=("file",),
        group=APP,
        metavar="PATH",
        help="Load the WSGI app from this Python file.",
    )
    callable: str = option(
        "application",
        group=APP,
        check=values.check_identifier,
        metavar="NAME",
        help="Name of the WSGI callable in the module or file.",
    )
    interface: str = option(
        "auto",
        group=APP,
        check=values.check_interface,
        metavar="auto|wsgi|asgi",
        help="How to call the app: wsgi, asgi (ASGI 3, as a task on the worker's event loop), or "
        "auto (asgi when the callable is a coroutine function, else wsgi). usher's own option.",
    )
    home: str | None = option(
        None,
        aliases=("virtualenv", "venv", "pyhome"),
        short="H",
        group=APP,
        metavar="DIR",
        help="Virtualenv whose site-packages the app imports from.",
    )
    pythonpath: tuple[str, ...] = option(
        (),
        aliases=("python-path", "pp"),
        group=APP,
        repeatable=True,
        metavar="DIR",
        help="Add this directory to sys.path before loading the app.",
    )
    env: tuple[str, ...] = option(
        (),
        group=APP,
        repeatable=True,
        check=values.check_env_pair,
        metavar="KEY=VALUE",
        help="Set this environment variable before loading the app.",
    )

    # -- processes --------------------------------------------------------------------------
    master: bool = option(
        False, short="M", group=PROCESSES, help="Run a master process that supervises workers."
    )
    processes: int = option(
        1,
        aliases=("workers",),
        short="p",
        group=PROCESSES,
        minimum=1,
        metavar="N",
        help="Number of worker processes.",
    )
    threads: int = option(
        1,
        group=PROCESSES,
        minimum=1,
        metavar="N",
        help="App threads per worker; 1 calls the app inline on the event loop's thread.",
    )
    lazy_apps: bool = option(
        False,
        aliases=("lazy",),
        group=PROCESSES,
        help="Load the app in each worker after fork, not once in the master.",
    )
    need_app: bool = option(
        True,
        group=PROCESSES,
        help="Exit at startup when the app cannot be loaded (usher's default, unlike uWSGI's).",
    )
    die_on_term: bool = option(
        False, group=PROCESSES, help="Shut down on SIGTERM (uWSGI 2.0 reloads on it by default)."
    )
    uid: str | None = option(
        None,
        group=PROCESSES,
        check=values.check_account,
        metavar="USER",
        help="Drop privileges to this user (name or number) after binding the listeners.",
    )
    gid: str | None = option(
        None,
        group=PROCESSES,
        check=values.check_account,
        metavar="GROUP",
        help="Drop privileges to this group (name or number) after binding the listeners.",
    )

    # -- files and logs ---------------------------------------------------------------------
    pidfile: str | None = option(
        None, group=FILES, metavar="PATH", help="Write the master's pid to this file."
    )
    vacuum: bool = option(False, group=FILES, help="Remove unix sockets and the pidfile on exit.")
    daemonize: str | None = option(
        None,
        short="d",
        group=FILES,
        metavar="LOGFILE",
        help="Detach from the terminal and log to this file.",
    )
    logto: str | None = option(
        None, group=FILES, metavar="LOGFILE", help="Log to this file instead of stderr."
    )
    disable_logging: bool = option(
        False, short="L", group=FILES, help="Do not log requests (errors are still logged)."
    )
    log_format: str | None = option(
        None,
        aliases=("logformat",),
        group=FILES,
        literal_placeholders=True,
        metavar="FORMAT",
        help="Request log line in uWSGI's %(var) syntax, e.g. %(addr) %(method) %(uri) %(status).",
    )

    # -- limits -----------------------------------------------------------------------------
    # The uwsgi protocol stores the size of its variable block in 16 bits, so a request head
    # can never exceed 65535 bytes there; the same cap keeps one HTTP head from pinning memory.
    # uWSGI accepts larger values (configs say 65536 or more), so they are capped, not refused.
    buffer_size: int = option(
        4096,
        short="b",
        group=LIMITS,
        minimum=1024,
        cap=65535,
        metavar="BYTES",
        help="Largest request head (request line and headers, or uwsgi vars) accepted; larger "
        "values are capped at 65535, the uwsgi protocol's 16-bit size field.",
    )
    # Bodies are read whole before the app runs, so a slow client never holds an app thread;
    # past this size they go to a temp file so that large uploads cannot exhaust memory.
    post_buffering: int = option(
        65536,
        group=LIMITS,
        minimum=0,
        metavar="BYTES",
        help="Request bodies up to this size stay in memory; larger ones go to a temp file, so "
        "big uploads cannot exhaust memory. 0 sends every body to a file.",
    )
    limit_post: int = option(
        0,
        group=LIMITS,
        minimum=0,
        metavar="BYTES",
        help="Refuse request bodies larger than this with 413; 0 means no limit.",
    )
    socket_timeout: int = option(
        4,
        short="z",
        group=LIMITS,
        minimum=1,
        metavar="SECONDS",
        help="Close uwsgi-protocol connections that stay silent this long mid-request.",
    )
    http_timeout: int = option(
        60,
        group=LIMITS,
        minimum=1,
        metavar="SECONDS",
        help="Close HTTP connections that stay silent this long (idle keep-alive included).",
    )
    worker_reload_mercy: int = option(
        60,
        group=LIMITS,
        minimum=1,
        metavar="SECONDS",
        help="How long a stopping worker may finish its requests before it is killed.",
    )

    # -- worker limits and recycling --------------------------------------------------------
    harakiri: int = option(
        0,
        short="t",
        group=RECYCLING,
        minimum=0,
        metavar="SECONDS",
        help="Kill a worker whose request has run this long: its Python stack goes to the log, "
        "the client gets a 504 when no part of the response was sent, and the worker is "
        "respawned. 0 disables it.",
    )
    harakiri_verbose: bool = option(
        False,
        group=RECYCLING,
        help="On harakiri also log what the kernel says the worker is doing "
        "(/proc/PID/wchan and /proc/PID/syscall).",
    )
    max_requests: int = option(
        0,
        short="R",
        group=RECYCLING,
        minimum=0,
        metavar="N",
        help="Recycle a worker after it has answered this many requests (it finishes them "
        "and a fresh one takes its place). 0 disables it.",
    )
    max_requests_delta: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="N",
        help="Add worker-id x N to max-requests, so that workers do not all recycle at once.",
    )
    reload_on_rss: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="MB",
        help="Recycle a worker gracefully once its resident memory passes this many megabytes. "
        "0 disables it.",
    )
    evil_reload_on_rss: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="MB",
        help="Kill a worker at once (SIGKILL) once its resident memory passes this many "
        "megabytes. 0 disables it.",
    )
    limit_as: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="MB",
        help="Cap each worker's address space at this many megabytes: allocations beyond it "
        "fail with MemoryError. 0 disables it.",
    )
    min_worker_lifetime: int = option(
        10,
        group=RECYCLING,
        minimum=0,
        metavar="SECONDS",
        help="A worker younger than this is not recycled for max-requests or reload-on-rss yet "
        "(harakiri and evil-reload-on-rss still apply).",
    )

    # -- reloads and control ----------------------------------------------------------------
    touch_reload: tuple[str, ...] = option(
        (),
        group=CONTROL,
        repeatable=True,
        metavar="PATH",
        help="Reload gracefully (as on SIGHUP) when this file's modification time changes.",
    )
    touch_chain_reload: tuple[str, ...] = option(
        (),
        group=CONTROL,
        repeatable=True,
        metavar="PATH",
        help="Chain-reload (one worker at a time, each after its successor is ready) when this "
        "file's modification time changes.",
    )
    master_fifo: str | None = option(
        None,
        group=CONTROL,
        metavar="PATH",
        help="Create this named pipe and obey the one-letter commands written to it "
        "(r R q Q c w W s + - l L; see the operations guide).",
    )
    cheaper: int = option(
        0,
        group=CONTROL,
        minimum=0,
        metavar="N",
        help="Adaptive worker count: keep at least N workers and start more (up to processes) "
        "while none is idle. 0 always runs processes workers.",
    )
    cheaper_initial: int = option(
        0,
        group=CONTROL,
        minimum=0,
        metavar="N",
        help="Workers started at boot in cheaper mode (default: cheaper).",
    )
    cheaper_step: int = option(
        1,
        group=CONTROL,
        minimum=1,
        metavar="N",
        help="Workers started at a time when the cheaper algorithm needs more.",
    )
    cheaper_overload: int = option(
        3,
        group=CONTROL,
        minimum=1,
        metavar="SECONDS",
        help="How long every worker must be busy (or two idle) before the cheaper algorithm "
        "adds (or stops) workers.",
    )
    log_reopen: bool = option(
        False,
        group=CONTROL,
        help="Reopen the log file (logto, daemonize) on every reload, for logrotate.",
    )

    # -- stats and monitoring ---------------------------------------------------------------
    stats: str | None = option(
        None,
        aliases=("stats-server",),
        group=STATS,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve the stats JSON document (uWSGI's layout, read by uwsgitop) on this address: "
        "a client connects and reads it.",
    )
    stats_http: bool = option(
        False, group=STATS, help="Serve the stats document over HTTP instead of raw."
    )
    stats_prometheus: str | None = option(
        None,
        group=STATS,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve the same figures in the Prometheus text format over HTTP on this address "
        "(also counts responses by status class and a latency histogram).",
    )

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
        """Every listener as (protocol, address): "http" for http and http-socket, else "uwsgi"."""
        http: ListenerProtocol = "http"
        uwsgi: ListenerProtocol = "uwsgi"
        return (
            *((http, address) for address in (*self.http, *self.http_socket)),
            *((uwsgi, address) for address in self.socket),
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
