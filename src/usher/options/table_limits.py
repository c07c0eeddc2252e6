"""The option table's limits, recycling, control and stats sections (see usher.options.settings)."""

from __future__ import annotations

import dataclasses

from usher.options import values
from usher.options.groups import CONTROL, LIMITS, PROCESSES, RECYCLING, STATS
from usher.options.spec import option


@dataclasses.dataclass(frozen=True)
class LimitOptions:
    """What a request may hold and how long it may take."""

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


@dataclasses.dataclass(frozen=True)
class RecyclingOptions:
    """When workers are replaced."""

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


@dataclasses.dataclass(frozen=True)
class ControlOptions:
    """Reloads, the FIFO and touch files."""

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


@dataclasses.dataclass(frozen=True)
class StatsOptions:
    """The stats endpoints."""

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
