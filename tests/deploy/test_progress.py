"""What a person (or CI) sees while a deploy runs: the bars' rendering (pure), the terminal
redraw, and the plain lines written when the output is not a terminal."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from usher.deploy.bars import Screen, bar_line, render_bar
from usher.deploy.config import load_config
from usher.deploy.errors import DeployError
from usher.deploy.executor import run_steps
from usher.deploy.facts import HostFacts, parse_facts
from usher.deploy.hosts import Host
from usher.deploy.plan import Command, Step
from usher.deploy.planner import DeployInputs, deploy_plan
from usher.deploy.progress import Progress
from usher.deploy.ssh import Result

HOST = Host("10.0.0.2", 22, "root", frozenset({"app"}))


def test_a_bar_measures_elapsed_time_against_the_last_deploy() -> None:
    assert render_bar(10, 40, width=8) == "[##......]  25% 10s of ~40s last time"
    # Never full while running, and honest once past the yardstick.
    assert render_bar(39.9, 40, width=8).startswith("[#######.]  99%")
    assert render_bar(50, 40, width=8) == "[#######.] 50s, longer than last time (~40s)"


def test_a_bar_without_a_yardstick_bounces_and_shows_only_the_time() -> None:
    frames = [render_bar(t / 4, 0, width=8) for t in range(10)]
    assert frames[0] == "[####....] 0.0s (no earlier deploy to compare with)"
    assert render_bar(0.4, 0.8, width=8) == "[####....]  50% 0.4s of ~0.8s last time"
    assert frames[4].startswith("[....####]") and frames[8].startswith("[####....]")
    assert all(len(frame.split("]")[0]) == 9 for frame in frames)


def test_a_bar_line_lines_up_with_the_step_lines() -> None:
    line = bar_line("10.0.0.2", "prepare", "packages", 5, 10)
    assert line.startswith(f"{'10.0.0.2':<22} {'prepare':<8} {'packages':<10} [")
    assert line.endswith("5.0s of ~10s last time")


def test_the_screen_redraws_bars_below_the_finished_lines() -> None:
    stream = io.StringIO()
    screen = Screen(stream, columns=20)
    screen.show([], ["bar one is long enough to be cut", "bar two"])
    screen.show(["a finished step"], ["bar two"])
    assert stream.getvalue() == (
        "bar one is long eno\nbar two\n"
        # Up over the two bars, erase, the finished line, then the bar still running.
        "\x1b[2F\x1b[Ja finished step\nbar two\n"
    )


class Watched(Progress):
    """A Progress that says when it has shown a running step twice, so a test needs no sleep."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown = asyncio.Event()
        self.calls = 0

    def running(self, *args: Any, **kwargs: Any) -> None:
        super().running(*args, **kwargs)
        self.calls += 1
        if self.calls >= 2:
            self.shown.set()


def run_slow_step(progress: Watched, long: bool) -> None:
    """One step that ends once the progress has shown it running twice (when it is long)."""

    class Slow:
        async def run(self, script: str, stdin: str = "") -> Result:
            if long:
                await progress.shown.wait()
            return Result(0, "installed\n", "")

    step = Step("packages", "pip", (Command("pip"),), long=long, expected=8.0)
    asyncio.run(run_steps(HOST.label, Slow(), [step], "prepare", progress))


def test_not_a_terminal_plain_lines_and_a_heartbeat_for_long_steps_only() -> None:
    lines: list[str] = []
    run_slow_step(Watched(lines.append, heartbeat=0.01), long=True)
    assert all("\x1b" not in line and "[" not in line for line in lines)
    assert [line.split()[3] for line in lines] == ["...", "...", "ok"]
    lines.clear()
    run_slow_step(Watched(lines.append, heartbeat=0.01), long=False)
    assert len(lines) == 1 and lines[0].split()[:4] == ["10.0.0.2", "prepare", "packages", "ok"]


def test_on_a_terminal_a_long_step_is_a_bar_then_one_line() -> None:
    stream = io.StringIO()
    progress = Watched(print, screen=Screen(stream))
    run_slow_step(progress, long=True)
    out = stream.getvalue()
    assert "of ~8.0s last time" in out and "\x1b[1F\x1b[J" in out
    # The last thing on the screen is the finished line, with no bar left under it.
    assert out.rpartition("\x1b[1F\x1b[J")[2].split()[3] == "ok"


def test_json_writes_one_document_and_no_bar() -> None:
    lines: list[str] = []
    stream = io.StringIO()
    progress = Watched(lines.append, as_json=True, heartbeat=0.01, screen=Screen(stream))
    run_slow_step(progress, long=True)
    progress.finish("deploy done")
    assert stream.getvalue() == "" and len(lines) == 1
    assert json.loads(lines[0])["steps"][0]["step"] == "packages"


def test_the_last_durations_become_the_plan_s_yardsticks(tmp_path: Path) -> None:
    facts = parse_facts("systemd=no\ncurrent=\nreleases=\ntimings=packages:41.5 static:3.0 bad:x\n")
    assert facts.timings == (("packages", 41.5), ("static", 3.0))
    config_file = tmp_path / "deploy.ini"
    config_file.write_text(
        "[deploy]\nrepo = r\nhost = 10.0.0.2\nsite_root = /srv/s\nsettings_module = s.settings\n"
    )
    config = load_config(config_file)
    inputs = DeployInputs("c" * 40, "20261203T080000Z-cccccccccccc", "k" * 50)
    first = deploy_plan(config, {"10.0.0.2": HostFacts(False, None, ())}, inputs)
    later = deploy_plan(config, {"10.0.0.2": facts}, inputs)
    expected = {step.name: step.expected for step in later.hosts[0].prepare if step.long}
    assert expected == {"packages": 41.5, "static": 3.0, "migrate": 0.0, "health": 0.0}
    assert all(step.expected == 0 for step in first.hosts[0].prepare)
    assert "(~42s last time)" in "\n".join(later.describe())


def test_a_step_cut_short_leaves_no_bar_behind() -> None:
    """A lost connection raises out of a long step without its end line; the bar still goes."""
    stream = io.StringIO()
    progress = Watched(print, screen=Screen(stream))

    class Lost:
        async def run(self, script: str, stdin: str = "") -> Result:
            await progress.shown.wait()
            raise DeployError("10.0.0.2: the SSH connection failed")

    step = Step("packages", "pip", (Command("pip"),), long=True)
    with pytest.raises(DeployError):
        asyncio.run(run_steps(HOST.label, Lost(), [step], "prepare", progress))
    assert stream.getvalue().endswith("\x1b[1F\x1b[J")
