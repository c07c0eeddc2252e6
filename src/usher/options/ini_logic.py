"""uWSGI's config logic: `if-*` … `endif` and `for*` … `endfor` blocks, as pure decisions.

Rules (as uWSGI reads them):

- A block starts at an `if-*` or `for*` key and ends at the matching `endif`/`end-if` or
  `endfor`/`end-for`; blocks may nest here (uWSGI reads one level; nesting is a superset).
- A condition that holds runs its body once, with `%(_)` set to what it tested (the
  environment variable's value for `if-env`, the option's value for `if-opt`, the path for
  `if-exists`...). A loop runs its body once per item, with `%(_)` set to the item.
- `if-env = VAR` holds when VAR is set, even to an empty string (uWSGI tests getenv() against
  NULL); `if-env = VAR=value` when it equals value. `if-opt = name` holds when a key of that
  exact name was set earlier in the config; `name=value` when its first value equals value (the
  value a placeholder would give). The `if-not-*` forms hold when the test fails.
- `for = a b c` loops over words, `for-glob = pattern` over matching paths (sorted),
  `for-readline = file` over the file's non-empty lines, `for-times = N` over 1..N.

Only `iterations` touches the file system (globs, existence tests, for-readline's file).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from usher.options.errors import InvalidValue

BlockKind = Literal["if", "for"]

# uWSGI reloads by re-executing itself; usher re-reads its config as at first start, so a
# config is never "in a reload" when it is read.
_CONDITIONS: Mapping[str, tuple[str, bool]] = {
    "if-env": ("env", True),
    "ifenv": ("env", True),
    "if-not-env": ("env", False),
    "if-exists": ("exists", True),
    "ifexists": ("exists", True),
    "if-not-exists": ("exists", False),
    "if-file": ("file", True),
    "if-not-file": ("file", False),
    "if-dir": ("dir", True),
    "ifdir": ("dir", True),
    "if-directory": ("dir", True),
    "if-not-dir": ("dir", False),
    "if-opt": ("opt", True),
    "if-not-opt": ("opt", False),
    "if-hostname": ("hostname", True),
    "if-not-hostname": ("hostname", False),
    "if-hostname-match": ("hostname-match", True),
    "if-not-hostname-match": ("hostname-match", False),
    "if-plugin": ("plugin", True),
    "ifplugin": ("plugin", True),
    "if-not-plugin": ("plugin", False),
    "if-reload": ("reload", True),
    "if-not-reload": ("reload", False),
}
_LOOPS = frozenset({"for", "for-glob", "for-readline", "for-times"})
_ENDS: Mapping[str, BlockKind] = {"endif": "if", "end-if": "if", "endfor": "for", "end-for": "for"}
# for-times bounds the body's repetitions: a typo such as 100000 would otherwise multiply
# the config's lines without limit before any value is checked.
MAX_FOR_TIMES = 4096

# Every key this module reads; the option table lists them with the status "reader".
LOGIC_KEYS = frozenset({*_CONDITIONS, *_LOOPS, *_ENDS})

# What `if-opt` may look at: the first value given for a key so far, expanded.
OptionLookup = Callable[[str], str | None]


def block_start(key: str) -> BlockKind | None:
    """The kind of block `key` opens, if it opens one."""
    if key in _CONDITIONS:
        return "if"
    return "for" if key in _LOOPS else None


def block_end(key: str) -> BlockKind | None:
    """The kind of block `key` closes, if it closes one."""
    return _ENDS.get(key)


def find_end(keys: Sequence[str], start: int) -> int | None:
    """The index of the key closing the block opened at `start`; None when it is never
    closed. Raises InvalidValue when an inner end closes the wrong kind of block."""
    opened: list[BlockKind] = []
    for index in range(start, len(keys)):
        kind = block_start(keys[index])
        if kind is not None:
            opened.append(kind)
            continue
        closing = block_end(keys[index])
        if closing is None:
            continue
        if closing != opened[-1]:
            raise InvalidValue(
                f"{keys[index]} closes a {opened[-1]} block", f"close it with end{opened[-1]}"
            )
        opened.pop()
        if not opened:
            return index
    return None


def iterations(
    key: str, argument: str, environ: Mapping[str, str], option: OptionLookup
) -> list[str]:
    """The `%(_)` values the block's body runs with: none when a condition fails."""
    if key in _LOOPS:
        return _loop_items(key, argument)
    test, wanted = _CONDITIONS[key]
    holds, value = _test(test, argument, environ, option)
    return [value] if holds == wanted else []


def _loop_items(key: str, argument: str) -> list[str]:
    if key == "for":
        return argument.split()
    if key == "for-glob":
        import glob  # only for configs that loop over files

        return sorted(glob.glob(argument))
    if key == "for-times":
        if not argument.strip().isdigit() or int(argument) > MAX_FOR_TIMES:
            raise InvalidValue(
                f"{argument!r} is not a count", f"write a whole number up to {MAX_FOR_TIMES}"
            )
        return [str(number) for number in range(1, int(argument) + 1)]
    try:
        with open(argument, encoding="utf-8") as file:
            return [line.strip() for line in file if line.strip()]
    except OSError as error:
        raise InvalidValue(
            f"cannot read {argument}: {error.strerror or error}", "check the file name"
        ) from None


def _test(
    test: str, argument: str, environ: Mapping[str, str], option: OptionLookup
) -> tuple[bool, str]:
    name, equals, expected = argument.partition("=")
    if test == "env":
        found = environ.get(name.strip())
        return found is not None and (not equals or found == expected), found or ""
    if test == "opt":
        value = option(name.strip())
        return value is not None and (not equals or value == expected), value or ""
    if test == "exists":
        return os.path.exists(argument), argument
    if test == "file":
        return os.path.isfile(argument), argument
    if test == "dir":
        return os.path.isdir(argument), argument
    if test == "hostname":
        return socket.gethostname() == argument, argument
    if test == "hostname-match":
        return re.search(argument, socket.gethostname()) is not None, argument
    if test == "plugin":
        return argument.startswith("python"), argument  # usher's only "plugin" is Python
    return False, argument  # "reload": see _CONDITIONS
