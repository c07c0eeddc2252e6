"""What `@(...)` in an ini value reads: a file's text, or a command's output.

Only the expander calls this, and only when allow-exec-placeholders is on: a config file that
runs programs must say so. As in uWSGI, one trailing newline is dropped from what is read.
"""

from __future__ import annotations

import subprocess

from usher.options.errors import InvalidValue

# A command that hangs would hang startup with no message; a config value is computed in
# well under a second, so a generous bound only stops the runaway case.
EXEC_TIMEOUT_SECONDS = 30
_SCHEMES = ("exec://", "file://")


def read(reference: str) -> str:
    """The text `@(reference)` stands for: `exec://command`, `file://path` or a plain path."""
    if reference.startswith("exec://"):
        return _run(reference.removeprefix("exec://"))
    if "://" in reference and not reference.startswith(_SCHEMES):
        scheme = reference.partition("://")[0]
        raise InvalidValue(
            f"@({reference}): usher does not read {scheme}://", "use exec:// or a path"
        )
    path = reference.removeprefix("file://")
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().removesuffix("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidValue(f"@({reference}) cannot be read: {error}", "check the path") from None


def _run(command: str) -> str:
    try:
        done = subprocess.run(
            command,
            shell=True,  # uWSGI hands exec:// to /bin/sh; configs rely on pipes and $VARS
            capture_output=True,
            text=True,
            timeout=EXEC_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvalidValue(
            f"@(exec://{command}) ran over {EXEC_TIMEOUT_SECONDS} seconds",
            "make the command quicker",
        ) from None
    if done.returncode != 0:
        raise InvalidValue(
            f"@(exec://{command}) exited with status {done.returncode}", "fix the command"
        )
    return done.stdout.removesuffix("\n")
