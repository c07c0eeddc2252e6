"""Command line, environment and their precedence over ini files (usher.options.load_settings)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import usher
from usher.options import (
    ConfigError,
    HelpRequested,
    Loaded,
    Settings,
    VersionRequested,
    load_settings,
)


def load(*argv: str, env: dict[str, str] | None = None) -> Loaded:
    return load_settings(list(argv), env or {})


def error(*argv: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*argv, env=env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def write_ini(tmp_path: Path, text: str, name: str = "app.ini") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- defaults ---------------------------------------------------------------------------------


def test_no_sources_gives_the_defaults() -> None:
    loaded = load()
    assert loaded.settings == Settings()
    assert loaded.notes == ()
    settings = loaded.settings
    assert settings.processes == 1 and settings.threads == 1 and settings.listen == 100
    assert settings.need_app is True and settings.master is False
    assert settings.buffer_size == 4096 and settings.post_buffering == 65536
    assert settings.limit_post == 0 and settings.socket_timeout == 4
    assert settings.http_timeout == 60 and settings.worker_reload_mercy == 60
    assert settings.callable == "application" and settings.listeners == ()


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().processes = 2  # type: ignore[misc]


# -- command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--processes", "4"],
        ["--processes=4"],
        ["-p", "4"],
        ["-p4"],
        ["--workers", "4"],
        ["--processes", "2", "--processes", "4"],
    ],
)
def test_command_line_value_forms(argv: list[str]) -> None:
    assert load(*argv).settings.processes == 4


def test_boolean_flags_take_no_value_but_accept_an_explicit_one() -> None:
    settings = load("--master", "--vacuum", "--need-app=false", "--lazy-apps=yes").settings
    assert settings.master and settings.vacuum and settings.lazy_apps
    assert settings.need_app is False
    assert load("--master", "--master=off").settings.master is False


def test_short_flags_group_like_getopt() -> None:
    settings = load("-ML", "-Mp4", "-s", ":3031", "-s:3032").settings
    assert settings.master and settings.disable_logging and settings.processes == 4
    assert settings.socket == (":3031", ":3032")


def test_every_short_flag() -> None:
    argv = ["-s", ":1", "-p", "2", "-M", "-w", "app:main", "-b", "8192"]
    argv += ["-H", "/venv", "-L", "-d", "/tmp/u.log", "-z", "9"]
    settings = load(*argv).settings
    assert settings.socket == (":1",)
    assert settings.processes == 2 and settings.master and settings.disable_logging
    assert settings.module == "app:main" and settings.buffer_size == 8192
    assert settings.home == "/venv" and settings.daemonize == "/tmp/u.log"
    assert settings.socket_timeout == 9


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["--uwsgi-socket", ":3031"], "socket", (":3031",)),
        (["--wsgi", "site.wsgi"], "module", "site.wsgi"),
        (["--file", "app.py"], "wsgi_file", "app.py"),
        (["--virtualenv", "/v"], "home", "/v"),
        (["--venv", "/v"], "home", "/v"),
        (["--pyhome", "/v"], "home", "/v"),
        (
            ["--python-path", "/a", "--pp", "/b", "--pythonpath", "/c"],
            "pythonpath",
            ("/a", "/b", "/c"),
        ),
        (["--chmod", "660"], "chmod_socket", "660"),
        (["--logformat", "%(uri)"], "log_format", "%(uri)"),
        (["--lazy"], "lazy_apps", True),
        (["--http11-socket", ":8"], "http_socket", (":8",)),
        (["-C", "600", "-l", "50"], "listen", 50),
    ],
)
def test_aliases(argv: list[str], field: str, expected: object) -> None:
    assert getattr(load(*argv).settings, field) == expected


def test_unknown_long_flag_suggests_the_closest_option() -> None:
    message = error("--proceses", "4")
    assert message == "command line: --proceses: unknown option; did you mean --processes?"
    assert "did you mean --http-socket?" in error("--http_socket", ":80")
    assert "usher --help" in error("--frobnicate")


def test_unknown_short_flag() -> None:
    assert error("-q") == "command line: -q: unknown option; run usher --help"


def test_a_value_is_required_where_the_option_needs_one() -> None:
    assert "--socket: needs a value" in error("--socket")
    assert "--processes: needs a value" in error("--processes", "--master")


def test_stray_argument_is_an_error() -> None:
    assert "'app.py': unexpected argument" in error("app.py")


def test_config_error_contract() -> None:
    with pytest.raises(ConfigError) as caught:
        load("--processes", "many")
    problem = caught.value
    assert ConfigError.exit_status == 2
    assert problem.source == "command line" and problem.option == "--processes"
    assert str(problem) == (
        "command line: --processes: 'many' is not a whole number; use a whole number >= 1"
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--processes", "0"], "0 is out of range"),
        (["--threads", "-1"], "-1 is out of range"),
        (["--buffer-size", "512"], "use a whole number >= 1024"),
        (["--limit-post", "-5"], "use a whole number >= 0"),
        (["--master=maybe"], "'maybe' is not a boolean"),
        (["--http-socket", "localhost:99999"], "has no valid port"),
        (["--module", "my-app"], "not an importable module"),
        (["--env", "NOEQUALS"], "is not KEY=VALUE"),
        (["--callable", "2app"], "is not a Python name"),
        (["--uid", "www data"], "is not a user or group"),
    ],
)
def test_bad_command_line_values(argv: list[str], fragment: str) -> None:
    assert fragment in error(*argv)


def test_help_and_version() -> None:
    for flag in ("--help", "-h"):
        with pytest.raises(HelpRequested) as helped:
            load("--processes", "2", flag, "--whatever")
        assert helped.value.exit_status == 0
        assert "-p, --processes N" in helped.value.text
    with pytest.raises(VersionRequested) as version:
        load("--version")
    assert version.value.text == f"usher {usher.__version__}"


def test_chmod_socket_with_and_without_a_value(tmp_path: Path) -> None:
    assert load("--chmod-socket").settings.chmod_socket == "666"
    assert load("--chmod-socket", "660").settings.chmod_socket == "660"
    assert load("--chmod-socket=0600", "--master").settings.socket_mode == 0o600
    ini = write_ini(tmp_path, "[uwsgi]\nprocesses = 3\n")
    settings = load("--chmod-socket", ini).settings
    assert settings.chmod_socket == "666" and settings.processes == 3
    assert load("--chmod-socket", "--master").settings.master
    assert "not an octal file mode" in error("--chmod-socket=rw")


# -- environment ------------------------------------------------------------------------------


def test_environment_variables_set_options() -> None:
    env = {"UWSGI_HTTP_SOCKET": ":8000", "USHER_PROCESSES": "3", "UWSGI_MASTER": "true"}
    settings = load(env=env).settings
    assert settings.http_socket == (":8000",) and settings.processes == 3 and settings.master


def test_usher_prefix_beats_uwsgi_prefix() -> None:
    env = {
        "UWSGI_PROCESSES": "2",
        "USHER_PROCESSES": "5",
        "UWSGI_SOCKET": ":1",
        "USHER_SOCKET": ":2",
    }
    settings = load(env=env).settings
    assert settings.processes == 5
    assert settings.socket == (":2",)  # replaced, not added to: the override is per option


def test_environment_aliases_and_the_option_name_beating_its_alias() -> None:
    assert load(env={"UWSGI_WORKERS": "6"}).settings.processes == 6
    assert load(env={"UWSGI_WORKERS": "6", "UWSGI_PROCESSES": "7"}).settings.processes == 7
    both = load(env={"UWSGI_UWSGI_SOCKET": ":1", "UWSGI_SOCKET": ":2"}).settings
    assert both.socket == (":1", ":2")


def test_unknown_environment_variables() -> None:
    loaded = load(env={"UWSGI_ORIGINAL_PROC_NAME": "x", "USHER_PROCESES": "4", "PATH": "/bin"})
    assert loaded.settings == Settings()
    assert loaded.notes == (
        "env USHER_PROCESES: not an usher option, ignored; did you mean USHER_PROCESSES?",
    )


def test_bad_environment_value_names_the_variable() -> None:
    message = error(env={"UWSGI_PROCESSES": "lots"})
    assert message.startswith("env UWSGI_PROCESSES: processes: 'lots' is not a whole number")


def test_environment_can_name_an_ini_file(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[uwsgi]\nthreads = 8\n")
    settings = load(env={"UWSGI_INI": ini}).settings
    assert settings.threads == 8 and settings.ini == (ini,)


# -- precedence -------------------------------------------------------------------------------


def test_precedence_defaults_environment_ini_command_line(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[uwsgi]\nprocesses = 3\nthreads = 3\n")
    env = {"USHER_PROCESSES": "2", "USHER_THREADS": "2", "USHER_LISTEN": "50"}
    settings = load("--ini", ini, "--processes", "4", env=env).settings
    assert settings.processes == 4  # command line beats ini and environment
    assert settings.threads == 3  # ini beats environment
    assert settings.listen == 50  # environment beats the default
    assert settings.buffer_size == 4096  # nobody set it


def test_command_line_wins_only_where_given(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[uwsgi]\nprocesses = 4\nmaster = false\n")
    settings = load("--master", ini).settings  # the flag comes before the file, and still wins
    assert settings.master is True and settings.processes == 4


def test_later_ini_files_beat_earlier_ones(tmp_path: Path) -> None:
    first = write_ini(tmp_path, "[uwsgi]\nprocesses = 2\nthreads = 2\n", "first.ini")
    second = write_ini(tmp_path, "[uwsgi]\nprocesses = 3\n", "second.ini")
    settings = load(first, "--ini", second).settings
    assert (settings.processes, settings.threads) == (3, 2)
    assert settings.ini == (first, second)


def test_repeatable_options_accumulate_across_sources_in_order(tmp_path: Path) -> None:
    first = write_ini(tmp_path, "[uwsgi]\nsocket = :2\nsocket = :3\n", "first.ini")
    second = write_ini(tmp_path, "[uwsgi]\nuwsgi-socket = :4\n", "second.ini")
    settings = load("-s", ":5", first, second, "--socket=:6", env={"UWSGI_SOCKET": ":1"}).settings
    assert settings.socket == (":1", ":2", ":3", ":4", ":5", ":6")


def test_every_assignment_is_checked_even_when_overridden(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[uwsgi]\nprocesses = many\n")
    assert error(ini, "--processes", "2").startswith(f"{ini}:2: processes:")


# -- ignored options and derived values -------------------------------------------------------


def test_ignored_options_are_accepted_with_one_note_each(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[uwsgi]\nthunder-lock\nsingle-interpreter = true\n")
    loaded = load(ini, "--plugin", "python3", "--master")
    assert loaded.settings.master  # "python3" was the value of --plugin, not an argument
    assert len(loaded.notes) == 3
    assert loaded.notes[0].startswith(f"{ini}:2: thunder-lock is accepted and ignored: ")
    assert loaded.notes[2] == (
        "command line: --plugin is accepted and ignored: "
        "usher has Python support built in and no plugins to load"
    )


def test_listeners_pair_protocol_and_address() -> None:
    argv = ["--http", ":80", "--socket", "/run/a.sock", "--http-socket", "[::1]:81"]
    assert load(*argv).settings.listeners == (
        ("http", ":80"),
        ("http", "[::1]:81"),
        ("uwsgi", "/run/a.sock"),
    )


def test_module_and_callable() -> None:
    assert Settings().module_and_callable is None
    assert load("-w", "site.wsgi").settings.module_and_callable == ("site.wsgi", "application")
    assert load("-w", "site.wsgi", "--callable", "app").settings.module_and_callable == (
        "site.wsgi",
        "app",
    )
    assert load("-w", "pkg.app:make", "--callable", "x").settings.module_and_callable == (
        "pkg.app",
        "make",
    )


def test_env_pairs_keep_equals_signs_in_values() -> None:
    settings = load("--env", "A=1", "--env", "B=x=y", "--env", "C=").settings
    assert settings.env_pairs == (("A", "1"), ("B", "x=y"), ("C", ""))
