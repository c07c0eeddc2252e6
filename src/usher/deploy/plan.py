"""A deploy as data: steps of shell scripts per host, decided before anything runs.

`--dry-run` prints a `Plan`; the executor runs one. Nothing here touches the network or a disk.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from usher.deploy.hosts import Host


@dataclass(frozen=True, slots=True)
class Command:
    """A shell script run on a host with `sh -c`; `stdin` carries file contents and secrets.

    Secrets travel on stdin, never on a command line that `ps` on the host would show.
    """

    script: str
    stdin: str = ""
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """One idempotent unit of work, shown as one progress line per host."""

    name: str
    summary: str
    commands: tuple[Command, ...]
    # Said after the host's own error line when the step fails: how to fix it.
    hint: str = ""
    # The host's output is printed whole when the step fails (check --deploy's report).
    report: bool = False
    # A step that often takes long (pip, collectstatic): shown with a bar while it runs.
    long: bool = False
    # Seconds it took in the last successful deploy to this host (0: unknown): the bar's yardstick.
    expected: float = 0.0


@dataclass(frozen=True, slots=True)
class HostPlan:
    """What one host does in each phase of a deploy or a rollback.

    `prepare` runs on every host at once; `switch` one host at a time (a rolling deploy); `undo`
    puts back the previous release on a host whose switch happened when a later one fails;
    `finish` prunes; `front` (nginx) runs once every app host is switched. When the deploy fails,
    `discard` removes the new release wherever it is not current, so that no later rollback can
    land on a release that never passed.
    """

    host: Host
    release: str
    prepare: tuple[Step, ...] = ()
    switch: tuple[Step, ...] = ()
    undo: tuple[Step, ...] = ()
    finish: tuple[Step, ...] = ()
    front: tuple[Step, ...] = ()
    discard: tuple[Step, ...] = ()

    def phases(self) -> Iterator[tuple[str, tuple[Step, ...]]]:
        """The phases that have steps, in the order they run (`discard` only when the deploy fails)."""
        for name in ("prepare", "switch", "finish", "front", "discard"):
            steps: tuple[Step, ...] = getattr(self, name)
            if steps:
                yield name, steps


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole deploy (or rollback): one `HostPlan` per host, in the order of the config."""

    action: str
    commit: str
    hosts: tuple[HostPlan, ...]

    def describe(self, scripts: bool = False) -> list[str]:
        """The lines `--dry-run` prints: every step per host, and with `scripts` its commands."""
        lines = [f"usher deploy: plan for {self.action} of {self.commit[:12]}"]
        for host_plan in self.hosts:
            release = f" release {host_plan.release}" if host_plan.release else ""
            lines.append(
                f"{host_plan.host.label} ({', '.join(sorted(host_plan.host.roles))}){release}"
            )
            for phase, steps in host_plan.phases():
                for step in steps:
                    took = f" (~{step.expected:.0f}s last time)" if step.expected else ""
                    lines.append(f"  {phase:<8} {step.name:<10} {step.summary}{took}")
                    if scripts:
                        lines.extend(_script_lines(step))
        return lines


def _script_lines(step: Step) -> Iterator[str]:
    for command in step.commands:
        for line in command.script.splitlines():
            yield f"      | {line}"
        if command.stdin:
            shown = "a secret" if command.secret else f"{len(command.stdin)} bytes"
            yield f"      | <stdin: {shown}>"


def quote(text: str) -> str:
    """Shell-quote one word for the host's `sh`."""
    return shlex.quote(text)
