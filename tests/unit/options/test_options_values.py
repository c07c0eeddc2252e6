"""Value parsers and checks (usher.options.values): pure functions, text in."""

from __future__ import annotations

import pytest

from usher.options.errors import InvalidValue
from usher.options.values import (
    check_env_pair,
    check_listener,
    check_module,
    check_octal_mode,
    parse_bool,
    parse_int,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1:8000",
        "0.0.0.0:80",
        "localhost:8000",
        "app-1.internal.example:3031",
        ":8000",
        ":0",  # any free port
        "[::]:8000",
        "[::1]:8000",
        "[fe80::1%eth0]:80",
        "127.0.0.1:65535",
        "/run/usher/app.sock",
        "./app.sock",
        "app.sock",
        "@usher",
    ],
)
def test_valid_listener_addresses(address: str) -> None:
    check_listener(address)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("", "has no port"),
        ("8000", "has no port"),
        ("localhost", "has no port"),
        ("127.0.0.1:65536", "has no valid port"),
        ("127.0.0.1:-1", "has no valid port"),
        (":http", "has no valid port"),
        ("127.0.0.1:", "has no valid port"),
        ("::1:8000", "bare IPv6 address"),
        ("[::1]8000", "is not [ipv6]:port"),
        ("[::1", "is not [ipv6]:port"),
        ("[nothex]:80", "is not an IPv6 address"),
        ("300.1.1.1:80", "is not an IPv4 address"),
        ("bad_host:80", "is not a host name"),
        ("-host:80", "is not a host name"),
        ("@", "names no abstract socket"),
    ],
)
def test_invalid_listener_addresses(address: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_listener(address)
    assert problem in caught.value.problem
    assert caught.value.fix


def test_parse_bool() -> None:
    assert [parse_bool(w) for w in ("True", "ON", "yes", "1", " true ")] == [True] * 5
    assert [parse_bool(w) for w in ("false", "Off", "NO", "0")] == [False] * 4
    for word in ("", "2", "enabled", "truee"):
        with pytest.raises(InvalidValue):
            parse_bool(word)


def test_parse_int_bounds() -> None:
    assert parse_int("1024", 1024, 65535) == 1024
    assert parse_int("+7", 1, None) == 7
    assert parse_int("-3", None, None) == -3
    with pytest.raises(InvalidValue, match="out of range"):
        parse_int("65536", 1024, 65535)
    for text in ("4k", "1.5", "", "0x10", "1 000"):
        with pytest.raises(InvalidValue, match="not a whole number"):
            parse_int(text, 0, None)


@pytest.mark.parametrize(
    "good",
    [
        "app",
        "mysite.wsgi",
        "mysite.wsgi:application",
        "a.b:c.d",
        "app.py",
        "site.wsgi:app()",
        "pkg.app:create_app('prod', debug=False)",
    ],
)
def test_module_forms(good: str) -> None:
    check_module(good)


@pytest.mark.parametrize(
    "bad", ["", "my-site.wsgi", "site:", ":app", "a..b", "app:make(", "app:make(os.environ)"]
)
def test_bad_module_forms(bad: str) -> None:
    with pytest.raises(InvalidValue):
        check_module(bad)


def test_octal_modes_and_env_pairs() -> None:
    for mode in ("666", "0660", "777"):
        check_octal_mode(mode)
    for mode in ("66", "888", "rw-", "06666"):
        with pytest.raises(InvalidValue):
            check_octal_mode(mode)
    check_env_pair("A=")
    for pair in ("A", "=1", "A B=1"):
        with pytest.raises(InvalidValue):
            check_env_pair(pair)
