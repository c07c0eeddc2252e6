"""Every uWSGI 2.0 option name is known: implemented, config language, accepted or not supported.

`data/uwsgi_option_names.txt` lists the option names of uWSGI 2.0.30's standard build (the core,
the python plugin and its common plugins, plus the names that need OpenSSL), one per line.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from usher import cli
from usher.options import ConfigError, Loaded, load_settings, option_reference_markdown
from usher.options.catalog import OPTIONS, lookup, lookup_short
from usher.options.docs import status_counts
from usher.options.ini_logic import LOGIC_KEYS
from usher.options.uwsgi_names import USHER_ONLY, known_names, lookup_known, lookup_known_short

UWSGI_NAMES = (Path(__file__).parent / "data" / "uwsgi_option_names.txt").read_text().split()
USHER_SPELLINGS = [spelling for info in OPTIONS for spelling in info.spellings]
KNOWN = known_names()
KNOWN_SPELLINGS = [s for known in KNOWN for s in known.spellings if len(s) > 1]


def load_ini(tmp_path: Path, text: str, *argv: str, env: dict[str, str] | None = None) -> Loaded:
    path = tmp_path / "app.ini"
    path.write_text(text)
    return load_settings([str(path), *argv], env or {})


# -- the table ----------------------------------------------------------------------------------


def test_the_name_list_is_uwsgis_whole_list() -> None:
    assert len(UWSGI_NAMES) == len(set(UWSGI_NAMES)) >= 1000
    for name in ("socket", "spooler", "cache2", "route-if", "py-autoreload", "https", "legion"):
        assert name in UWSGI_NAMES


def test_every_uwsgi_option_has_a_status() -> None:
    missing = [name for name in UWSGI_NAMES if lookup(name) is None and lookup_known(name) is None]
    assert missing == []


def test_no_name_appears_twice() -> None:
    spellings = USHER_SPELLINGS + KNOWN_SPELLINGS
    assert [name for name, count in collections.Counter(spellings).items() if count > 1] == []


def test_usher_names_are_uwsgi_names_unless_declared_its_own() -> None:
    assert [s for s in USHER_SPELLINGS if s not in UWSGI_NAMES] == list(USHER_ONLY)
    assert [s for s in KNOWN_SPELLINGS if s not in UWSGI_NAMES] == []


def test_every_known_name_has_a_one_line_note() -> None:
    for known in KNOWN:
        assert known.note and "\n" not in known.note and not known.note.endswith("."), known
        assert known.note == known.note.strip(), known


def test_the_config_language_is_what_the_ini_reader_reads() -> None:
    reader = {
        s for known in KNOWN if known.status == "reader" for s in known.spellings if len(s) > 1
    }
    assert reader == {*LOGIC_KEYS, "set", "set-placeholder", "set-ph"}


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("spooler", "unsupported", "Celery or RQ"),
        ("mule", "unsupported", "Celery or RQ"),
        ("cache2", "unsupported", "Django's cache framework"),
        ("gevent", "unsupported", "threads"),
        ("carbon", "unsupported", "Prometheus"),
        ("emperor-broodlord", "unsupported", "docs/emperor.md"),
        ("static-map", "unsupported", "nginx"),
        ("https", "unsupported", "TLS"),
        ("offload-threads", "accepted", "sends files"),
        ("enable-threads", "accepted", "threads"),
        ("thunder-lock", "accepted", "accept lock"),
        ("plugins", "accepted", "no plugins"),
        ("if-env", "reader", "config language"),
    ],
)
def test_statuses_and_notes(name: str, status: str, words: str) -> None:
    known = lookup_known(name)
    assert known is not None and known.status == status and words in known.note


def test_aliases_resolve_to_one_entry() -> None:
    assert lookup_known("spooler-freq") == lookup_known("spooler-frequency") is not None
    assert lookup("logger-req") is lookup("req-logger")
    assert lookup_known("wait-iface") == lookup_known("wait-for-interface") is not None
    assert lookup("logformat") is lookup("log-format")
    assert lookup("lazy") is lookup("lazy-apps")
    assert lookup("json") is lookup("ini") is lookup("xmlconfig")
    spooler, sharedarea = lookup_known_short("Q"), lookup_known_short("A")
    assert spooler is not None and spooler.name == "spooler"
    assert sharedarea is not None and sharedarea.name == "sharedarea"
    assert lookup_known_short("Z") is None and lookup_known("Q") is None
    short = lookup_short("C")
    assert short is not None and short.name == "chmod-socket"


def test_counts_by_status_cover_every_uwsgi_name() -> None:
    counts = status_counts()
    assert sum(counts.values()) == len(UWSGI_NAMES)
    assert counts["implemented"] == len(USHER_SPELLINGS) - len(USHER_ONLY)
    assert min(counts.values()) > 0


def test_the_reference_lists_every_name_by_status() -> None:
    text = option_reference_markdown()
    for heading in ("### Accepted", "### Not supported", "### Config language"):
        assert heading in text
    for spelling in KNOWN_SPELLINGS:
        assert f"`{spelling}`" in text, spelling
    assert f"usher knows all {len(UWSGI_NAMES)} option names of uWSGI 2.0" in text


# -- the readers --------------------------------------------------------------------------------


def test_an_accepted_option_loads_with_its_note(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nprocesses = 2\noffload-threads = 4\n")
    assert loaded.settings.processes == 2
    assert loaded.notes == (
        f"{tmp_path}/app.ini:3: offload-threads is accepted and ignored: "
        "usher's event loop sends files and bodies itself, without offload threads",
    )


def test_an_unsupported_option_loads_with_the_alternative(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nspooler = /var/spool\ncache2 = name=x,items=10\n")
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: spooler is not supported by usher, ignored: "
        "run background jobs with Celery or RQ",
        f"{tmp_path}/app.ini:3: cache2 is not supported by usher, ignored: "
        "use Django's cache framework, Redis or memcached",
    )


def test_a_true_unknown_gets_did_you_mean(tmp_path: Path) -> None:
    loaded = load_ini(tmp_path, "[uwsgi]\nstatic-mapp = /s=/srv\nprocesess = 2\n")
    assert loaded.notes == (
        f"{tmp_path}/app.ini:2: static-mapp is not an usher option, ignored; "
        "did you mean static-map?",
        f"{tmp_path}/app.ini:3: procesess is not an usher option, ignored; did you mean processes?",
    )


def test_strict_refuses_unsupported_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_ini(tmp_path, "[uwsgi]\nstrict = true\noffload-threads = 2\nmule = x.py\n")
    assert str(caught.value) == (
        f"{tmp_path}/app.ini:4: mule: is not supported by usher, and strict is on; "
        "run background jobs with Celery or RQ"
    )


def test_strict_refuses_unknown_options_and_custom_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"app.ini:2: procesess: .* did you mean processes\?"):
        load_ini(tmp_path, "[uwsgi]\nprocesess = 2\n", "--strict")
    with pytest.raises(ConfigError, match=r"declare it with set-placeholder = base=\.\.\."):
        load_ini(tmp_path, "[uwsgi]\nstrict\nbase = /srv\nchdir = %(base)\n")
    declared = "[uwsgi]\nstrict\nset-placeholder = base=/srv\nchdir = %(base)\n"
    assert load_ini(tmp_path, declared).settings.chdir == "/srv"


def test_strict_is_exit_status_2_from_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.ini"
    path.write_text("[uwsgi]\nstrict = true\nerror-route = ^/old redirect:/new\n")
    assert cli.main([str(path)]) == 2
    assert capsys.readouterr().err == (
        f"usher: {path}:3: error-route: is not supported by usher, and strict is on; "
        "route, rewrite and redirect in nginx or in the app\n"
    )


def test_command_line_known_names_take_their_value(tmp_path: Path) -> None:
    loaded = load_settings(
        ["--spooler", "/var/spool", "-Q", "/q", "--master", "--enable-threads"], {}
    )
    assert loaded.settings.master
    assert loaded.notes == (
        "command line: --spooler is not supported by usher, ignored: "
        "run background jobs with Celery or RQ",
        "command line: -Q is not supported by usher, ignored: run background jobs with Celery or RQ",
        "command line: --enable-threads is accepted and ignored: "
        "usher always lets the app start its own threads",
    )
    with pytest.raises(ConfigError, match="--spooler: is not supported by usher, and strict"):
        load_settings(["--strict", "--spooler", "/var/spool"], {})
    with pytest.raises(ConfigError, match="--frobnicate: unknown option"):
        load_settings(["--frobnicate"], {})


def test_environment_known_names() -> None:
    env = {"UWSGI_OFFLOAD_THREADS": "2", "USHER_STATIC_MAP": "/s=/srv", "UWSGI_RELOADS": "3"}
    loaded = load_settings([], env)
    assert loaded.notes == (
        "env UWSGI_OFFLOAD_THREADS: offload-threads is accepted and ignored: "
        "usher's event loop sends files and bodies itself, without offload threads",
        "env USHER_STATIC_MAP: static-map is not supported by usher, ignored: "
        "serve static files from nginx, or from the app (WhiteNoise for Django)",
    )
    with pytest.raises(ConfigError, match="env USHER_STATIC_MAP: static-map: is not supported"):
        load_settings([], {**env, "UWSGI_STRICT": "1"})


def test_a_value_can_make_an_option_accepted(tmp_path: Path) -> None:
    hook = "hook-master-start = unix_signal:15   gracefully_kill_them_all\n"
    loaded = load_ini(tmp_path, "[uwsgi]\nstrict = true\n" + hook)
    assert loaded.notes == (
        f"{tmp_path}/app.ini:3: hook-master-start is accepted and ignored: "
        "usher's master already stops gracefully on SIGTERM",
    )
    other = "[uwsgi]\nstrict = true\nhook-master-start = exec:echo hi\n"
    with pytest.raises(ConfigError, match="hook-master-start: is not supported by usher"):
        load_ini(tmp_path, other)
    argv = ["--strict", "--hook-master-start", "unix_signal:2 gracefully_kill_them_all"]
    assert load_settings(argv, {}).notes[0].endswith("stops gracefully on SIGINT")
    env = {"UWSGI_HOOK_MASTER_START": "unix_signal:15 gracefully_kill_them_all"}
    assert load_settings(["--strict"], env).notes[0].endswith("stops gracefully on SIGTERM")
    assert "`hook-master-start = unix_signal:15 gracefully_kill_them_all`" in (
        option_reference_markdown()
    )


def test_uwsgi_short_flags_and_set_on_the_command_line() -> None:
    loaded = load_settings(["-T", "-m", "-S", "processes=3", "--set", "master=true"], {})
    assert loaded.settings.processes == 3 and loaded.settings.master
    assert [note.split(": ")[1] for note in loaded.notes] == [
        "-T is accepted and ignored",
        "-m is accepted and ignored",
    ]
    with pytest.raises(ConfigError, match=r"-S processes: 'many' is not a whole number"):
        load_settings(["-S", "processes=many"], {})


def test_the_config_language_on_the_command_line_is_a_note() -> None:
    loaded = load_settings(["--if-env", "HOME", "--master"], {})
    assert loaded.settings.master
    assert loaded.notes == ("command line: --if-env is read only in config files; ignored here",)
