"""ini files: sections, syntax, variables, notes and errors (usher.options.load_settings)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from usher.options import ConfigError, Loaded, load_settings

DATA = Path(__file__).parent / "data" / "ini"


def write_ini(tmp_path: Path, text: str, name: str = "app.ini") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def load_ini(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Loaded:
    return load_settings(["--ini", write_ini(tmp_path, text)], env or {})


def ini_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_ini(tmp_path, text, env)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- sections ---------------------------------------------------------------------------------


def test_reads_the_uwsgi_section_only(tmp_path: Path) -> None:
    loaded = load_ini(
        tmp_path, "[other]\nprocesses = 9\n[uwsgi]\nprocesses = 2\n[more]\nthreads = 9\n"
    )
    assert loaded.settings.processes == 2 and loaded.settings.threads == 1
    assert loaded.notes == ()


def test_falls_back_to_the_usher_section(tmp_path: Path) -> None:
    assert load_ini(tmp_path, "[usher]\nprocesses = 3\n").settings.processes == 3


def test_prefers_uwsgi_and_notes_the_unread_usher_section(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[usher]\nprocesses = 3\n[uwsgi]\nprocesses = 2\n")
    assert loaded.settings.processes == 2
    path = f"{tmp_path}/app.ini"
    assert loaded.notes == (f"{path}: its [usher] section was not read; load it as {path}:usher",)


def test_a_named_section() -> None:
    path = str(DATA / "layered.ini")
    staging = load_settings(["--ini", f"{path}:staging"], {}).settings
    assert staging.http_socket == (":9000",) and staging.processes == 1
    default = load_settings([path], {}).settings
    assert default.http_socket == (":8000",) and default.processes == 2


def test_a_bare_argument_with_a_section() -> None:
    settings = load_settings([f"{DATA / 'layered.ini'}:staging"], {}).settings
    assert settings.processes == 1 and settings.ini == (f"{DATA / 'layered.ini'}:staging",)


def test_missing_sections_are_errors(tmp_path: Path) -> None:
    path = write_ini(tmp_path, "[uwsgi]\nprocesses = 2\n")
    with pytest.raises(ConfigError) as caught:
        load_settings([f"{path}:prod"], {})
    assert str(caught.value) == (
        f"command line: ini: {path} has no [prod] section; pick one of its sections: [uwsgi]"
    )
    assert "has no [uwsgi] or [usher] section" in ini_error(tmp_path, "[server]\nprocesses = 2\n")


def test_keys_before_any_section_are_noted(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "processes = 5\n[uwsgi]\nthreads = 2\n")
    assert loaded.settings.processes == 1
    assert loaded.notes == (f"{tmp_path}/app.ini:1: processes is outside any section; ignored",)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(["--ini", str(tmp_path / "nope.ini")], {})
    assert "cannot read" in str(caught.value) and "No such file" in str(caught.value)
    binary = tmp_path / "bin.ini"
    binary.write_bytes(b"[uwsgi]\nchdir = \xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_settings([str(binary)], {})


def test_malformed_lines(tmp_path: Path) -> None:
    assert ini_error(tmp_path, "[uwsgi\nmaster\n").startswith(f"{tmp_path}/app.ini:1: [uwsgi:")
    assert ini_error(tmp_path, "[uwsgi]\n= 4\n").startswith(f"{tmp_path}/app.ini:2: = 4: the line")


# -- syntax -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["true", "TRUE", "on", "Yes", "1"])
def test_true_words(tmp_path: Path, word: str) -> None:
    assert load_ini(tmp_path, f"[uwsgi]\nmaster = {word}\n").settings.master is True


@pytest.mark.parametrize("word", ["false", "Off", "NO", "0"])
def test_false_words(tmp_path: Path, word: str) -> None:
    assert load_ini(tmp_path, f"[uwsgi]\nneed-app = {word}\n").settings.need_app is False


def test_other_boolean_words_are_errors(tmp_path: Path) -> None:
    message = ini_error(tmp_path, "[uwsgi]\n\nmaster = enabled\n")
    assert message == (
        f"{tmp_path}/app.ini:3: master: 'enabled' is not a boolean; "
        "use true or false (also on/off, yes/no, 1/0)"
    )


def test_bare_keys(tmp_path: Path) -> None:
    settings = load_ini(tmp_path, "[uwsgi]\nmaster\nvacuum\nchmod-socket\n").settings
    assert settings.master and settings.vacuum and settings.chmod_socket == "666"
    message = ini_error(tmp_path, "[uwsgi]\nprocesses\n")
    assert message.startswith(f"{tmp_path}/app.ini:2: processes: needs a value; write processes")


def test_comments_and_blank_lines(tmp_path: Path) -> None:
    text = "; top\n# top\n[uwsgi]\n\n  ; indented\n\t# tabbed\nprocesses = 2\n"
    loaded = load_ini(tmp_path, text)
    assert loaded.settings.processes == 2 and loaded.notes == ()


def test_repeated_keys(tmp_path: Path) -> None:
    text = "[uwsgi]\nprocesses = 2\nsocket = :1\nprocesses = 3\nsocket = :2\nworkers = 4\n"
    settings = load_ini(tmp_path, text).settings
    assert settings.socket == (":1", ":2") and settings.processes == 4


def test_aliases_in_ini(tmp_path: Path) -> None:
    text = "[uwsgi]\nuwsgi-socket = :1\nwsgi = app\nvirtualenv = /v\nfile = a.py\npp = /x\n"
    settings = load_ini(tmp_path, text).settings
    assert settings.socket == (":1",) and settings.module == "app" and settings.home == "/v"
    assert settings.wsgi_file == "a.py" and settings.pythonpath == ("/x",)


def test_values_keep_inner_equals_and_semicolons(tmp_path: Path) -> None:
    settings = load_ini(tmp_path, "[uwsgi]\nenv = PATH=/a;/b\nenv=A=b\n").settings
    assert settings.env == ("PATH=/a;/b", "A=b")


@pytest.mark.parametrize("marker", ["#", ";"])
def test_inline_comments_are_stripped_with_a_note(tmp_path: Path, marker: str) -> None:
    loaded = load_ini(tmp_path, f"[uwsgi]\nsocket = 127.0.0.1:8000 {marker} for nginx\n")
    assert loaded.settings.socket == ("127.0.0.1:8000",)
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: text after ' {marker}' in socket was dropped as a comment "
        "(uWSGI would keep it in the value); put comments on their own line",
    )


def test_inline_comment_after_a_bare_key(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nmaster\t; supervise\n")
    assert loaded.settings.master and len(loaded.notes) == 1


def test_bad_values_name_the_file_and_line(tmp_path: Path) -> None:
    message = ini_error(tmp_path, "[uwsgi]\nmaster\nprocesses = many\n")
    assert message == (
        f"{tmp_path}/app.ini:3: processes: 'many' is not a whole number; use a whole number >= 1"
    )
    listener = ini_error(tmp_path, "[uwsgi]\nhttp-socket = :70000\n")
    assert listener.startswith(f"{tmp_path}/app.ini:2: http-socket: ':70000' has no valid port")


# -- unknown keys and placeholders ------------------------------------------------------------


def test_unknown_keys_are_notes_with_a_suggestion(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nproceses = 4\nfrobnicate = 1\nproceses = 5\n")
    assert loaded.settings.processes == 1
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: proceses is not an usher option, ignored; did you mean processes?",
        f"{tmp_path}/app.ini:3: frobnicate is not an usher option, ignored",
    )


def test_placeholders_chain_through_unknown_keys(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\n"
        "module = %(project).wsgi\n"  # refers to a key defined below
        "project = %(name)site\n"
        "name = my\n"
        "socket = /run/%(project).sock\n"
        "chdir = /srv/%(socket)\n"  # known options are variables too (the first value)
    )
    loaded = load_ini(tmp_path, text)
    assert loaded.settings.module == "mysite.wsgi"
    assert loaded.settings.socket == ("/run/mysite.sock",)
    assert loaded.settings.chdir == "/srv//run/mysite.sock"
    assert loaded.notes == ()  # project and name are used, so they are not reported


def test_first_definition_of_a_placeholder_counts(tmp_path: Path) -> None:
    text = "[uwsgi]\nbase = /a\nbase = /b\nchdir = %(base)\n"
    assert load_ini(tmp_path, text).settings.chdir == "/a"


def test_undefined_placeholders_are_kept_with_a_note(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nchdir = /srv/%(nothing)\n")
    assert loaded.settings.chdir == "/srv/%(nothing)"
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: %(nothing) in chdir names no ini key; kept as written",
    )


def test_log_format_keeps_its_own_placeholders_quietly(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nlog-format = %(addr) %(method) %(uri) %(status)\n")
    assert loaded.settings.log_format == "%(addr) %(method) %(uri) %(status)"
    assert loaded.notes == ()


def test_placeholder_cycles_are_errors(tmp_path: Path) -> None:
    message = ini_error(tmp_path, "[uwsgi]\na = %(b)\nb = %(a)\nchdir = %(a)\n")
    assert "placeholders refer to themselves (a -> b -> a)" in message


def test_environment_references(tmp_path: Path) -> None:
    text = "[uwsgi]\nhome = $(HOME)/venv\nchdir = $(NOT_SET)/x\n"
    loaded = load_ini(tmp_path, text, env={"HOME": "/home/web"})
    assert loaded.settings.home == "/home/web/venv" and loaded.settings.chdir == "/x"
    assert loaded.notes == (
        f"{tmp_path}/app.ini:3: $(NOT_SET) in chdir is not set in the environment; used ''",
    )


def test_environment_references_inside_placeholders(tmp_path: Path) -> None:
    text = "[uwsgi]\nroot = $(ROOT)\nchdir = %(root)/app\n"
    assert load_ini(tmp_path, text, env={"ROOT": "/srv"}).settings.chdir == "/srv/app"


# -- magic variables --------------------------------------------------------------------------


def test_magic_variables(tmp_path: Path) -> None:
    text = (
        "[uwsgi]\n"
        "chdir = %d\n"
        "pidfile = %p\n"
        "logto = %s\n"
        "module = %n\n"
        "daemonize = %e|%c\n"
        "home = %h\n"
        "env = CORES=%k\n"
        "log-format = 100%% %q %\n"
    )
    path = write_ini(tmp_path, text, "conf/site.prod.ini")
    settings = load_settings([path], {}).settings
    assert settings.chdir == f"{tmp_path}/conf/"
    assert settings.pidfile == f"{tmp_path}/conf/site.prod.ini"
    assert settings.logto == "site.prod.ini"
    assert settings.module == "site.prod"
    assert settings.daemonize == "ini|conf"
    assert settings.home == socket.gethostname()
    assert settings.env == (f"CORES={os.cpu_count()}",)
    assert settings.log_format == "100% %q %"  # unknown letters and a trailing % stay


def test_magic_paths_are_absolute_for_relative_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini(tmp_path, "[uwsgi]\nchdir = %d\npidfile = %p\n", "rel.ini")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(["rel.ini"], {}).settings
    assert settings.chdir == f"{tmp_path}/" and settings.pidfile == f"{tmp_path}/rel.ini"


def test_a_placeholder_expands_magic_in_the_file_that_defined_it(tmp_path: Path) -> None:
    write_ini(tmp_path, "[uwsgi]\nbase_dir = %d\n", "shared/base.ini")
    main = write_ini(
        tmp_path, "[uwsgi]\nini = %d/shared/base.ini\nchdir = %(base_dir)app\n", "main.ini"
    )
    settings = load_settings([main], {}).settings
    assert settings.chdir == f"{tmp_path}/shared/app"
    assert settings.ini == (main, f"{tmp_path}//shared/base.ini")


# -- includes and real files ------------------------------------------------------------------


def test_includes_load_in_place(tmp_path: Path) -> None:
    write_ini(tmp_path, "[uwsgi]\nprocesses = 2\nsocket = :2\n", "base.ini")
    main = write_ini(tmp_path, "[uwsgi]\nsocket = :1\nini = %dbase.ini\nsocket = :3\n", "main.ini")
    settings = load_settings([main], {}).settings
    assert settings.socket == (":1", ":2", ":3") and settings.processes == 2


def test_include_loops_are_errors(tmp_path: Path) -> None:
    write_ini(tmp_path, "[uwsgi]\nini = %da.ini\n", "b.ini")
    first = write_ini(tmp_path, "[uwsgi]\nini = %db.ini\n", "a.ini")
    with pytest.raises(ConfigError, match=r"b\.ini:2: ini: including .*a\.ini again makes a loop"):
        load_settings([first], {})


def test_a_typical_django_config() -> None:
    loaded = load_settings([str(DATA / "django.ini")], {})
    settings = loaded.settings
    assert settings.chdir == "/srv/mysite/src" and settings.home == "/srv/mysite/venv"
    assert settings.module_and_callable == ("mysite.wsgi", "application")
    assert settings.env_pairs == (("DJANGO_SETTINGS_MODULE", "mysite.settings.production"),)
    assert settings.listeners == (("uwsgi", "/run/mysite/uwsgi.sock"),)
    assert settings.socket_mode == 0o660 and settings.master and settings.processes == 4
    assert settings.buffer_size == 32768 and settings.post_buffering == 8192
    origin = f"{DATA / 'django.ini'}"
    assert loaded.notes == (
        f"{origin}:14: enable-threads is accepted and ignored: "
        "usher always lets the app start its own threads",
        f"{origin}:15: thunder-lock is accepted and ignored: "
        "usher has no accept lock or shared-memory locks; each connection is accepted by one worker",
        f"{origin}:16: plugins is accepted and ignored: "
        "usher has Python support built in and no plugins to load",
    )


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for level in range(20):
        write_ini(tmp_path, f"[uwsgi]\nini = %d{level + 1}.ini\n", f"{level}.ini")
    write_ini(tmp_path, "[uwsgi]\nmaster\n", "20.ini")
    with pytest.raises(ConfigError, match="ini files nest more than 16 deep"):
        load_settings([str(tmp_path / "0.ini")], {})
    assert load_settings([str(tmp_path / "10.ini")], {}).settings.master
