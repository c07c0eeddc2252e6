"""Act: run a `Plan` over open sessions, one progress line per step and host.

Order: `prepare` on every host at once; `switch` one host at a time (a rolling deploy); when a
switch fails, `undo` on that host and on every host switched before it, newest first; then
`finish` on every host; `front` last, once every app host serves the new release. A failure
before `finish` ends with `discard` on every host: the failed release is removed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from usher.deploy.errors import DeployError
from usher.deploy.plan import HostPlan, Plan, Step
from usher.deploy.progress import Progress
from usher.deploy.ssh import Result


class Runner(Protocol):
    """What the executor needs of a connection (a `Session`, or a stand-in in tests)."""

    async def run(self, script: str, stdin: str = "") -> Result: ...


async def run_steps(
    label: str, runner: Runner, steps: Sequence[Step], phase: str, progress: Progress
) -> None:
    """Run `steps` in order on one host; the first failure raises a DeployError naming the fix."""
    for step in steps:
        await _run_step(label, runner, step, phase, progress)


async def _run_step(label: str, runner: Runner, step: Step, phase: str, progress: Progress) -> None:
    started = time.monotonic()
    if not step.long:
        await _run_commands(label, runner, step, phase, progress, started)
        return
    beat = asyncio.create_task(_heartbeat(label, phase, step, started, progress))
    try:
        await _run_commands(label, runner, step, phase, progress, started)
    finally:
        beat.cancel()
        # A step cut short by a lost connection never reports an end: its bar goes all the same.
        progress.stop_running(label, step.name)


async def _heartbeat(
    label: str, phase: str, step: Step, started: float, progress: Progress
) -> None:
    # A long step (pip, collectstatic, a slow health check) shows it is alive: a bar on a
    # terminal, a line now and then elsewhere.
    while True:
        await asyncio.sleep(progress.heartbeat)
        progress.running(label, phase, step.name, time.monotonic() - started, step.expected)


async def _run_commands(
    label: str, runner: Runner, step: Step, phase: str, progress: Progress, started: float
) -> None:
    output: list[str] = []
    for command in step.commands:
        result = await runner.run(command.script, command.stdin)
        output.append(result.stdout)
        if result.status != 0:
            progress.step(label, phase, step.name, "failed", time.monotonic() - started)
            if step.report:
                progress.report(label, result.stdout + result.stderr)
            raise DeployError(
                f"{label}: {step.name} failed: {_reason(result)}{'; ' + step.hint if step.hint else ''}"
            )
    progress.step(
        label, phase, step.name, "ok", time.monotonic() - started, _last_line("".join(output))
    )


def _reason(result: Result) -> str:
    return _last_line(result.stderr) or _last_line(result.stdout) or f"exit status {result.status}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


async def execute(plan: Plan, runners: Mapping[str, Runner], progress: Progress) -> None:
    """Run every phase of `plan` in the order the module docstring gives."""
    try:
        await _concurrently(plan.hosts, runners, "prepare", progress)
        await _roll(plan.hosts, runners, progress)
    except DeployError:
        try:
            await _concurrently(plan.hosts, runners, "discard", progress)
        except DeployError as error:
            progress.note(f"could not remove the failed release: {error}")
        raise
    await _concurrently(plan.hosts, runners, "finish", progress)
    for host_plan in plan.hosts:
        await run_steps(
            host_plan.host.label, runners[host_plan.host.label], host_plan.front, "front", progress
        )


async def _concurrently(
    hosts: Sequence[HostPlan], runners: Mapping[str, Runner], phase: str, progress: Progress
) -> None:
    # Every host finishes its phase (no cancellation half-way through a remote script); the first
    # failure is raised after, the others are shown as notes.
    results = await asyncio.gather(
        *(
            run_steps(h.host.label, runners[h.host.label], getattr(h, phase), phase, progress)
            for h in hosts
        ),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    for failure in failures[1:]:
        progress.note(str(failure))
    if failures:
        raise failures[0]


async def _roll(
    hosts: Sequence[HostPlan], runners: Mapping[str, Runner], progress: Progress
) -> None:
    switched: list[HostPlan] = []
    try:
        for host_plan in hosts:
            if host_plan.switch:
                switched.append(host_plan)
                await run_steps(
                    host_plan.host.label,
                    runners[host_plan.host.label],
                    host_plan.switch,
                    "switch",
                    progress,
                )
    except DeployError:
        await _undo(switched, runners, progress)
        raise


async def _undo(
    switched: Sequence[HostPlan], runners: Mapping[str, Runner], progress: Progress
) -> None:
    for host_plan in reversed(switched):
        try:
            await run_steps(
                host_plan.host.label,
                runners[host_plan.host.label],
                host_plan.undo,
                "undo",
                progress,
            )
        except DeployError as error:
            progress.note(f"could not undo: {error}")
