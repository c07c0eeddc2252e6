"""The steps around serving: generated configs, the health check, the atomic switch, (re)starting
usher under systemd or on its own, pruning old releases, and the front's nginx site.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from usher.deploy.config import DeployConfig
from usher.deploy.layout import Layout
from usher.deploy.plan import Command, Step, quote
from usher.deploy.steps import write_file
from usher.deploy.templates import nginx_site, systemd_unit, usher_ini, worker_ini

Manager = Literal["systemd", "none"]


def socket_for(config: DeployConfig, manager: Manager) -> str:
    """The uwsgi socket: the configured one, else a unix socket in systemd's RuntimeDirectory or run/."""
    if config.socket:
        return config.socket
    if manager == "systemd":
        return f"/run/{config.name}/usher.sock"
    return f"{config.site_root}/run/usher.sock"


def unit_path(config: DeployConfig) -> str:
    """Where the systemd unit is installed."""
    return f"/etc/systemd/system/{config.name}.service"


def generate(config: DeployConfig, layout: Layout, manager: Manager, roles: frozenset[str]) -> Step:
    """usher.ini in the release (and the unit, kept in the release beside it): the site's, with
    the daemons when the host is also a worker, or a worker's with only the daemons."""
    pidfile = manager == "none"
    if "app" in roles:
        daemons = config.attach_daemon if "worker" in roles else ()
        ini = usher_ini(config, layout, socket_for(config, manager), pidfile, daemons)
    else:
        ini = worker_ini(config, layout, pidfile)
    commands = [write_file(f"{layout.release}/usher.ini", ini, "644")]
    if manager == "systemd":
        commands.append(
            write_file(
                f"{layout.release}/{config.name}.service", systemd_unit(config, layout), "644"
            )
        )
    return Step(
        "config",
        f"generate usher.ini{' and the systemd unit' if manager == 'systemd' else ''}",
        tuple(commands),
    )


def _health_command(config: DeployConfig, arguments: list[str]) -> Command:
    script = (
        resources.files("usher.deploy").joinpath("health_script.py").read_text(encoding="utf-8")
    )
    words = " ".join(quote(word) for word in arguments)
    return Command(f"{quote(config.python)} - {words}", script)


def health_host(config: DeployConfig) -> str:
    """The Host header of health checks: the first allowed host that is a name, not a pattern."""
    for name in config.allowed_hosts:
        if name != "*":
            return name.lstrip(".")
    return "localhost"


def health(config: DeployConfig, layout: Layout) -> Step:
    """Start the new release on health_http and GET health_path, before anything switches."""
    arguments = [
        "start",
        f"{layout.release}/venv/bin/python",
        f"{layout.release}/usher.ini",
        config.health_http,
        config.health_path,
        health_host(config),
        str(config.health_timeout),
        layout.secret_env,
        layout.app_env,
    ]
    return Step(
        "health",
        f"start the release on {config.health_http}, GET {config.health_path} (< 400)",
        (_health_command(config, arguments),),
        hint="the release was not switched to; fix the app and deploy again",
        report=True,
        long=True,
    )


def switch(layout: Layout, target: str) -> Step:
    """Point `current` at `target` with one rename: readers see the old link or the new, never none."""
    link, temporary = quote(layout.current), quote(f"{layout.current}.new")
    script = f"set -eu\nln -sfn {quote(f'releases/{target}')} {temporary}\nmv -T {temporary} {link}"
    return Step("switch", f"current -> releases/{target} (symlink + rename)", (Command(script),))


def start_or_reload(config: DeployConfig, layout: Layout, manager: Manager, release: str) -> Step:
    """systemd: install the unit, verify it, reload or start; otherwise SIGHUP or a daemonized start."""
    if manager == "systemd":
        return _systemd(config, layout, release)
    pid = quote(layout.pidfile)
    script = f"""set -eu
if [ -f {pid} ] && kill -0 "$(cat {pid})" 2>/dev/null; then
  kill -HUP "$(cat {pid})"; echo "reloaded usher (pid $(cat {pid}))"
else
  cd {quote(layout.root)}
  set -a; . {quote(layout.secret_env)}; . {quote(layout.app_env)}; set +a
  {quote(f"{layout.current}/venv/bin/python")} -m usher --ini {quote(f"{layout.current}/usher.ini")} --daemonize {quote(layout.log_file)} </dev/null
  echo "started usher (log in {layout.log_file})"
fi"""
    return Step(
        "service", "reload usher with SIGHUP (pidfile), or start it daemonized", (Command(script),)
    )


def _systemd(config: DeployConfig, layout: Layout, release: str) -> Step:
    unit, name = quote(unit_path(config)), quote(config.name)
    script = f"""set -eu
install -m 644 {quote(f"{layout.releases}/{release}/{config.name}.service")} {unit}
if command -v systemd-analyze >/dev/null; then systemd-analyze verify {unit}; fi
systemctl daemon-reload
systemctl enable --quiet {name}
if systemctl is-active --quiet {name}; then systemctl reload {name}; else systemctl start {name}; fi"""
    return Step(
        "service",
        f"install {unit_path(config)} (verified), systemctl reload or start",
        (Command(script),),
    )


def live(config: DeployConfig, layout: Layout, manager: Manager) -> Step:
    """usher serves the switched release (its master runs from it) and answers on `http`."""
    pid_source = f"unit:{config.name}" if manager == "systemd" else f"file:{layout.pidfile}"
    arguments = [
        "wait",
        config.http,
        config.health_path,
        health_host(config),
        str(config.health_timeout),
        pid_source,
        f"{layout.release}/{config.project_dir}",
    ]
    return Step(
        "live",
        f"wait for usher to run {layout.release_name}, GET {config.health_path} on {config.http}",
        (_health_command(config, arguments),),
        report=True,
    )


def stop(config: DeployConfig, layout: Layout, manager: Manager) -> Step:
    """Stop the site: the undo of a first deploy, which has no previous release to go back to."""
    if manager == "systemd":
        script = f"systemctl stop {quote(config.name)}"
    else:
        pid = quote(layout.pidfile)
        script = f'if [ -f {pid} ]; then kill -TERM "$(cat {pid})" 2>/dev/null || true; fi'
    return Step("stop", "stop the site (no previous release to go back to)", (Command(script),))


def discard(layout: Layout) -> Step:
    """Remove the release of a failed deploy, unless `current` points at it."""
    release = quote(layout.release)
    target = quote(f"releases/{layout.release_name}")
    script = f"""if [ "$(readlink {quote(layout.current)} 2>/dev/null)" != {target} ]; then
  rm -rf -- {release} {release}.tmp
fi"""
    return Step(
        "discard", f"remove releases/{layout.release_name} (the deploy failed)", (Command(script),)
    )


def prune(layout: Layout, keep: int) -> Step:
    """Delete all but the newest `keep` releases; never the one `current` points at."""
    script = f"""set -eu
cd {quote(layout.releases)}
current=$(basename "$(readlink {quote(layout.current)})")
ls -1 | grep -v '\\.tmp$' | sort -r | tail -n +{keep + 1} | while read -r old; do
  [ "$old" = "$current" ] || {{ rm -rf -- "$old"; echo "removed $old"; }}
done"""
    return Step("prune", f"keep the newest {keep} releases", (Command(script),))


def front(config: DeployConfig, layout: Layout, upstreams: list[str], manager: Manager) -> Step:
    """The nginx site balancing the app hosts, checked with `nginx -t` before the reload."""
    site = f"{config.nginx_sites}/{config.name}.conf"
    nginx = config.nginx_command
    # A running nginx reloads (old workers finish their requests); a stopped one starts.
    reload = f"{nginx} -s reload 2>/dev/null || {nginx}"
    if manager == "systemd" and nginx == "nginx":
        reload = "systemctl reload-or-restart nginx"
    # The site in place is kept outside nginx's folders (which Debian includes whole) and put back
    # when `nginx -t` refuses the new one, so a later reload by anyone still works.
    kept, target = quote(f"{layout.root}/nginx-site.previous"), quote(site)
    check = f"""set -u
rm -f {kept}; [ ! -f {target} ] || cp -p {target} {kept}
cat > {target}.new && mv -f {target}.new {target}
if ! {nginx} -t -q; then
  if [ -f {kept} ]; then mv -f {kept} {target}; else rm -f {target}; fi
  echo "nginx -t refused the new site; the previous one is back in place" >&2; exit 1
fi
set -e
{reload}"""
    commands = (
        Command(f"mkdir -p {quote(config.nginx_sites)}"),
        Command(check, nginx_site(config, layout, upstreams)),
    )
    return Step(
        "nginx",
        f"write {site} ({len(upstreams)} upstream(s)), nginx -t, reload",
        commands,
        hint="fix the nginx configuration on this host",
    )
