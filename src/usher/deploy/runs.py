"""One `usher deploy` or `usher deploy rollback`: connect, lock, probe, plan, execute, unlock.

A dry run connects and probes (read-only), plans, and prints the plan: no lock, no change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace

from usher.deploy import local, lock, vault
from usher.deploy.config import DeployConfig
from usher.deploy.errors import DeployError
from usher.deploy.executor import execute
from usher.deploy.facts import HostFacts, parse_facts, probe_script
from usher.deploy.layout import layout_for
from usher.deploy.plan import Plan
from usher.deploy.planner import DeployInputs, deploy_plan, rollback_plan
from usher.deploy.progress import Progress
from usher.deploy.ssh import Session, connect
from usher.deploy.steps import write_file


@dataclass(frozen=True, slots=True)
class Request:
    """What the command line asked for."""

    action: str  # "deploy" or "rollback"
    dry_run: bool = False
    show_scripts: bool = False
    accept_new_host_keys: bool = False
    force_unlock: bool = False
    target: str | None = None  # rollback: the release to go back to


async def run(config: DeployConfig, request: Request, progress: Progress) -> None:
    """Carry out `request` on every host of `config`; raises DeployError on the first failure."""
    if request.action == "deploy" and local.uncommitted_changes(config.source):
        progress.note(f"note: {config.source} has uncommitted changes; they are not deployed")
    async with AsyncExitStack() as stack:
        sessions = await _connect_all(config, request, stack)
        if request.dry_run:
            facts = await _probe_all(config, sessions)
            for line in _plan(config, request, facts).describe(request.show_scripts):
                progress.note(line)
            _note_locks(config, facts, progress)
            return
        await _lock_all(config, sessions, request, stack, progress)
        plan = _plan(config, request, await _probe_all(config, sessions))
        hosts = ", ".join(host_plan.host.label for host_plan in plan.hosts)
        progress.note(f"usher deploy: {plan.action} {plan.commit[:12]} on {hosts}")
        await execute(plan, sessions, progress)
        if request.action == "deploy":
            await _record_timings(config, sessions, progress)


async def _connect_all(
    config: DeployConfig, request: Request, stack: AsyncExitStack
) -> dict[str, Session]:
    results = await asyncio.gather(
        *(connect(config, host, request.accept_new_host_keys) for host in config.hosts),
        return_exceptions=True,
    )
    sessions: dict[str, Session] = {}
    for result in results:
        if isinstance(result, Session):
            sessions[result.host.label] = result
            stack.push_async_callback(result.close)
    failure = next((result for result in results if isinstance(result, BaseException)), None)
    if failure is not None:
        raise failure
    return sessions


async def _probe_all(config: DeployConfig, sessions: Mapping[str, Session]) -> dict[str, HostFacts]:
    labels = list(sessions)
    script = probe_script(layout_for(config, ""))
    results = await asyncio.gather(*(sessions[label].run(script) for label in labels))
    return {
        label: parse_facts(result.stdout) for label, result in zip(labels, results, strict=True)
    }


async def _lock_all(
    config: DeployConfig,
    sessions: Mapping[str, Session],
    request: Request,
    stack: AsyncExitStack,
    progress: Progress,
) -> None:
    layout = layout_for(config, "")
    holder = local.holder()
    for label, session in sessions.items():
        removed = await lock.acquire(label, session, layout, holder, request.force_unlock)
        stack.push_async_callback(lock.release, session, layout)
        if removed:
            progress.note(f"{label}: {removed}")


async def _record_timings(
    config: DeployConfig, sessions: Mapping[str, Session], progress: Progress
) -> None:
    """Keep on each host what its prepare steps took, for the next deploy's progress bars."""
    path = layout_for(config, "").timings
    for label, session in sessions.items():
        text = "".join(
            f"{r.step}:{r.seconds:.1f}\n"
            for r in progress.records
            if r.host == label and r.phase == "prepare" and r.status == "ok"
        )
        if text:
            command = write_file(path, text, "644")
            # Only the bars' yardstick: a host that cannot keep it costs no deploy.
            try:
                await session.run(command.script, command.stdin)
            except DeployError as error:
                progress.note(f"note: step timings not kept: {error}")


def _plan(config: DeployConfig, request: Request, facts: Mapping[str, HostFacts]) -> Plan:
    if request.action == "rollback":
        return rollback_plan(config, facts, request.target)
    commit = local.local_commit(config.source, config.commit)
    inputs = DeployInputs(
        commit=commit,
        release=f"{local.timestamp()}-{commit[:12]}",
        secret_key=local.new_secret_key(),
        extra_env=local.read_env_file(config.env_file) + vault.read_secrets(config.vault),
    )
    return deploy_plan(config, facts, inputs)


def _note_locks(config: DeployConfig, facts: Mapping[str, HostFacts], progress: Progress) -> None:
    for label, host_facts in facts.items():
        if host_facts.lock_holder:
            progress.note(
                f"{label}: note: {config.site_root} is locked by {host_facts.lock_holder}"
            )


def select_hosts(config: DeployConfig, wanted: Sequence[str]) -> DeployConfig:
    """`config` with only the hosts named by `--hosts` (by address or address:port)."""
    if not wanted:
        return config
    chosen = tuple(host for host in config.hosts if host.label in wanted or host.address in wanted)
    unknown = [
        name for name in wanted if not any(name in (h.label, h.address) for h in config.hosts)
    ]
    if unknown:
        raise DeployError(
            f"--hosts names {', '.join(unknown)}, which [deploy] does not list; use one of {', '.join(h.label for h in config.hosts)}"
        )
    return replace(config, hosts=chosen)
