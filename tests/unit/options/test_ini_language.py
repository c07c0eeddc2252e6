"""The ini language as uWSGI reads it: sections, logic blocks, loops, arithmetic, @(), formats,
numbers written as words, capped sizes and app factories (usher.options.load_settings)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from usher.options import ConfigError, Loaded, load_settings
from usher.options.values import split_factory


def write(tmp_path: Path, text: str, name: str = "app.ini") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def load(tmp_path: Path, text: str, *argv: str, env: dict[str, str] | None = None) -> Loaded:
    return load_settings([write(tmp_path, text), *argv], env or {})


def error(tmp_path: Path, text: str, *argv: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, *argv, env=env)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- sections of the same and other files -------------------------------------------------------


def test_ini_colon_section_loads_a_section_of_the_same_file(tmp_path: Path) -> None:
    text = "[base]\nmaster = true\nprocesses = 2\n[uwsgi]\nini = :base\nprocesses = 4\n"
    loaded = load(tmp_path, text)
    assert loaded.settings.master and loaded.settings.processes == 4
    assert loaded.settings.ini == (f"{tmp_path}/app.ini", ":base")


def test_ini_file_colon_section(tmp_path: Path) -> None:
    write(tmp_path, "[uwsgi]\nprocesses = 9\n[prod]\nprocesses = 3\n", "shared.ini")
    settings = load(tmp_path, "[uwsgi]\nini = %dshared.ini:prod\n").settings
    assert settings.processes == 3


def test_a_section_that_includes_itself_is_a_loop(tmp_path: Path) -> None:
    message = error(tmp_path, "[uwsgi]\nini = :base\n[base]\nini = :uwsgi\n")
    assert message == f"{tmp_path}/app.ini:4: ini: including :uwsgi again makes a loop; " + (
        "remove the ini = line that loops back"
    )


# -- if blocks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"PORT": "9000"}, (":9000",)), ({}, (":8000",))],
)
def test_if_env(tmp_path: Path, env: dict[str, str], expected: tuple[str, ...]) -> None:
    text = (
        "[uwsgi]\nif-env = PORT\nhttp-socket = :%(_)\nendif\n"
        "if-not-env = PORT\nhttp-socket = :8000\nendif\n"
    )
    assert load(tmp_path, text, env=env).settings.http_socket == expected


def test_if_env_holds_for_an_empty_variable_as_in_uwsgi(tmp_path: Path) -> None:
    text = "[uwsgi]\nif-env = FLAG\nmaster = true\nenv = FLAG=[%(_)]\nendif\n"
    settings = load(tmp_path, text, env={"FLAG": ""}).settings
    assert settings.master and settings.env == ("FLAG=[]",)
    assert not load(tmp_path, text).settings.master


def test_if_env_with_a_value(tmp_path: Path) -> None:
    text = "[uwsgi]\nif-env = APP_ENV=prod\nprocesses = 8\nend-if\n"
    assert load(tmp_path, text, env={"APP_ENV": "prod"}).settings.processes == 8
    assert load(tmp_path, text, env={"APP_ENV": "dev"}).settings.processes == 1


def test_path_conditions(tmp_path: Path) -> None:
    (tmp_path / "venv").mkdir()
    (tmp_path / "reload.txt").write_text("")
    text = (
        "[uwsgi]\n"
        "if-exists = %dvenv\nhome = %(_)\nendif\n"
        "if-dir = %dreload.txt\nchdir = wrong\nendif\n"
        "if-file = %dreload.txt\ntouch-reload = %(_)\nendif\n"
        "if-not-exists = %dmissing\npidfile = /run/%n.pid\nendif\n"
        "if-not-file = %dvenv\nlogto = %(_)/log\nendif\n"
        "if-not-dir = %dvenv\nchdir = wrong\nendif\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.home == f"{tmp_path}/venv" and settings.chdir is None
    assert settings.touch_reload == (f"{tmp_path}/reload.txt",)
    assert settings.pidfile == "/run/app.pid" and settings.logto == f"{tmp_path}/venv/log"


def test_if_opt_sees_options_and_keys_set_earlier(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\nworkers = 4\nflavour = django\nflavour = flask\n"
        "if-opt = workers\nthreads = %(_)\nendif\n"
        "if-opt = processes\nlisten = 7\nendif\n"  # the exact key only, as uWSGI
        "if-opt = flavour=django\nmodule = site.wsgi\nendif\n"  # its first value
        "if-not-opt = flavour=flask\nmaster = true\nendif\n"
        "if-opt = later\nchdir = /nope\nendif\nlater = 1\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.threads == 4 and settings.module == "site.wsgi" and settings.master
    assert settings.chdir is None and settings.listen == 100


def test_other_conditions(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\n"
        "if-plugin = python3\nmaster = true\nendif\n"
        "if-not-plugin = php\nvacuum = true\nendif\n"
        "if-reload\nprocesses = 9\nendif\n"
        "if-not-hostname = no-such-host.invalid\nthreads = 2\nendif\n"
        "if-hostname-match = .\nlisten = 50\nendif\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.master and settings.vacuum and settings.processes == 1
    assert settings.threads == 2 and settings.listen == 50


def test_blocks_nest(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\nif-env = A\nfor = 1 2\nif-env = B\nenv = X%(_)=1\nendif\nendfor\n"
        "processes = 3\nendif\n"
    )
    settings = load(tmp_path, text, env={"A": "1", "B": "b"}).settings
    assert settings.env == ("Xb=1", "Xb=1") and settings.processes == 3
    assert load(tmp_path, text, env={"B": "1"}).settings.processes == 1


def test_block_mistakes(tmp_path: Path) -> None:
    assert error(tmp_path, "[uwsgi]\nendif\n") == (
        f"{tmp_path}/app.ini:2: endif: closes no block; remove it, or add the if-/for line"
    )
    mixed = error(tmp_path, "[uwsgi]\nif-env = A\nfor = a\nendif\nendfor\n")
    assert mixed.endswith("if-env: endif closes a for block; close it with endfor")
    loaded = load(tmp_path, "[uwsgi]\nif-env = HOME\nprocesses = 2\n", env={"HOME": "/h"})
    assert loaded.settings.processes == 2
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: if-env has no endif; its block runs to the end of the section",
    )


# -- loops -------------------------------------------------------------------------------------


def test_for_words(tmp_path: Path) -> None:
    text = "[uwsgi]\nfor = 8001 8002\nhttp-socket = :%(_)\nendfor\n"
    assert load(tmp_path, text).settings.http_socket == (":8001", ":8002")


def test_for_glob_readline_and_times(tmp_path: Path) -> None:
    for name in ("b.ini", "a.ini"):
        write(tmp_path, f"[uwsgi]\nenv = FROM={name}\n", f"conf.d/{name}")
    write(tmp_path, "/opt/one\n\n  /opt/two  \n", "paths.txt")
    text = (
        "[uwsgi]\nfor-glob = %dconf.d/*.ini\n  ini = %(_)\nendfor\n"
        "for-readline = %dpaths.txt\npythonpath = %(_)\nendfor\n"
        "for-times = 3\nenv = N%(_)=%(_)\nendfor\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.env == ("FROM=a.ini", "FROM=b.ini", "N1=1", "N2=2", "N3=3")
    assert settings.pythonpath == ("/opt/one", "/opt/two")


def test_loop_mistakes(tmp_path: Path) -> None:
    assert "for-readline: cannot read /nope.txt" in error(
        tmp_path, "[uwsgi]\nfor-readline = /nope.txt\nendfor\n"
    )
    assert "'many' is not a count" in error(tmp_path, "[uwsgi]\nfor-times = many\nendfor\n")


# -- placeholders ------------------------------------------------------------------------------


def test_arithmetic(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\nprocesses = %(%k * 2)\nthreads = %(base + extra * 2)\nlisten = %(base / 2)\n"
        "cheaper = %(base - 4)\nbase = 5\nextra = 1\nenv = N=%(0 - 7 / 2)\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.processes == 2 * (os.cpu_count() or 1)
    assert settings.threads == 12  # left to right, as uWSGI: (5 + 1) * 2
    assert settings.listen == 2 and settings.cheaper == 1
    assert settings.env == ("N=-3",)  # division truncates toward zero, as C's


def test_arithmetic_mistakes(tmp_path: Path) -> None:
    assert "divides by zero" in error(tmp_path, "[uwsgi]\nprocesses = %(4 / 0)\n")
    message = error(tmp_path, "[uwsgi]\nname = web\nprocesses = %(name + 1)\n")
    assert message.endswith(
        "processes: name in a placeholder formula is 'web', not a whole number; "
        "use numbers, number-valued keys or %k in formulas"
    )


def test_placeholders_defined_later_and_in_later_files(tmp_path: Path) -> None:
    write(tmp_path, "[uwsgi]\nproject = site\n", "later.ini")
    text = (
        "[uwsgi]\nmodule = %(project).wsgi\nchdir = /srv/%(root)\nroot = www\nini = %dlater.ini\n"
    )
    settings = load(tmp_path, text).settings
    assert settings.module == "site.wsgi" and settings.chdir == "/srv/www"


def test_set_and_set_placeholder(tmp_path: Path) -> None:
    text = "[uwsgi]\nset-placeholder = app=blog\nset = processes=3\nset-ph = x=1\nmodule = %(app)\n"
    loaded = load(tmp_path, text)
    assert loaded.settings.processes == 3 and loaded.settings.module == "blog"
    assert loaded.notes == ()
    assert "needs key=value" in error(tmp_path, "[uwsgi]\nset = processes\n")


def test_at_references_need_the_opt_in(tmp_path: Path) -> None:
    write(tmp_path, "4\n", "workers.txt")
    text = "[uwsgi]\nprocesses = @(%dworkers.txt)\n"
    assert error(tmp_path, text) == (
        f"{tmp_path}/app.ini:2: processes: @({tmp_path}/workers.txt) reads a file or runs a "
        "command, which is off by default; allow it with allow-exec-placeholders = true "
        "(or --allow-exec-placeholders)"
    )
    assert load(tmp_path, text, "--allow-exec-placeholders").settings.processes == 4
    in_file = "[uwsgi]\nallow-exec-placeholders = true\n" + text.removeprefix("[uwsgi]\n")
    assert load(tmp_path, in_file).settings.processes == 4
    env = {"USHER_ALLOW_EXEC_PLACEHOLDERS": "1"}
    assert load(tmp_path, text, env=env).settings.processes == 4


def test_exec_references(tmp_path: Path) -> None:
    text = "[uwsgi]\nallow-exec-placeholders\nprocesses = @(exec://echo 3)\n"
    assert load(tmp_path, text).settings.processes == 3
    failing = "[uwsgi]\nallow-exec-placeholders\nchdir = @(exec://exit 4)\n"
    assert "@(exec://exit 4) exited with status 4" in error(tmp_path, failing)
    other = "[uwsgi]\nallow-exec-placeholders\nchdir = @(http://example.com/x)\n"
    assert "usher does not read http://" in error(tmp_path, other)


def test_plain_syntax(tmp_path: Path) -> None:
    text = (
        "\ufeff; comment before the section\r\n# another\r\n[uwsgi]\r\n"
        "  master\r\n\tvacuum = True\r\n  lazy-apps = yes\r\nneed-app = 1\r\n"
        "chdir = $(ROOT)/100%%\r\nlog-format = %(uri) %(_)\r\n"
    )
    loaded = load(tmp_path, text, env={"ROOT": "/srv"})
    settings = loaded.settings
    assert settings.master and settings.vacuum and settings.lazy_apps and settings.need_app
    assert settings.chdir == "/srv/100%" and settings.log_format == "%(uri) %(_)"


def test_more_magic_variables(tmp_path: Path) -> None:
    write(tmp_path, "[shared]\nenv = IN=%n:%x:%N:%X:%0\n", "conf/inner.ini")
    path = write(tmp_path, "[web]\nini = %dconf/inner.ini:shared\nenv = OUT=%x %o\n")
    settings = load_settings([f"{path}:web"], {}).settings
    first_component = str(tmp_path).strip("/").split("/")[0]
    assert settings.env == (f"IN=inner:shared:app:web:{first_component}", f"OUT=web {path}")
    text = "[uwsgi]\nenv = U=%u/%g\nenv = T=%t\nchdir = %v\nlogto = [%e]\n"
    bare = tmp_path / "noext"
    bare.write_text(text)
    loaded = load_settings([f"--ini={bare}"], {}).settings
    assert loaded.env[0] == f"U={os.getuid()}/{os.getgid()}" and loaded.logto == "[]"
    assert loaded.env[1].removeprefix("T=").isdigit() and loaded.chdir == os.getcwd()


# -- values read as uWSGI reads them -------------------------------------------------------------


def test_a_switch_with_an_empty_value_is_set(tmp_path: Path) -> None:
    settings = load(tmp_path, "[uwsgi]\nmaster =\nvacuum = \n").settings
    assert settings.master and settings.vacuum


def test_numbers_written_as_words(tmp_path: Path) -> None:
    text = "[uwsgi]\npost-buffering = true\nthreads = yes\ncheaper = true\nlimit-post = false\n"
    loaded = load(tmp_path, text, "--processes", "4")
    settings = loaded.settings
    assert (settings.post_buffering, settings.threads, settings.cheaper) == (1, 1, 1)
    assert settings.limit_post == 0
    assert loaded.notes[0] == (
        f"{tmp_path}/app.ini:2: post-buffering = true is read as 1, as uWSGI reads it "
        "(post-buffering: request bodies up to this size stay in memory)"
    )
    assert loaded.notes[2].startswith(f"{tmp_path}/app.ini:4: cheaper = true is read as 1")
    assert len(loaded.notes) == 4
    assert "0 is out of range" in error(tmp_path, "[uwsgi]\nprocesses = false\n")


def test_buffer_size_is_capped(tmp_path: Path) -> None:
    loaded = load(tmp_path, "[uwsgi]\nbuffer-size = 65536\n")
    assert loaded.settings.buffer_size == 65535
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: buffer-size = 65536 is capped at 65535 (buffer-size: largest "
        "request head (request line and headers, or uwsgi vars) accepted)",
    )
    assert load_settings(["-b", "131072"], {}).settings.buffer_size == 65535


def test_app_factories(tmp_path: Path) -> None:
    text = "[uwsgi]\nmodule = pkg.app:create_app()\n"
    settings = load(tmp_path, text).settings
    assert settings.module_and_callable == ("pkg.app", "create_app()")
    settings = load(
        tmp_path, "[uwsgi]\nmodule = pkg.app\ncallable = make('prod', debug=1)\n"
    ).settings
    module, attribute = settings.module_and_callable or ("", "")
    name, call = split_factory(attribute)
    assert (module, name) == ("pkg.app", "make") and call is not None
    assert call.invoke(lambda *args, **kwargs: (args, kwargs)) == (("prod",), {"debug": 1})
    assert split_factory("application") == ("application", None)
    assert "other than literals" in error(tmp_path, "[uwsgi]\ncallable = make(os.environ)\n")


# -- other layouts -----------------------------------------------------------------------------


def test_json_configs(tmp_path: Path) -> None:
    document = {
        "uwsgi": {
            "master": True,
            "processes": 4,
            "env": ["A=1", "B=%(processes)"],
            "vacuum": None,
            "lazy-apps": False,
        },
        "staging": {"processes": 1},
    }
    path = write(tmp_path, json.dumps(document), "app.json")
    settings = load_settings([path], {}).settings
    assert settings.master and settings.processes == 4 and settings.vacuum
    assert settings.env == ("A=1", "B=4") and not settings.lazy_apps
    assert load_settings(["--json", f"{path}:staging"], {}).settings.processes == 1
    ini = write(tmp_path, "[uwsgi]\nini = %dapp.json\n")
    assert load_settings([ini], {}).settings.processes == 4
    broken = write(tmp_path, "{", "broken.json")
    with pytest.raises(ConfigError, match=r"broken.json is not valid JSON"):
        load_settings(["--json", broken], {})


def test_xml_configs(tmp_path: Path) -> None:
    text = (
        "<configs><!-- two apps -->\n<uwsgi><master/><processes>3</processes>"
        "<socket>:1</socket><socket>:2</socket></uwsgi>\n"
        '<uwsgi id="small"><processes>1</processes></uwsgi></configs>'
    )
    path = write(tmp_path, text, "app.xml")
    settings = load_settings(["--xml", path], {}).settings
    assert settings.master and settings.processes == 3 and settings.socket == (":1", ":2")
    assert load_settings([f"{path}:small"], {}).settings.processes == 1


def test_uwsgi_short_flags_for_layouts(tmp_path: Path) -> None:
    json_path = write(tmp_path, '{"uwsgi": {"processes": 5}}', "conf")
    xml_path = write(tmp_path, "<uwsgi><threads>3</threads></uwsgi>", "conf2")
    settings = load_settings(["-j", json_path, f"-x{xml_path}"], {}).settings
    assert settings.processes == 5 and settings.threads == 3  # the flag picks the layout
    with pytest.raises(ConfigError, match=r"command line: yaml: .* is YAML"):
        load_settings(["--yaml", write(tmp_path, "uwsgi: {}", "conf3")], {})
    with pytest.raises(ConfigError, match=r"command line: y: .* is YAML"):
        load_settings(["-y", json_path], {})


def test_yaml_is_refused_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "uwsgi:\n  master: true\n", "app.yaml")
    with pytest.raises(ConfigError) as caught:
        load_settings([path], {})
    assert str(caught.value) == (
        f"command line: ini: {path} is YAML, which usher does not read; "
        "convert it to an ini file or to uWSGI's JSON layout"
    )
