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
BESIDE = "Processes beside the app"
HOOKS = "Hooks"
ROUTING = "Mounts, routes and headers"


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
    http_enable_proxy_protocol: bool = option(
        False,
        aliases=("enable-proxy-protocol",),
        group=LISTENERS,
        help="HTTP listeners expect a PROXY protocol header (v1 or v2) before each connection's "
        "first request, as HAProxy send-proxy and cloud load balancers send it: REMOTE_ADDR and "
        "REMOTE_PORT are then the client it names. A connection without one gets 400.",
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
    chown_socket: str | None = option(
        None,
        group=LISTENERS,
        check=values.check_owner,
        metavar="USER[:GROUP]",
        help="Owner of unix socket listeners (the group defaults to the user's), set as root "
        "before uid/gid drop privileges: e.g. www-data:www-data for nginx's workers.",
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

    # -- mounts, routes and headers ---------------------------------------------------------
    mount: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_mount,
        metavar="/PREFIX=APP",
        help="Serve another app under this URL prefix: APP is a module (pkg.wsgi, pkg.wsgi:app) "
        "or a .py file, loaded in each worker. The longest matching prefix wins.",
    )
    manage_script_name: bool = option(
        False,
        group=ROUTING,
        help="Pick the mount by PATH_INFO's prefix and move that prefix to SCRIPT_NAME (without "
        "it, as in uWSGI, the mount is chosen by the SCRIPT_NAME the front server sends).",
    )
    no_default_app: bool = option(
        False,
        group=ROUTING,
        help="Answer 404 to a request that matches no mount, instead of giving it to the app.",
    )
    route: tuple[str, ...] = option(
        (),
        aliases=(
            "route-uri",
            "route-host",
            "route-qs",
            "route-remote-addr",
            "route-user-agent",
            "route-referer",
            "route-remote-user",
            "route-if",
            "route-if-not",
        ),
        group=ROUTING,
        repeatable=True,
        tagged=True,
        metavar="REGEXP ACTION",
        help="uWSGI internal routing, before the app: when the regexp matches PATH_INFO "
        "(REQUEST_URI for route-uri, HTTP_HOST for route-host...) or the route-if condition "
        "(equal:A;B, startswith:A;B, regexp:A;B, empty:A, with ${VAR}) holds, run the action: "
        "donotlog, redirect, redirect-permanent, addheader, delheader, setvar/addvar, rewrite, "
        "rewrite-last, break[:STATUS], return:STATUS, continue, last. Rules run in order.",
    )
    response_route: tuple[str, ...] = option(
        (),
        aliases=(
            "response-route-uri",
            "response-route-host",
            "response-route-qs",
            "response-route-status",
            "response-route-if",
            "response-route-if-not",
        ),
        group=ROUTING,
        repeatable=True,
        tagged=True,
        metavar="REGEXP ACTION",
        help="Routing rules run when the app starts its response: the same subjects and "
        "conditions as route (response-route-status matches the status code; ${uwsgi[status]} "
        "and collect-header's variables are set), with the actions addheader, delheader, "
        "donotlog, continue, last and break.",
    )
    add_header: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_header_line,
        metavar="NAME: VALUE",
        help="Add this header to every response.",
    )
    del_header: tuple[str, ...] = option(
        (),
        aliases=("rem-header",),
        group=ROUTING,
        repeatable=True,
        metavar="NAME",
        help="Remove this header (any case) from every response the app gives.",
    )
    collect_header: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_collect_header,
        metavar="HEADER VAR",
        help="Store the value of the app's response header HEADER in the request variable VAR, "
        "which response-route rules read as ${VAR}.",
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

    umask: str | None = option(
        None,
        group=PROCESSES,
        check=values.check_octal_mode,
        metavar="MODE",
        help="Process umask, set before anything is created (sockets, pidfile, logs), as in uWSGI.",
    )
    no_orphans: bool = option(
        True,
        group=PROCESSES,
        help="Workers leave (finishing their requests) when the master dies, even by SIGKILL; "
        "always on in usher, accepted for uWSGI's ini files.",
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
    logger: tuple[str, ...] = option(
        (),
        group=FILES,
        repeatable=True,
        metavar="[NAME] KIND[:ARGS]",
        help="Send log lines to this logger instead of stderr: file:PATH, stdio, "
        "syslog[:IDENT[,FACILITY]] (/dev/log) or rsyslog:ADDRESS[,IDENT[,FACILITY]] (host:port "
        "over UDP, or a unix datagram socket path). A name before it makes it a named logger, "
        "which only gets the lines a log-route sends it.",
    )
    req_logger: tuple[str, ...] = option(
        (),
        aliases=("logger-req",),
        group=FILES,
        repeatable=True,
        metavar="KIND[:ARGS]",
        help="Send request (access) lines to this logger, apart from the server log; the same "
        "kinds as logger.",
    )
    log_route: tuple[str, ...] = option(
        (),
        group=FILES,
        repeatable=True,
        metavar="NAME REGEXP",
        help="Send log lines matching REGEXP to the named logger (and not to the unnamed ones).",
    )
    log_encoder: tuple[str, ...] = option(
        (),
        group=FILES,
        repeatable=True,
        metavar="ENCODER[:LOGGER] [ARGS]",
        help="Transform server log lines before they are written, in the order given: nl, "
        "format TEMPLATE, json TEMPLATE (${msg}, ${msgnl}, ${unix}, ${micros}, ${millis}, "
        "${strftime:FMT}); :LOGGER applies it to that logger only.",
    )
    log_req_encoder: tuple[str, ...] = option(
        (),
        group=FILES,
        repeatable=True,
        metavar="ENCODER[:LOGGER] [ARGS]",
        help="Transform request log lines, as log-encoder does for the server log.",
    )
    log_date: str | None = option(
        None,
        aliases=("logdate",),
        group=FILES,
        flag_only_value="true",
        metavar="[STRFTIME]",
        help="Prefix server log lines with the date (ctime's layout, or this strftime format).",
    )
    log_micros: bool = option(
        False,
        group=FILES,
        help="Report request times in microseconds in the default request line.",
    )
    logformat_strftime: bool = option(
        False,
        aliases=("log-format-strftime",),
        group=FILES,
        help="Pass the request line made by log-format through strftime (%Y, %H and so on).",
    )
    log_4xx: bool = option(
        False, group=FILES, help="Log requests answered 4xx even when disable-logging is on."
    )
    log_5xx: bool = option(
        False, group=FILES, help="Log requests answered 5xx even when disable-logging is on."
    )
    log_slow: int = option(
        0,
        group=FILES,
        minimum=0,
        metavar="MSECS",
        help="Log requests slower than this even when disable-logging is on (0: off).",
    )
    log_maxsize: int = option(
        0,
        group=FILES,
        minimum=0,
        metavar="BYTES",
        help="Rotate the logto/daemonize file once it passes this size (checked every second).",
    )
    log_backupname: str | None = option(
        None,
        group=FILES,
        metavar="PATH",
        help="Where log-maxsize moves the full log (replacing it); default: <log>.<unix time>.",
    )
    log_x_forwarded_for: bool = option(
        False,
        group=FILES,
        help="Log the X-Forwarded-For header as the client address (behind a proxy).",
    )
    disable_write_exception: bool = option(
        False,
        group=FILES,
        help="Do not raise OSError in the app's write() when the client has gone away.",
    )
    ignore_write_errors: bool = option(
        False,
        group=FILES,
        help="Do not log a client that went away before its response was sent.",
    )
    ignore_sigpipe: bool = option(
        False,
        group=FILES,
        help="Accepted for uWSGI configs: usher never gets SIGPIPE (a gone client is a write "
        "error, see ignore-write-errors).",
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
    # A head within buffer-size can still carry hundreds of tiny fields, each a dict entry and
    # an environ key: gunicorn bounds the count at 100 (limit_request_fields), and so does usher.
    limit_request_fields: int = option(
        100,
        group=LIMITS,
        minimum=1,
        maximum=32768,
        metavar="N",
        help="Most header fields one request may carry; more is answered 431 (gunicorn's option).",
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
    auto_procname: bool = option(
        False,
        group=PROCESSES,
        help="Title processes by role (usher master, usher worker N): usher always does.",
    )
    procname: str | None = option(
        None,
        group=PROCESSES,
        metavar="NAME",
        help="Title every process NAME instead of usher master / usher worker N.",
    )
    procname_master: str | None = option(
        None, group=PROCESSES, metavar="NAME", help="Title the master process NAME."
    )
    procname_prefix: str | None = option(
        None, group=PROCESSES, metavar="PREFIX", help="Put PREFIX before every process title."
    )
    procname_prefix_spaced: str | None = option(
        None,
        group=PROCESSES,
        metavar="PREFIX",
        help="Put PREFIX and a space before every process title.",
    )
    procname_append: str | None = option(
        None, group=PROCESSES, metavar="SUFFIX", help="Put SUFFIX after every process title."
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

    # -- processes beside the app, hooks and more recycling limits (usher.master.sidecars) ---
    attach_daemon: tuple[str, ...] = option(
        (),
        group=BESIDE,
        repeatable=True,
        metavar="COMMAND",
        help="Run this shell command beside the app once the server serves; respawn it when it "
        "dies (waiting longer while it keeps dying young) and stop it with the server (its stop "
        "signal, then SIGKILL after worker-reload-mercy).",
    )
    attach_daemon2: tuple[str, ...] = option(
        (),
        group=BESIDE,
        repeatable=True,
        check=values.check_daemon_keyval,
        metavar="KEY=VALUE,...",
        help="attach-daemon in uWSGI's key=value form: cmd (required), pidfile (then the daemon "
        "is watched through it, as smart-attach-daemon), stopsignal, reloadsignal, control (the "
        "server stops when it dies), daemonize; freq, touch, stdin, uid and gid are accepted "
        "and ignored.",
    )
    smart_attach_daemon: tuple[str, ...] = option(
        (),
        group=BESIDE,
        repeatable=True,
        check=values.check_smart_daemon,
        metavar="PIDFILE COMMAND",
        help="Watch the pid the daemon writes to PIDFILE and run COMMAND whenever that process is "
        "not alive; the daemon survives reloads and is stopped with the server.",
    )
    cron: tuple[str, ...] = option(
        (),
        group=BESIDE,
        repeatable=True,
        check=values.check_cron,
        metavar="MIN HOUR DAY MONTH WEEKDAY COMMAND",
        help="Run COMMAND from the master when the local time matches: -1 is any value, -N every "
        "N (minute -5: every five minutes), weekday 0 is Sunday.",
    )
    unique_cron: tuple[str, ...] = option(
        (),
        group=BESIDE,
        repeatable=True,
        check=values.check_cron,
        metavar="MIN HOUR DAY MONTH WEEKDAY COMMAND",
        help="As cron, but a run is skipped while the previous one is still running.",
    )
    hook_pre_app: tuple[str, ...] = option(
        (),
        group=HOOKS,
        repeatable=True,
        metavar="ACTION:ARG",
        help="Before the app is loaded: exec:COMMAND, call:module.function, mkdir:PATH or "
        "chmod:PATH MODE.",
    )
    hook_post_app: tuple[str, ...] = option(
        (),
        group=HOOKS,
        repeatable=True,
        metavar="ACTION:ARG",
        help="After the app is loaded (same actions as hook-pre-app).",
    )
    hook_accepting1_once: tuple[str, ...] = option(
        (),
        group=HOOKS,
        repeatable=True,
        metavar="ACTION:ARG",
        help="In worker 1, once, when it first accepts connections (same actions as hook-pre-app).",
    )
    max_worker_lifetime: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="SECONDS",
        help="Recycle a worker gracefully once it has run this long. 0 disables it.",
    )
    max_worker_lifetime_delta: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="SECONDS",
        help="Add worker-id x N seconds to max-worker-lifetime, so that workers do not all "
        "recycle at once.",
    )
    reload_on_as: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="MB",
        help="Recycle a worker gracefully once its address space (VSZ) passes this many "
        "megabytes. 0 disables it.",
    )
    harakiri_graceful_timeout: int = option(
        0,
        group=RECYCLING,
        minimum=0,
        metavar="SECONDS",
        help="On harakiri, give the worker this long to answer its clients and leave after its "
        "stack is logged, before SIGKILL (default: 1 second).",
    )
    py_autoreload: int = option(
        0,
        aliases=("py-auto-reload", "python-auto-reload", "python-autoreload"),
        group=CONTROL,
        minimum=0,
        metavar="SECONDS",
        help="Development: reload gracefully (as on SIGHUP) when a source file of an imported "
        "module changes. Worker 1 watches them through inotify (watchfiles, `pip install "
        "usher[dev]`); changes within N seconds make one reload. 0 disables it.",
    )
    protocol: str = option(
        "uwsgi",
        aliases=("socket-protocol",),
        group=LISTENERS,
        check=values.check_socket_protocol,
        metavar="http|uwsgi",
        help="The protocol of the `socket` listeners: uwsgi (the default) or http.",
    )
    show_config: bool = option(
        False, group=CONFIG, help="Log the resolved configuration, in ini form, at startup."
    )
    print: tuple[str, ...] = option(
        (), group=CONFIG, repeatable=True, metavar="TEXT", help="Log this text at startup."
    )
    pyargv: str | None = option(
        None,
        group=APP,
        metavar="ARGS",
        help="The app's sys.argv after the program name, split as a shell would.",
    )
    chdir2: str | None = option(
        None, group=APP, metavar="DIR", help="Change to this directory after loading the app."
    )
    paste: str | None = option(
        None,
        group=APP,
        metavar="config:PATH",
        help="Load the app from a PasteDeploy config (config:production.ini); needs PasteDeploy.",
    )
    paste_logger: bool = option(
        False,
        group=APP,
        help="Configure Python logging from the paste config file's logging sections.",
    )
    max_fd: int = option(
        0,
        group=LIMITS,
        minimum=0,
        metavar="N",
        help="Raise the open-file limit (RLIMIT_NOFILE) to N at startup; one line says so when "
        "it cannot be raised. 0 keeps the inherited limit.",
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
