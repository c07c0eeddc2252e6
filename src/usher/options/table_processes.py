"""The option table's process and log sections (see usher.options.settings)."""

from __future__ import annotations

import dataclasses

from usher.options import values
from usher.options.groups import FILES, PROCESSES
from usher.options.spec import option


@dataclasses.dataclass(frozen=True)
class ProcessOptions:
    """The master, the workers and their privileges."""

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


@dataclasses.dataclass(frozen=True)
class FileAndLogOptions:
    """Pidfile, daemonizing and every log option."""

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
