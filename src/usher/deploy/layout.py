"""Where everything lives under a site root on a host (docs/deploy.md draws the same tree).

<root>/releases/<UTC timestamp>-<commit>/   one per deploy: code, venv, usher.ini
<root>/current -> releases/<name>           switched by rename, so always whole
<root>/shared/{media,static,db,env}         kept across releases
<root>/repo.git                             a bare clone, fetched on each deploy
<root>/cache/pip                            pip's wheel cache, shared by the releases' venvs
<root>/run, <root>/log                      pidfile and socket (without systemd), logs
<root>/.deploy-lock/                        exists while a deploy runs; `holder` says whose
<root>/.deploy-timings                      how long each step took in the last good deploy
"""

from __future__ import annotations

from dataclasses import dataclass

from usher.deploy.config import DeployConfig


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one site root; `release` is the release this plan installs or switches to."""

    root: str
    release_name: str

    @property
    def releases(self) -> str:
        return f"{self.root}/releases"

    @property
    def release(self) -> str:
        return f"{self.releases}/{self.release_name}"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    @property
    def shared(self) -> str:
        return f"{self.root}/shared"

    @property
    def env_dir(self) -> str:
        return f"{self.shared}/env"

    @property
    def secret_env(self) -> str:
        """SECRET_KEY, written once: sessions and signed cookies survive every later deploy."""
        return f"{self.env_dir}/secret.env"

    @property
    def app_env(self) -> str:
        """ALLOWED_HOSTS, silenced checks and the config's `env`, rewritten by each deploy."""
        return f"{self.env_dir}/app.env"

    @property
    def repo(self) -> str:
        return f"{self.root}/repo.git"

    @property
    def pip_cache(self) -> str:
        return f"{self.root}/cache/pip"

    @property
    def run_dir(self) -> str:
        return f"{self.root}/run"

    @property
    def pidfile(self) -> str:
        return f"{self.run_dir}/usher.pid"

    @property
    def log_file(self) -> str:
        return f"{self.root}/log/usher.log"

    @property
    def timings(self) -> str:
        """`step:seconds` of the last successful deploy here: the yardstick of progress bars."""
        return f"{self.root}/.deploy-timings"

    @property
    def lock(self) -> str:
        return f"{self.root}/.deploy-lock"


def layout_for(config: DeployConfig, release_name: str) -> Layout:
    """The layout of `config`'s site root for one release."""
    return Layout(config.site_root, release_name)


def release_name(timestamp: str, commit: str) -> str:
    """`20261203T081500Z-0123456789ab`: sorts by time, says which commit."""
    return f"{timestamp}-{commit[:12]}"
