"""The planner (pure) and the generated files, checked by the real tools where the machine has
them: nginx -t on the nginx site, systemd-analyze verify on the unit."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from usher.deploy.config import DeployConfig, load_config
from usher.deploy.errors import DeployError
from usher.deploy.executor import execute
from usher.deploy.facts import HostFacts, parse_facts
from usher.deploy.layout import Layout
from usher.deploy.planner import DeployInputs, deploy_plan, rollback_plan
from usher.deploy.progress import Progress
from usher.deploy.ssh import Result
from usher.deploy.templates import nginx_site, systemd_unit

THREE_HOSTS = """[deploy]
repo = https://example.com/mysite.git
host = 10.0.0.1 front
host = 10.0.0.2 app
host = 10.0.0.3 app
site_root = /srv/mysite
settings_module = mysite.settings
nginx = true
socket = 0.0.0.0:3031
"""
INPUTS = DeployInputs(
    commit="0123456789abcdef" * 2 + "01234567",
    release="20261203T080000Z-0123456789ab",
    secret_key="k" * 50,
)
NO_SYSTEMD = HostFacts(systemd=False, current=None, releases=())


def config_from(tmp_path: Path, text: str) -> DeployConfig:
    path = tmp_path / "deploy.ini"
    path.write_text(text)
    return load_config(path)


def test_a_front_balances_across_the_app_hosts(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS)
    plan = deploy_plan(config, {h.label: NO_SYSTEMD for h in config.hosts}, INPUTS)
    front, app, _ = plan.hosts
    assert front.prepare == () and [s.name for s in front.front] == ["nginx"]
    assert [s.name for s in app.prepare] == [
        "folders",
        "source",
        "venv",
        "packages",
        "settings",
        "check",
        "static",
        "migrate",
        "config",
        "health",
    ]
    assert [s.name for s in app.switch] == ["switch", "service", "live"] and [
        s.name for s in app.undo
    ] == ["stop"]
    site = front.front[0].commands[1].stdin
    assert (
        "server 10.0.0.2:3031" in site
        and "server 10.0.0.3:3031" in site
        and "uwsgi_pass mysite_usher;" in site
    )


def test_a_front_deployed_with_hosts_still_balances_every_app_host(tmp_path: Path) -> None:
    from usher.deploy.runs import select_hosts

    config = select_hosts(config_from(tmp_path, THREE_HOSTS), ["10.0.0.1", "10.0.0.2"])
    plan = deploy_plan(config, {h.label: NO_SYSTEMD for h in config.hosts}, INPUTS)
    assert [hp.host.label for hp in plan.hosts] == ["10.0.0.1", "10.0.0.2"]
    site = plan.hosts[0].front[0].commands[1].stdin
    assert "server 10.0.0.2:3031" in site and "server 10.0.0.3:3031" in site


def test_a_unix_socket_cannot_be_balanced_across_hosts(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS.replace("socket = 0.0.0.0:3031\n", ""))
    with pytest.raises(DeployError, match="set socket = :3031"):
        deploy_plan(config, {h.label: NO_SYSTEMD for h in config.hosts}, INPUTS)


def test_systemd_hosts_get_the_unit_and_a_runtime_directory_socket(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        THREE_HOSTS.replace("socket = 0.0.0.0:3031\n", "")
        .replace("host = 10.0.0.3 app\n", "")
        .replace("10.0.0.2 app", "10.0.0.2 app front")
        .replace("host = 10.0.0.1 front\n", ""),
    )
    plan = deploy_plan(
        config, {"10.0.0.2": HostFacts(systemd=True, current="a", releases=("a",))}, INPUTS
    )
    (only,) = plan.hosts
    generated = {c.script: c.stdin for s in only.prepare if s.name == "config" for c in s.commands}
    assert any("mysite.service" in key for key in generated)
    assert "socket = /run/mysite/usher.sock" in next(
        text for key, text in generated.items() if "usher.ini" in key
    )
    assert "unix:/run/mysite/usher.sock" in only.front[0].commands[1].stdin
    assert [s.name for s in only.undo] == ["switch", "service", "live"]


def test_secrets_never_reach_a_command_line(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS)
    plan = deploy_plan(config, {h.label: NO_SYSTEMD for h in config.hosts}, INPUTS)
    scripts = [
        c.script for hp in plan.hosts for _, steps in hp.phases() for s in steps for c in s.commands
    ]
    assert not any(INPUTS.secret_key in script for script in scripts)
    assert any(INPUTS.secret_key in line for line in plan.describe(scripts=False)) is False


def test_rollback_goes_to_the_release_before_current(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS.replace("host = 10.0.0.3 app\n", ""))
    facts = parse_facts("systemd=no\ncurrent=c\nreleases=a b c d\nlock=\n")
    plan = rollback_plan(config, {"10.0.0.1": facts, "10.0.0.2": facts}, None)
    assert [hp.release for hp in plan.hosts] == ["b"]
    with pytest.raises(DeployError, match="no release zz"):
        rollback_plan(config, {"10.0.0.1": facts, "10.0.0.2": facts}, "zz")


class Recorder:
    """Runs nothing: records scripts and fails the one containing `fail`, to test the roll order."""

    def __init__(self, name: str, log: list[str], fail: str = "") -> None:
        self.name, self.log, self.fail = name, log, fail

    async def run(self, script: str, stdin: str = "") -> Result:
        self.log.append(f"{self.name}: {script.splitlines()[-1][:40]}")
        return Result(
            1 if self.fail and self.fail in script else 0,
            "",
            "it broke" if self.fail in script else "",
        )


def test_a_failed_switch_undoes_the_hosts_already_switched(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS.replace("nginx = true", "nginx = false"))
    facts = HostFacts(systemd=False, current="old", releases=("old",))
    plan = deploy_plan(config, {h.label: facts for h in config.hosts}, INPUTS)
    log: list[str] = []
    runners = {
        "10.0.0.1": Recorder("front", log),
        "10.0.0.2": Recorder("a", log),
        "10.0.0.3": Recorder("b", log, fail=" - wait "),
    }
    lines: list[str] = []
    with pytest.raises(DeployError, match=re.escape("10.0.0.3: live failed: it broke")):
        asyncio.run(execute(plan, runners, Progress(lines.append)))
    undo_lines = [line for line in lines if " undo " in line]
    assert [line.split()[0] for line in undo_lines] == ["10.0.0.3"] * 3 + ["10.0.0.2"] * 3
    assert not any(" finish " in line for line in lines)


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed",
)
def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS)
    site = tmp_path / "site.conf"
    site.write_text(
        nginx_site(
            config, Layout(str(tmp_path), ""), ["10.0.0.2:3031", "unix:/run/mysite/usher.sock"]
        )
    )
    params = Path("/etc/nginx/uwsgi_params")
    if not params.exists():
        pytest.skip("no /etc/nginx/uwsgi_params")
    # The site includes uwsgi_params relative to nginx's configuration folder, here tmp_path.
    shutil.copy(params, tmp_path / "uwsgi_params")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n include {site};\n}}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run(
        [nginx, "-t", "-q", "-c", str(main), "-p", str(tmp_path), "-g", "daemon off;"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    config = config_from(tmp_path, THREE_HOSTS.replace("/srv/mysite", str(tmp_path / "mysite")))
    layout = Layout(config.site_root, "r")
    python = Path(layout.current) / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(shutil.which("python3") or "/usr/bin/python3")
    unit = tmp_path / "mysite.service"
    unit.write_text(systemd_unit(config, layout))
    for line in (
        "Type=notify",
        "RuntimeDirectory=mysite",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ):
        assert line in unit.read_text()
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_health_checks_name_a_host_django_accepts(tmp_path: Path) -> None:
    from usher.deploy.serving import health_host

    config = config_from(tmp_path, THREE_HOSTS + "allowed_hosts = * .example.com\n")
    assert health_host(config) == "example.com"
    assert health_host(config_from(tmp_path, THREE_HOSTS + "allowed_hosts = *\n")) == "localhost"


@pytest.mark.parametrize(("nginx", "kept"), [("false", "the old site\n"), ("true", None)])
def test_a_site_nginx_refuses_is_replaced_by_the_previous_one(
    tmp_path: Path, nginx: str, kept: str | None
) -> None:
    """The front step's script, run by a real sh with `true`/`false` standing in for nginx."""
    from usher.deploy.serving import front

    sites = tmp_path / "sites"
    text = THREE_HOSTS.replace("/srv/mysite", str(tmp_path / "mysite"))
    config = config_from(tmp_path, text + f"nginx_sites = {sites}\nnginx_command = {nginx}\n")
    (tmp_path / "mysite").mkdir()
    step = front(config, Layout(config.site_root, ""), ["10.0.0.2:3031"], "none")
    for command in step.commands[:1]:
        subprocess.run(["sh", "-c", command.script], check=True)
    (sites / "mysite.conf").write_text("the old site\n")
    done = subprocess.run(
        ["sh", "-c", step.commands[1].script],
        input=step.commands[1].stdin,
        text=True,
        capture_output=True,
    )
    assert (done.returncode == 0) is (kept is None), done.stderr
    site = (sites / "mysite.conf").read_text()
    assert site == kept if kept else "upstream mysite_usher" in site


def test_a_long_step_says_it_is_still_running() -> None:
    """The heartbeat line comes while the step runs; the step ends when that line was seen."""
    from usher.deploy.executor import run_steps
    from usher.deploy.hosts import Host
    from usher.deploy.plan import Command, Step

    async def scenario() -> list[str]:
        seen = asyncio.Event()
        lines: list[str] = []

        def write(line: str) -> None:
            lines.append(line)
            if " ... " in line:
                seen.set()

        class Slow:
            async def run(self, script: str, stdin: str = "") -> Result:
                await seen.wait()
                return Result(0, "done\n", "")

        step = Step("packages", "pip install", (Command("pip install"),), long=True)
        host = Host("10.0.0.2", 22, "root", frozenset({"app"}))
        await run_steps(host.label, Slow(), [step], "prepare", Progress(write, heartbeat=0.01))
        return lines

    lines = asyncio.run(scenario())
    assert lines[0].split()[:3] == ["10.0.0.2", "prepare", "packages"] and " ... " in lines[0]
    assert lines[-1].split()[3] == "ok" and lines[-1].endswith("done")
