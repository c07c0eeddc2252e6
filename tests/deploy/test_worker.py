"""The `worker` role, as data: the plan of a host that runs only attach-daemon processes (a Celery
worker) and the usher.ini generated for it.

These tests check the plan and the files, not a running worker: usher's attach-daemon is being
written elsewhere, and the usher of this tree still ignores the option and refuses an ini with no
listener, so no end-to-end worker deploy can pass yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from usher.deploy.config import DeployConfig, load_config
from usher.deploy.facts import HostFacts
from usher.deploy.plan import HostPlan, Step
from usher.deploy.planner import DeployInputs, deploy_plan, rollback_plan

HOSTS = """[deploy]
repo = https://example.com/mysite.git
host = 10.0.0.1 front app
host = 10.0.0.2 worker
host = 10.0.0.3 app worker
site_root = /srv/mysite
settings_module = mysite.settings
nginx = true
socket = 0.0.0.0:3031
attach_daemon = celery -A mysite worker --loglevel INFO
attach_daemon = celery -A mysite beat
"""
INPUTS = DeployInputs(
    commit="0123456789abcdef" * 2 + "01234567",
    release="20261203T080000Z-0123456789ab",
    secret_key="k" * 50,
)
RELEASED = HostFacts(
    systemd=False,
    current="20261202T080000Z-aaaaaaaaaaaa",
    releases=("20261201T080000Z-bbbbbbbbbbbb", "20261202T080000Z-aaaaaaaaaaaa"),
)


def config_from(tmp_path: Path, text: str = HOSTS) -> DeployConfig:
    path = tmp_path / "deploy.ini"
    path.write_text(text)
    return load_config(path)


def names(steps: Sequence[Step]) -> list[str]:
    return [step.name for step in steps]


def generated_ini(host_plan: HostPlan) -> str:
    step = next(s for s in host_plan.prepare if s.name == "config")
    return step.commands[0].stdin


def test_a_worker_host_gets_the_release_and_its_daemons_but_serves_nothing(
    tmp_path: Path,
) -> None:
    config = config_from(tmp_path)
    plan = deploy_plan(config, {h.label: RELEASED for h in config.hosts}, INPUTS)
    _, worker, both = plan.hosts
    assert names(worker.prepare) == [
        "folders",
        "source",
        "venv",
        "packages",
        "settings",
        "config",
    ]
    assert names(worker.switch) == ["switch", "service"] and names(worker.undo) == [
        "switch",
        "service",
    ]
    assert names(worker.finish) == ["prune"] and worker.front == ()
    ini = generated_ini(worker)
    assert "attach-daemon = celery -A mysite worker --loglevel INFO\n" in ini
    assert "attach-daemon = celery -A mysite beat\n" in ini
    assert "env = PATH=/srv/mysite/current/venv/bin:" in ini
    assert "env = DJANGO_SETTINGS_MODULE=usher_deploy_settings" in ini
    assert "chdir = /srv/mysite/current/." in ini and "pidfile = /srv/mysite/run/usher.pid" in ini
    for listener in ("socket", "http-socket", "module", "[health]"):
        assert f"\n{listener}" not in ini, listener
    # A host both app and worker serves the site and attaches the daemons to the same master.
    assert names(both.prepare)[-1] == "health" and names(both.switch)[-1] == "live"
    ini = generated_ini(both)
    assert "socket = 0.0.0.0:3031" in ini and "attach-daemon = celery -A mysite beat" in ini


def test_the_front_balances_app_hosts_only(tmp_path: Path) -> None:
    config = config_from(tmp_path)
    plan = deploy_plan(config, {h.label: RELEASED for h in config.hosts}, INPUTS)
    site = plan.hosts[0].front[0].commands[1].stdin
    assert "server 127.0.0.1:3031" in site and "server 10.0.0.3:3031" in site
    assert "10.0.0.2" not in site


def test_a_worker_under_systemd_gets_the_unit_and_a_reload(tmp_path: Path) -> None:
    config = config_from(tmp_path)
    systemd = HostFacts(systemd=True, current=None, releases=())
    plan = deploy_plan(config, {h.label: systemd for h in config.hosts}, INPUTS)
    worker = plan.hosts[1]
    config_step = next(s for s in worker.prepare if s.name == "config")
    assert config_step.summary == "generate usher.ini and the systemd unit"
    assert "pidfile" not in config_step.commands[0].stdin
    assert "systemctl reload" in worker.switch[1].commands[0].script
    assert names(worker.undo) == ["stop"]


def test_rollback_takes_the_workers_back_too(tmp_path: Path) -> None:
    config = config_from(tmp_path)
    plan = rollback_plan(config, {h.label: RELEASED for h in config.hosts}, None)
    assert [p.host.address for p in plan.hosts] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert {p.release for p in plan.hosts} == {"20261201T080000Z-bbbbbbbbbbbb"}
    assert names(plan.hosts[1].switch) == ["switch", "service"]
    assert names(plan.hosts[2].switch) == ["switch", "service", "live"]


def test_the_dry_run_names_the_worker_role(tmp_path: Path) -> None:
    config = config_from(tmp_path)
    plan = deploy_plan(config, {h.label: RELEASED for h in config.hosts}, INPUTS)
    assert "10.0.0.2 (worker) release 20261203T080000Z-0123456789ab" in plan.describe()
