"""uWSGI's hooks: `ACTION:ARGUMENT` steps run at one moment of the server's start.

The moments usher offers are hook-pre-app and hook-post-app (around loading the app: in the master,
or in each worker with lazy-apps) and hook-accepting1-once (worker 1, once per master, when it first
accepts). The actions are:

- `exec:COMMAND`: run by /bin/sh; a non-zero exit is a failure;
- `call:module.function` (also `pycall:`): import the module and call the function with no
  arguments; an exception is a failure;
- `mkdir:PATH`: create the directory (and its parents; one that exists is fine, so a restart does
  not fail on what the first start created);
- `chmod:PATH MODE`: set the octal mode of PATH.

As in uWSGI, a failing pre-app or post-app hook stops the start (the caller decides); other
actions uWSGI has (mount, putenv, write, ...) are named at startup by `unknown_actions` and not run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from usher.supervise.spawn import run_shell


class HookFailed(Exception):
    """A hook's action failed; str() is one line naming the hook and why."""


@dataclass(frozen=True, slots=True)
class Hook:
    """One hook: its action name and the text after the first colon."""

    action: str
    argument: str

    def __str__(self) -> str:
        return f"{self.action}:{self.argument}"


def parse_hook(text: str) -> Hook:
    """`exec:touch /tmp/x` -> Hook("exec", "touch /tmp/x"); an action without a colon has no
    argument."""
    action, _, argument = text.strip().partition(":")
    return Hook(action.strip().lower(), argument.strip())


def unknown_actions(hooks: Iterable[tuple[str, str]]) -> list[str]:
    """One line for each (option, value) whose action usher does not run."""
    lines = []
    for option, text in hooks:
        hook = parse_hook(text)
        if hook.action not in ACTIONS:
            lines.append(
                f"{option} = {text}: the action {hook.action!r} is not supported and is not run "
                f"(usher runs {', '.join(sorted(ACTIONS))})"
            )
    return lines


def run_hooks(option: str, texts: Iterable[str]) -> None:
    """Run each hook of `option` in order; HookFailed at the first that fails. Unknown actions
    are skipped (they were named at startup)."""
    for text in texts:
        hook = parse_hook(text)
        action = ACTIONS.get(hook.action)
        if action is None:
            continue
        try:
            action(hook.argument)
        except HookFailed as exc:
            raise HookFailed(f"{option} = {text} failed: {exc}") from None
        except Exception as exc:  # an app's callable may raise anything: reported, not a crash
            raise HookFailed(f"{option} = {text} failed: {exc!r}") from exc


def _exec(command: str) -> None:
    status = run_shell(command)
    if status != 0:
        raise HookFailed(f"exit status {status}")


def _call(dotted: str) -> None:
    module_name, _, name = dotted.rpartition(".")
    if not module_name:
        raise HookFailed("write call:module.function")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise HookFailed(f"{module_name} has no callable {name!r}")
    function()


def _mkdir(path: str) -> None:
    os.makedirs(path, exist_ok=True)


def _chmod(argument: str) -> None:
    path, _, mode = argument.rpartition(" ")
    try:
        number = int(mode, 8)
    except ValueError:
        raise HookFailed(f"{mode!r} is not an octal mode: write chmod:PATH 0750") from None
    if not path.strip():
        raise HookFailed("write chmod:PATH MODE")
    os.chmod(path.strip(), number)


ACTIONS: dict[str, Callable[[str], None]] = {
    "exec": _exec,
    "call": _call,
    "pycall": _call,
    "mkdir": _mkdir,
    "chmod": _chmod,
}
