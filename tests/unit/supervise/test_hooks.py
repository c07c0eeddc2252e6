"""Hook actions in process: each action's effect and each way it fails, and the startup line for
an action usher does not run."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from usher.supervise.hooks import HookFailed, parse_hook, run_hooks, unknown_actions


def test_parse_keeps_the_argument_whole() -> None:
    hook = parse_hook("exec:echo a:b")
    assert (hook.action, hook.argument) == ("exec", "echo a:b")
    assert str(parse_hook("MKDIR:/x")) == "mkdir:/x"


def test_actions_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    target = tmp_path / "file"
    run_hooks(
        "hook-pre-app",
        [f"mkdir:{folder}", f"mkdir:{folder}", f"exec:echo hi > {target}", f"chmod:{target} 600"],
    )
    assert folder.is_dir()
    assert target.read_text() == "hi\n" and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("exec:exit 4", "exit status 4"),
        ("call:nomodule", "write call:module.function"),
        ("call:os.no_such_function", "os has no callable 'no_such_function'"),
        ("call:json.nonexistent.x", "ModuleNotFoundError"),
        ("chmod:/tmp rwx", "not an octal mode"),
        ("chmod:/nonexistent/usher/file 600", "FileNotFoundError"),
    ],
)
def test_failures_name_the_hook(text: str, problem: str) -> None:
    with pytest.raises(HookFailed, match=problem) as caught:
        run_hooks("hook-post-app", [text])
    assert str(caught.value).startswith(f"hook-post-app = {text} failed: ")


def test_unknown_actions_are_named_and_skipped(tmp_path: Path) -> None:
    lines = unknown_actions([("hook-pre-app", "putenv:A=1"), ("hook-post-app", "exec:true")])
    assert lines == [
        "hook-pre-app = putenv:A=1: the action 'putenv' is not supported and is not run "
        "(usher runs call, chmod, exec, mkdir, pycall)"
    ]
    run_hooks("hook-pre-app", ["putenv:A=1", f"mkdir:{tmp_path / 'after'}"])
    assert (tmp_path / "after").is_dir()
