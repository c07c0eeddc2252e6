"""The [deploy] section: defaults, hosts with roles, and one-line errors that name the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from usher.deploy.config import find_config, load_config
from usher.options import ConfigError

MINIMAL = """[uwsgi]
module = ignored:app

[deploy]
repo = git@example.com:me/mysite.git
host = deploy@203.0.113.10 app front
host = 203.0.113.11:2222
site_root = /srv/mysite/
settings_module = mysite.settings
"""


def write(tmp_path: Path, text: str, name: str = "deploy.ini") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_and_hosts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.name == "mysite" and config.site_root == "/srv/mysite"
    assert config.module == "mysite.wsgi:application" and config.branch == "main"
    first, second = config.hosts
    assert (first.user, first.address, first.port, first.roles) == (
        "deploy",
        "203.0.113.10",
        22,
        frozenset({"app", "front"}),
    )
    assert (second.user, second.label, second.roles) == (
        "root",
        "203.0.113.11:2222",
        frozenset({"app"}),
    )
    assert config.allowed_hosts == ("203.0.113.10", "203.0.113.11")
    assert config.keep_releases == 5 and config.process_manager == "auto" and not config.nginx
    assert (
        config.source == tmp_path and config.known_hosts == Path("~/.ssh/known_hosts").expanduser()
    )


def test_ipv6_hosts_are_written_in_brackets(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "host = deploy@[2001:db8::7]:2222 app\n"))
    assert (config.hosts[-1].address, config.hosts[-1].port) == ("2001:db8::7", 2222)
    assert config.hosts[-1].label == "[2001:db8::7]:2222"


def test_usher_ini_is_found_when_it_has_a_deploy_section(tmp_path: Path) -> None:
    write(tmp_path, "[uwsgi]\nmodule = app\n", "usher.ini")
    with pytest.raises(ConfigError, match="--config"):
        find_config(None, tmp_path)
    write(tmp_path, MINIMAL, "usher.ini")
    assert find_config(None, tmp_path) == tmp_path / "usher.ini"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("keep_release = 3", "keep_release: unknown deploy key; did you mean keep_releases?"),
        ("keep_releases = 1", "keep_releases: not a number >= 2"),
        (
            "process_manager = supervisord",
            "unknown value 'supervisord'; use one of auto, systemd, none",
        ),
        ("host = 203.0.113.12 db", "unknown role in '203.0.113.12 db'"),
        (
            "host = 203.0.113.12 worker",
            "attach_daemon: worker hosts run only attach_daemon commands and none is set",
        ),
        ("env = NOEQUALS", "env: not KEY=VALUE"),
        ("https = maybe", "https: not a boolean"),
        ("framework = wsgi\nmodule = app:app\ndebug = true", "debug: only Django's DEBUG"),
    ],
)
def test_mistakes_are_one_line_errors_with_the_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, MINIMAL + line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_required_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="repo: is required"):
        load_config(write(tmp_path, MINIMAL.replace("repo =", "; repo =")))
    with pytest.raises(ConfigError, match="site_root: must be absolute"):
        load_config(write(tmp_path, MINIMAL.replace("/srv/mysite/", "srv")))


def test_docs_list_every_config_key() -> None:
    """docs/deploy.md's key table and the config's keys agree (the docs do not drift)."""
    from usher.deploy.config import KEYS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.MULTILINE))
    assert documented == set(KEYS)
