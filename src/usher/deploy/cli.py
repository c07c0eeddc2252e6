"""`usher deploy [rollback [RELEASE]] [options]`: the command line of the deploy tool."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from usher.deploy.bars import Screen
from usher.deploy.config import find_config, load_config
from usher.deploy.errors import DeployError
from usher.deploy.progress import Progress
from usher.options import ConfigError

try:
    from usher.deploy.runs import Request, run, select_hosts
except ModuleNotFoundError as missing:  # asyncssh is an optional dependency: the deploy extra
    if missing.name != "asyncssh":
        raise
    MISSING_SSH: str | None = "usher deploy needs asyncssh: pip install 'usher[deploy]'"
else:
    MISSING_SSH = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usher deploy",
        description="Deploy the local HEAD commit to the hosts of the [deploy] section (see docs/deploy.md).",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("rollback",),
        help="go back to the previous release (or RELEASE)",
    )
    parser.add_argument(
        "release", nargs="?", help="with rollback: the release folder name to go back to"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the ini file with [deploy] (default: deploy.ini, else usher.ini)",
    )
    parser.add_argument(
        "--hosts", metavar="HOST[,HOST]", default="", help="only these hosts of the config"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan; change nothing on any host"
    )
    parser.add_argument(
        "--scripts", action="store_true", help="with --dry-run: print each step's shell script too"
    )
    parser.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="record the key of a host known_hosts lacks (never a changed one)",
    )
    parser.add_argument(
        "--force-unlock", action="store_true", help="remove a lock left by a deploy that died"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (for CI) instead of progress lines",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `usher deploy`; returns the exit status (0, 1 for a failed deploy, 2 for a config error)."""
    args = _parser().parse_args(list(argv))
    if MISSING_SSH:
        print(f"usher deploy: {MISSING_SSH}", file=sys.stderr)
        return 1
    # Bars only for a person at a terminal; CI logs and pipes get plain, final lines.
    screen = Screen(sys.stdout, shutil.get_terminal_size().columns) if sys.stdout.isatty() else None
    progress = Progress(print, as_json=args.json, screen=screen)
    request = Request(
        action=args.action or "deploy",
        dry_run=args.dry_run,
        show_scripts=args.scripts,
        accept_new_host_keys=args.accept_new_host_keys,
        force_unlock=args.force_unlock,
        target=args.release,
    )
    try:
        config = load_config(find_config(args.config, Path.cwd()))
        config = select_hosts(config, [name for name in args.hosts.split(",") if name])
        asyncio.run(run(config, request, progress))
    except (ConfigError, DeployError) as error:
        _summary(progress, request, "failed", str(error))
        print(f"usher deploy: {error}", file=sys.stderr)
        return error.exit_status
    done = "dry run, nothing changed" if request.dry_run else f"{request.action} done"
    _summary(progress, request, done)
    return 0


def _summary(progress: Progress, request: Request, outcome: str, error: str = "") -> None:
    # A dry run's text output is the plan itself; with --json it is one document like any run's.
    if not request.dry_run or progress.as_json:
        progress.finish(outcome, error)
