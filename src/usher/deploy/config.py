"""Read the `[deploy]` section of an ini file into a frozen `DeployConfig`.

The file is usher's ini style (usher.options' parser: `key = value`, `;`/`#` comments, repeated
keys repeat). Only the `[deploy]` section is read; every key is listed in `KEYS` so a typo is an
error with a suggestion instead of a silently ignored line. Hosts are written one per line:

    host = [user@]address[:port] [role ...] [SHA256:fingerprint]    ; roles: app (default), front, worker
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

from usher.deploy.hosts import Host, parse_host
from usher.options import ConfigError
from usher.options.errors import Origin
from usher.options.ini import parse_ini

SECTION = "deploy"
# Looked for in this order in the working directory when --config is not given.
DEFAULT_FILES = ("deploy.ini", "usher.ini")
HOST_PLACEHOLDER = "{host}"
Framework = Literal["django", "wsgi"]
ProcessManager = Literal["auto", "systemd", "none"]
# Maps, not tuples, so that a checked value comes back with its Literal type.
_FRAMEWORKS: Mapping[str, Framework] = {"django": "django", "wsgi": "wsgi"}
_MANAGERS: Mapping[str, ProcessManager] = {"auto": "auto", "systemd": "systemd", "none": "none"}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class VaultSource:
    """Where the secrets of `app.env` are read from a Vault KV version 2 engine, on this machine.

    The token is never in the file nor on a command line: it is read from the environment
    variable `token_env`, else from `token_file` (the vault CLI's `~/.vault-token`).
    """

    address: str
    mount: str
    path: str
    token_env: str
    token_file: Path
    ca_cert: Path | None


@dataclass(frozen=True, slots=True)
class DeployConfig:
    """Everything `usher deploy` needs to know, validated; paths on hosts are absolute."""

    name: str
    repo: str
    branch: str
    commit: str | None
    source: Path
    hosts: tuple[Host, ...]
    identity: Path | None
    known_hosts: Path
    site_root: str
    python: str
    requirements: str
    usher_requirement: str
    venv_system_site_packages: bool
    framework: Framework
    project_dir: str
    settings_module: str
    module: str
    allowed_hosts: tuple[str, ...]
    https: bool
    debug: bool
    silence: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    env_file: Path | None
    processes: int
    socket: str
    http: str
    health_http: str
    health_path: str
    health_timeout: int
    keep_releases: int
    process_manager: ProcessManager
    nginx: bool
    nginx_sites: str
    nginx_command: str
    nginx_listen: str
    server_name: str
    service_user: str
    vault: VaultSource | None = None
    # The commands a worker host's usher runs and restarts (uWSGI's attach-daemon).
    attach_daemon: tuple[str, ...] = ()
    # Every host of the file, also when --hosts deploys to some of them: a front balances them all.
    every_host: tuple[Host, ...] = ()

    def for_host(self, host: Host) -> DeployConfig:
        """This config as `host` sees it: `{host}` in socket, http and health_http is its address.

        Binding each app host's own address (`socket = {host}:3031`) keeps the uwsgi port off
        every other interface of the host.
        """
        return replace(
            self,
            socket=self.socket.replace(HOST_PLACEHOLDER, host.address),
            http=self.http.replace(HOST_PLACEHOLDER, host.address),
            health_http=self.health_http.replace(HOST_PLACEHOLDER, host.address),
        )

    def app_hosts(self) -> tuple[Host, ...]:
        """The hosts that run a release: the site (`app`) or its daemons (`worker`)."""
        return tuple(host for host in self.hosts if host.roles & {"app", "worker"})

    def balanced_hosts(self) -> tuple[Host, ...]:
        """The app hosts a front's nginx lists: all of the file's, whatever --hosts chose."""
        return tuple(host for host in self.every_host or self.hosts if "app" in host.roles)

    def front_hosts(self) -> tuple[Host, ...]:
        """The hosts whose nginx balances across the app hosts."""
        return tuple(host for host in self.hosts if "front" in host.roles)


# Every key of [deploy] and its default ("" for none). Kept as data so that unknown keys get a
# suggestion and docs/deploy.md's table can be checked against it.
KEYS: Mapping[str, str] = {
    "name": "",
    "repo": "",
    "branch": "main",
    "commit": "",
    "source": ".",
    "host": "",
    "user": "root",
    "identity": "",
    "known_hosts": "~/.ssh/known_hosts",
    "site_root": "",
    "python": "python3",
    "requirements": "requirements.txt",
    "usher_requirement": "",
    "venv_system_site_packages": "false",
    "framework": "django",
    "project_dir": ".",
    "settings_module": "",
    "module": "",
    "allowed_hosts": "",
    "https": "false",
    "debug": "false",
    "silence": "",
    "env": "",
    "env_file": "",
    "processes": "2",
    "socket": "",
    "http": "127.0.0.1:8000",
    "health_http": "127.0.0.1:8001",
    "health_path": "/",
    "health_timeout": "30",
    "keep_releases": "5",
    "process_manager": "auto",
    "nginx": "false",
    "nginx_sites": "/etc/nginx/sites-enabled",
    "nginx_command": "nginx",
    "nginx_listen": "80",
    "server_name": "",
    "service_user": "",
    "vault_address": "",
    "vault_mount": "secret",
    "vault_path": "",
    "vault_token_env": "VAULT_TOKEN",
    "vault_token_file": "~/.vault-token",
    "vault_ca_cert": "",
    "attach_daemon": "",
}
_REPEATABLE = frozenset({"host", "env", "silence", "allowed_hosts", "attach_daemon"})


@dataclass(frozen=True, slots=True)
class _Values:
    """The raw `[deploy]` lines: the last value of each key, all values of repeatable ones."""

    path: str
    single: Mapping[str, tuple[str, int]]
    many: Mapping[str, tuple[tuple[str, int], ...]]

    def get(self, key: str) -> str:
        return self.single.get(key, (KEYS[key], 0))[0]

    def origin(self, key: str) -> Origin:
        line = self.single.get(key, ("", 0))[1] or next(iter(self.many.get(key, ())), ("", 0))[1]
        return Origin("ini", self.path, line)

    def words(self, key: str) -> tuple[str, ...]:
        return tuple(word for value, _ in self.many.get(key, ()) for word in value.split())


def find_config(explicit: str | None, cwd: Path) -> Path:
    """The deploy file: `--config`, else the first of deploy.ini and usher.ini with [deploy]."""
    if explicit:
        return Path(explicit)
    for name in DEFAULT_FILES:
        candidate = cwd / name
        if candidate.is_file() and f"[{SECTION}]" in candidate.read_text(encoding="utf-8"):
            return candidate
    raise ConfigError(
        str(cwd),
        "[deploy]",
        "no deploy.ini or usher.ini with a [deploy] section here",
        "write one (see docs/deploy.md) or pass --config FILE",
    )


def load_config(path: Path) -> DeployConfig:
    """Read and validate the `[deploy]` section of `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            str(path), "config", f"cannot read it: {error.strerror}", "check the path"
        ) from None
    values = _collect(text, str(path))
    return _build(values, path.parent)


def _collect(text: str, path: str) -> _Values:
    parsed = parse_ini(text, path)
    if SECTION not in parsed.sections:
        raise ConfigError(path, "[deploy]", "the file has no [deploy] section", "add one")
    single: dict[str, tuple[str, int]] = {}
    many: dict[str, list[tuple[str, int]]] = {}
    for line in parsed.lines:
        if line.section != SECTION:
            continue
        key = line.key.replace("-", "_")
        if key not in KEYS:
            close = difflib.get_close_matches(key, list(KEYS), n=1)
            fix = f"did you mean {close[0]}?" if close else "see docs/deploy.md for the keys"
            raise ConfigError(Origin("ini", path, line.number), key, "unknown deploy key", fix)
        value = "true" if line.value is None else line.value
        if key in _REPEATABLE:
            many.setdefault(key, []).append((value, line.number))
        else:
            single[key] = (value, line.number)
    return _Values(path, single, {key: tuple(items) for key, items in many.items()})


def _build(values: _Values, base: Path) -> DeployConfig:
    site_root = _required(values, "site_root")
    if not site_root.startswith("/"):
        raise ConfigError(
            values.origin("site_root"), "site_root", "must be absolute", "write /srv/NAME"
        )
    name = values.get("name") or os.path.basename(site_root.rstrip("/"))
    framework = _choice(values, "framework", _FRAMEWORKS)
    settings_module = values.get("settings_module")
    module = values.get("module") or _default_module(values, framework, settings_module)
    user = values.get("user")
    hosts = tuple(
        parse_host(value, line, values.path, user) for value, line in values.many.get("host", ())
    )
    if not hosts:
        raise ConfigError(values.path, "host", "no host listed", "add host = ADDRESS [app] [front]")
    if framework != "django" and _bool(values, "debug"):
        raise ConfigError(
            values.origin("debug"),
            "debug",
            "only Django's DEBUG is set by usher deploy (its settings overlay)",
            "remove it, or set framework = django",
        )
    daemons = tuple(value.strip() for value, _ in values.many.get("attach_daemon", ()))
    if any("worker" in host.roles for host in hosts) and not daemons:
        raise ConfigError(
            values.origin("host"),
            "attach_daemon",
            "worker hosts run only attach_daemon commands and none is set",
            "add attach_daemon = COMMAND (e.g. celery -A mysite worker)",
        )
    return DeployConfig(
        name=name,
        repo=_required(values, "repo"),
        branch=values.get("branch"),
        commit=values.get("commit") or None,
        source=_local_path(values.get("source"), base),
        hosts=hosts,
        identity=_local_path(values.get("identity"), base) if values.get("identity") else None,
        known_hosts=_local_path(values.get("known_hosts"), base),
        site_root=site_root.rstrip("/"),
        python=values.get("python"),
        requirements=values.get("requirements"),
        usher_requirement=values.get("usher_requirement"),
        venv_system_site_packages=_bool(values, "venv_system_site_packages"),
        framework=framework,
        project_dir=values.get("project_dir").strip("/") or ".",
        settings_module=settings_module,
        module=module,
        allowed_hosts=values.words("allowed_hosts") or tuple(h.address for h in hosts),
        https=_bool(values, "https"),
        debug=_bool(values, "debug"),
        silence=values.words("silence"),
        env=tuple(
            _env_pair(value, line, values.path) for value, line in values.many.get("env", ())
        ),
        env_file=_local_path(values.get("env_file"), base) if values.get("env_file") else None,
        processes=_int(values, "processes", 1),
        socket=values.get("socket"),
        http=values.get("http"),
        health_http=values.get("health_http"),
        health_path=values.get("health_path"),
        health_timeout=_int(values, "health_timeout", 1),
        keep_releases=_int(values, "keep_releases", 2),
        process_manager=_choice(values, "process_manager", _MANAGERS),
        nginx=_bool(values, "nginx"),
        nginx_sites=values.get("nginx_sites"),
        nginx_command=values.get("nginx_command"),
        nginx_listen=values.get("nginx_listen"),
        server_name=values.get("server_name") or " ".join(values.words("allowed_hosts")) or "_",
        service_user=values.get("service_user") or user,
        vault=_vault(values, base),
        attach_daemon=daemons,
        every_host=hosts,
    )


def _vault(values: _Values, base: Path) -> VaultSource | None:
    if not values.get("vault_address"):
        return None
    ca_cert = values.get("vault_ca_cert")
    return VaultSource(
        address=values.get("vault_address").rstrip("/"),
        mount=values.get("vault_mount").strip("/"),
        path=_required(values, "vault_path").strip("/"),
        token_env=values.get("vault_token_env"),
        token_file=_local_path(values.get("vault_token_file"), base),
        ca_cert=_local_path(ca_cert, base) if ca_cert else None,
    )


def _required(values: _Values, key: str) -> str:
    value = values.get(key)
    if not value:
        raise ConfigError(values.path, key, "is required", f"add {key} = ... to [deploy]")
    return value


def _default_module(values: _Values, framework: str, settings_module: str) -> str:
    if framework == "django" and settings_module:
        return settings_module.rpartition(".")[0] + ".wsgi:application"
    key = "settings_module" if framework == "django" else "module"
    raise ConfigError(values.path, key, "is required", f"add {key} = ... to [deploy]")


def _choice(values: _Values, key: str, allowed: Mapping[str, _T]) -> _T:
    value = values.get(key)
    if value not in allowed:
        raise ConfigError(
            values.origin(key), key, f"unknown value {value!r}", f"use one of {', '.join(allowed)}"
        )
    return allowed[value]


def _bool(values: _Values, key: str) -> bool:
    value = values.get(key).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(values.origin(key), key, f"not a boolean: {value!r}", "write true or false")


def _int(values: _Values, key: str, minimum: int) -> int:
    value = values.get(key)
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(
            values.origin(key),
            key,
            f"not a number >= {minimum}: {value!r}",
            f"write {key} = {minimum} or more",
        )
    return int(value)


def _local_path(value: str, base: Path) -> Path:
    # Relative paths are read from the config file's folder, so the file works from any cwd.
    return (base / os.path.expanduser(value)).resolve()


def _env_pair(value: str, line: int, path: str) -> tuple[str, str]:
    key, equals, text = value.partition("=")
    if not equals or not key.strip().isidentifier():
        raise ConfigError(
            Origin("ini", path, line), "env", f"not KEY=VALUE: {value!r}", "write env = NAME=value"
        )
    return key.strip(), text.strip()
