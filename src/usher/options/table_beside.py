"""The option table's section of processes beside the app and hooks (see usher.options.settings)."""

from __future__ import annotations

import dataclasses

from usher.options import values
from usher.options.groups import APP, BESIDE, CONFIG, CONTROL, HOOKS, LIMITS, LISTENERS, RECYCLING
from usher.options.spec import option


@dataclasses.dataclass(frozen=True)
class BesideOptions:
    """Attached daemons, cron, hooks and the limits that go with them."""

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
