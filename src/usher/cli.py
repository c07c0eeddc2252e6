"""The `usher` command: uWSGI-compatible flags and ini files in, a running server out."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from usher.options import ConfigError, ExitRequested, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `usher` and `python -m usher`; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["top"]:
        from usher.ops.top import main as top_main

        return top_main(args[1:])
    if args[:1] == ["deploy"]:
        from usher.deploy.cli import main as deploy_main

        return deploy_main(args[1:])
    try:
        loaded = load_settings(args, os.environ)
    except ExitRequested as request:
        print(request.text)
        return request.exit_status
    except ConfigError as exc:
        print(f"usher: {exc}", file=sys.stderr)
        return exc.exit_status
    from usher.server import serve

    return serve(loaded.settings, loaded.notes, args)
