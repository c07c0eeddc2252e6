"""The emperor's pure parts: sources to globs, a scan, the changes a scan means, env files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usher.emperor.envfile import EnvFileError, parse_env, read_env_file
from usher.emperor.ondemand import on_demand_address
from usher.emperor.plan import Changes, compare
from usher.emperor.sources import SeenFile, UnsupportedSource, patterns, scan


def seen(path: str, mtime: int, env: int = 0) -> SeenFile:
    return SeenFile(path, max(mtime, env), env, 0, 0)


def test_a_directory_means_the_config_formats_usher_reads() -> None:
    assert patterns(("/etc/usher/vassals",)) == (
        "/etc/usher/vassals/*.ini",
        "/etc/usher/vassals/*.json",
        "/etc/usher/vassals/*.xml",
    )


def test_a_glob_and_the_dir_and_glob_schemes_are_taken_as_they_are() -> None:
    assert patterns(("/srv/*/uwsgi.ini", "glob:///a/*.ini")) == ("/srv/*/uwsgi.ini", "/a/*.ini")
    assert patterns(("dir:///v",))[0] == "/v/*.ini"


@pytest.mark.parametrize("value", ["zmq://tcp://127.0.0.1:5250", "pg://host=db", "amqp://x"])
def test_other_imperial_monitors_are_refused_by_name(value: str) -> None:
    with pytest.raises(UnsupportedSource) as caught:
        patterns((value,))
    scheme = value.split("://")[0]
    assert f"the {scheme}:// imperial monitor is not supported" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_scan_sees_configs_and_their_env_files(tmp_path: Path) -> None:
    (tmp_path / "a.ini").write_text("[uwsgi]\n")
    (tmp_path / "b.ini").write_text("[uwsgi]\n")
    (tmp_path / "notes.txt").write_text("not a vassal")
    (tmp_path / "b.env").write_text("A=1\n")
    os.utime(tmp_path / "b.env", ns=(0, (tmp_path / "b.ini").stat().st_mtime_ns + 5))
    found = scan(patterns((str(tmp_path),)))
    assert sorted(os.path.basename(path) for path in found) == ["a.ini", "b.ini"]
    b = found[str(tmp_path / "b.ini")]
    assert b.env_mtime_ns == b.mtime_ns == (tmp_path / "b.env").stat().st_mtime_ns
    assert found[str(tmp_path / "a.ini")].env_mtime_ns == 0


def test_a_scan_follows_symlinks_to_the_apps_own_ini(tmp_path: Path) -> None:
    target = tmp_path / "app.ini"
    target.write_text("[uwsgi]\n")
    (tmp_path / "vassals").mkdir()
    (tmp_path / "vassals" / "app.ini").symlink_to(target)
    (tmp_path / "vassals" / "dangling.ini").symlink_to(tmp_path / "missing.ini")
    found = scan(patterns((str(tmp_path / "vassals"),)))
    assert list(found) == [str(tmp_path / "vassals" / "app.ini")]
    assert next(iter(found.values())).mtime_ns == target.stat().st_mtime_ns


def test_compare_names_new_touched_env_changed_and_removed_files() -> None:
    known = {"/v/a.ini": seen("/v/a.ini", 1), "/v/b.ini": seen("/v/b.ini", 1),
             "/v/c.ini": seen("/v/c.ini", 1, env=1), "/v/d.ini": seen("/v/d.ini", 1)}  # fmt: skip
    now = {"/v/a.ini": seen("/v/a.ini", 1), "/v/b.ini": seen("/v/b.ini", 2),
           "/v/c.ini": seen("/v/c.ini", 1, env=3), "/v/e.ini": seen("/v/e.ini", 1)}  # fmt: skip
    assert compare(known, now) == Changes(
        start=("/v/e.ini",), reload=("/v/b.ini",), restart=("/v/c.ini",), stop=("/v/d.ini",)
    )
    assert compare(now, now) == Changes()


def test_env_files_read_simple_key_value_lines() -> None:
    text = "# comment\n\nGREETING='hello world'\nexport PATH_X=/a:/b\n; other\nEMPTY=\nQ=\"x\"\n"
    assert parse_env(text, "app.env") == {
        "GREETING": "hello world",
        "PATH_X": "/a:/b",
        "EMPTY": "",
        "Q": "x",
    }


@pytest.mark.parametrize("line", ["NOEQUALS", "1X=2", "A B=1"])
def test_env_files_refuse_other_lines_by_file_and_line(line: str) -> None:
    with pytest.raises(EnvFileError, match=r"^app\.env:2: expected KEY=VALUE"):
        parse_env(f"OK=1\n{line}\n", "app.env")


def test_on_demand_addresses_from_a_directory_or_a_file_beside_the_config(tmp_path: Path) -> None:
    config = tmp_path / "shop.ini"
    assert on_demand_address(str(config), "/run/vassals", None) == "/run/vassals/shop.socket"
    assert on_demand_address(str(config), None, ".socket") is None  # no such file: not on demand
    (tmp_path / "shop.ini.socket").write_text("127.0.0.1:3031\nignored\n")
    assert on_demand_address(str(config), None, ".socket") == "127.0.0.1:3031"
    assert on_demand_address(str(config), None, None) is None


def test_a_tyrants_env_file_must_belong_to_the_vassals_user(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text("A=1\n")
    mine = os.getuid()
    assert read_env_file(str(env), owner=mine) == {"A": "1"}
    assert read_env_file(str(tmp_path / "none.env"), owner=mine) == {}
    with pytest.raises(EnvFileError, match="not owned by the vassal's user"):
        read_env_file(str(env), owner=mine + 1)
