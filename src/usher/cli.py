"""The `usher` command: uWSGI-compatible flags and ini files in, a running server out.

Besides serving: `usher emperor DIR` (one server per config file in DIR, as `emperor = DIR`),
`usher top`, `usher deploy`, `usher --check-config [arguments]` (check, bind nothing), and
uWSGI's `--reload PIDFILE` and `--stop PIDFILE`, which signal the master a pidfile names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from usher.options import ConfigError, ExitRequested, load_settings

CHECK_FLAG = "--check-config"
# uWSGI's control flags: the pidfile names a running master; the signal is what it obeys.
PIDFILE_ACTIONS = {"--reload": "SIGHUP", "--stop": "SIGINT"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `usher` and `python -m usher`; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["top"]:
        from usher.ops.top import main as top_main

        return top_main(args[1:])
    if args[:1] == ["front"]:
        return front_main(args[1:])
    if args[:2] == [CHECK_FLAG, "front"]:  # a reload's preflight of a front
        return front_main(args[2:], check=True)
    if args[:1] == ["deploy"]:
        from usher.deploy.cli import main as deploy_main

        return deploy_main(args[1:])
    if args[:1] == ["emperor"]:
        if len(args) < 2 or args[1].startswith("-"):
            print("usage: usher emperor DIR|GLOB [option ...]", file=sys.stderr)
            return 2
        args = ["--emperor", args[1], *args[2:]]
    if args[:1] and args[0].split("=", 1)[0] in PIDFILE_ACTIONS:
        from usher.control import signal_pidfile

        flag, _, path = args[0].partition("=")
        path = path or (args[1] if len(args) > 1 else "")
        return signal_pidfile(flag.lstrip("-"), path, PIDFILE_ACTIONS[flag])
    checking = CHECK_FLAG in args
    if checking:
        args.remove(CHECK_FLAG)
    try:
        loaded = load_settings(args, os.environ)
    except ExitRequested as request:
        print(request.text)
        return request.exit_status
    except ConfigError as exc:
        print(f"usher: {exc}", file=sys.stderr)
        return exc.exit_status
    if checking and loaded.settings.emperor:
        from usher.emperor.check import check_emperor

        return check_emperor(loaded.settings)
    if checking:
        from usher.check import check_config

        return check_config(loaded.settings, loaded.notes)
    if loaded.settings.emperor:
        from usher.emperor.start import run_emperor

        return run_emperor(loaded.settings, loaded.notes)
    from usher.server import serve

    return serve(loaded.settings, loaded.notes, args)


def front_main(args: list[str], *, check: bool = False) -> int:
    """`usher front --ini FILE [--processes N]`: the front (docs/front.md) on usher's master
    and workers; the file's [front] section gives the listeners, limits and worker count.
    With `--emit-nginx`, print the equivalent nginx config instead (docs/front-policies.md).
    `check`: read the file and say whether it can be served, start nothing."""
    from usher.front.config import read_front
    from usher.front.handler import FrontSource
    from usher.front.ini import FrontConfigError
    from usher.front.settings import server_arguments

    emit = "--emit-nginx" in args  # write the equivalent nginx config instead of serving
    args = [arg for arg in args if arg != "--emit-nginx"]
    path, processes, problem = _front_arguments(args)
    if problem:
        print(f"usher front: {problem}", file=sys.stderr)
        return 2
    try:
        front = read_front(path, processes=processes)
    except FrontConfigError as exc:
        print(f"usher: {exc}", file=sys.stderr)
        return 2
    if emit:
        from usher.front.emit_nginx import emit_nginx

        sys.stdout.write(emit_nginx(front))
        return 0
    server_args = server_arguments(front)
    try:
        loaded = load_settings(server_args, {})
    except ConfigError as exc:
        print(f"usher front: {exc}", file=sys.stderr)
        return exc.exit_status
    if check:
        print(f"usher: check-config: {path} is a valid front configuration")
        return 0
    from usher.server import serve

    return serve(loaded.settings, loaded.notes, ["front", *args], app=FrontSource(front))


def _front_arguments(args: list[str]) -> tuple[str, int | None, str]:
    """The ini path and the worker count from `usher front`'s arguments, or a problem."""
    path = ""
    processes: int | None = None
    rest = list(args)
    while rest:
        flag = rest.pop(0)
        name, _, value = flag.partition("=")
        if name in ("--ini", "--processes", "-p") and not value:
            if not rest:
                return "", None, f"{name} needs a value"
            value = rest.pop(0)
        if name == "--ini":
            path = value
        elif name in ("--processes", "-p") and value.isdigit():
            processes = int(value)
        else:
            return (
                "",
                None,
                f"unknown argument {flag!r} (usage: usher front --ini front.ini [--processes N] [--emit-nginx])",
            )
    if not path:
        return (
            "",
            None,
            "no configuration (usage: usher front --ini front.ini [--processes N] [--emit-nginx])",
        )
    return path, processes, ""
