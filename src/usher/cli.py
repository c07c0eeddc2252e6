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
