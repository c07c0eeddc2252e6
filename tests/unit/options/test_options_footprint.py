"""The option readers keep what only some configs need out of the master (and so out of every
worker it forks): the uWSGI name table, the JSON and XML parsers, glob, pwd and grp."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ON_DEMAND = ("usher.options.uwsgi_name_table", "json", "xml.etree.ElementTree", "glob", "pwd")

PROBE = """
import sys
from usher.options import load_settings
load_settings(sys.argv[1:], {})
print("\\n".join(sorted(sys.modules)))
"""


def modules_after_loading(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_usher_options_and_ini_files_import_nothing_on_demand(tmp_path: Path) -> None:
    ini = tmp_path / "app.ini"
    ini.write_text("[uwsgi]\nif-env = HOME\nprocesses = %(%k * 2)\nendif\nchdir = %d\n")
    loaded = modules_after_loading("--http-socket", ":0", str(ini))
    assert not set(ON_DEMAND) & loaded


def test_each_is_imported_by_the_config_that_needs_it(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "app.json").write_text('{"uwsgi": {"processes": 2}}')
    (tmp_path / "app.xml").write_text("<uwsgi><master/></uwsgi>")
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[uwsgi]\noffload-threads = 2\nfor-glob = %dconf.d/*.ini\nendfor\npidfile = /run/%U\n"
    )
    loaded = modules_after_loading(str(tmp_path / "app.json"), str(tmp_path / "app.xml"), str(ini))
    assert set(ON_DEMAND) <= loaded
