"""Decide: config and host facts in, a `Plan` out. Pure: no network, no clock, no randomness
(the commit, the release name and the new secret key are inputs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from usher.deploy import serving, steps
from usher.deploy.config import DeployConfig
from usher.deploy.errors import DeployError
from usher.deploy.facts import HostFacts
from usher.deploy.hosts import Host
from usher.deploy.layout import layout_for
from usher.deploy.plan import HostPlan, Plan, Step
from usher.deploy.serving import Manager
from usher.deploy.templates import upstream_address


@dataclass(frozen=True, slots=True)
class DeployInputs:
    """What a deploy decides with besides the config and the facts."""

    commit: str
    release: str
    secret_key: str
    extra_env: str = ""


def manager_for(config: DeployConfig, facts: HostFacts) -> Manager:
    """systemd when the config says so, or says auto and systemd runs on the host."""
    if config.process_manager == "auto":
        return "systemd" if facts.systemd else "none"
    return config.process_manager


def deploy_plan(config: DeployConfig, facts: Mapping[str, HostFacts], inputs: DeployInputs) -> Plan:
    """Every host's steps for deploying `inputs.commit` as release `inputs.release`."""
    upstreams = _upstreams(config, facts)
    plans = tuple(
        _deploy_host(config, host, facts[host.label], inputs, upstreams) for host in config.hosts
    )
    return Plan("deploy", inputs.commit, plans)


def _deploy_host(
    config: DeployConfig,
    host: Host,
    facts: HostFacts,
    inputs: DeployInputs,
    upstreams: Mapping[str, list[str]],
) -> HostPlan:
    config = config.for_host(host)
    manager = manager_for(config, facts)
    layout = layout_for(config, inputs.release)
    if not host.roles & {"app", "worker"}:
        return HostPlan(host, "", front=_front(config, host, facts, upstreams))
    # A worker-only host serves nothing: no checklist of a web site, no static files, no health
    # check over HTTP; migrations run on the app hosts, which share the database.
    serves = "app" in host.roles
    prepare: list[Step] = [
        steps.folders(layout),
        steps.source(config, layout, inputs.commit),
        steps.venv(config, layout),
        steps.requirements(config, layout),
        steps.settings(config, layout, inputs.secret_key, inputs.extra_env),
    ]
    if serves and config.framework == "django":
        prepare += [
            steps.check_deploy(config, layout),
            steps.collectstatic(config, layout),
            steps.migrate(config, layout),
        ]
    prepare.append(serving.generate(config, layout, manager, host.roles))
    if serves:
        prepare.append(serving.health(config, layout))
    return HostPlan(
        host,
        inputs.release,
        prepare=_with_expected(prepare, facts),
        switch=_switch_to(config, manager, inputs.release, serves),
        undo=_undo(config, facts, manager, serves),
        finish=(serving.prune(layout, config.keep_releases),),
        discard=(serving.discard(layout),),
        front=_front(config, host, facts, upstreams),
    )


def _with_expected(prepare: list[Step], facts: HostFacts) -> tuple[Step, ...]:
    """Long steps carry what they took last time on this host: the yardstick of their bars."""
    return tuple(replace(s, expected=facts.expected(s.name)) if s.long else s for s in prepare)


def _switch_to(
    config: DeployConfig, manager: Manager, release: str, serves: bool
) -> tuple[Step, ...]:
    """Switch, (re)start, and on an app host check the site answers (a worker has no HTTP)."""
    target = layout_for(config, release)
    return (
        serving.switch(target, release),
        serving.start_or_reload(config, target, manager, release),
        *([serving.live(config, target, manager)] if serves else []),
    )


def _undo(
    config: DeployConfig, facts: HostFacts, manager: Manager, serves: bool
) -> tuple[Step, ...]:
    if facts.current is None:
        return (serving.stop(config, layout_for(config, ""), manager),)
    return _switch_to(config, manager, facts.current, serves)


def _front(
    config: DeployConfig, host: Host, facts: HostFacts, upstreams: Mapping[str, list[str]]
) -> tuple[Step, ...]:
    if not (config.nginx and "front" in host.roles):
        return ()
    return (
        serving.front(
            config, layout_for(config, ""), upstreams[host.label], manager_for(config, facts)
        ),
    )


def _upstreams(config: DeployConfig, facts: Mapping[str, HostFacts]) -> dict[str, list[str]]:
    """For each front host, the address of every app host as its nginx reaches it."""
    result: dict[str, list[str]] = {}
    for front in config.front_hosts():
        addresses = []
        for app in config.balanced_hosts():
            app_config = config.for_host(app)
            # A host left out by --hosts was not probed; its socket must be TCP anyway (checked
            # below), where the process manager changes nothing.
            app_facts = facts.get(app.label, HostFacts(systemd=False, current=None, releases=()))
            socket = serving.socket_for(app_config, manager_for(app_config, app_facts))
            if socket.startswith("/") and app != front:
                raise DeployError(
                    f"nginx on {front.label} cannot reach the unix socket of {app.label}: "
                    "set socket = :3031 (a TCP port) in [deploy] when a front serves other hosts"
                )
            addresses.append(upstream_address(app, socket, front))
        result[front.label] = addresses
    return result


def rollback_plan(config: DeployConfig, facts: Mapping[str, HostFacts], target: str | None) -> Plan:
    """Switch every app host back to `target`, or to the release before its current one."""
    plans = []
    for host in config.app_hosts():
        host_facts = facts[host.label]
        release = target or host_facts.previous_release()
        if release is None or release not in host_facts.releases:
            wanted = f"release {target}" if target else "a release older than the current one"
            raise DeployError(
                f"{host.label}: no {wanted} in {config.site_root}/releases; list them with ls, or name one: usher deploy rollback RELEASE"
            )
        manager = manager_for(config, host_facts)
        host_config = config.for_host(host)
        serves = "app" in host.roles
        plans.append(
            HostPlan(
                host,
                release,
                switch=_switch_to(host_config, manager, release, serves),
                undo=_undo(host_config, host_facts, manager, serves),
            )
        )
    return Plan("rollback", target or "previous", tuple(plans))
