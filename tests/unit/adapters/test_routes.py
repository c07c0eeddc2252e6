"""uWSGI's routing rules as data: parsing, conditions, expansion and the chain's control flow,
with no server (usher.adapters.routes is pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from usher.adapters.routes import (
    Effects,
    RouteError,
    parse_rule,
    parse_rules,
    run_chain,
    status_answer,
)
from usher.options import load_settings


def run(entries: tuple[str, ...], variables: dict[str, object]) -> Effects:
    return run_chain(parse_rules(entries, response=False).rules, variables, Effects())


def test_regexp_rules_test_their_subject() -> None:
    assert parse_rule("route ^/x donotlog:").subject == "PATH_INFO"
    assert parse_rule("route-uri ^/x donotlog:").subject == "REQUEST_URI"
    assert parse_rule("route-host ^a donotlog:").subject == "HTTP_HOST"
    assert parse_rule("response-route-status ^404$ donotlog:").subject == "uwsgi[status]"


def test_groups_and_variables_expand_in_arguments() -> None:
    effects = run(
        ("route ^/old/(.*)$ redirect:https://${HTTP_HOST}/new/$1",),
        {"PATH_INFO": "/old/a/b", "HTTP_HOST": "example.com"},
    )
    assert effects.answer == ("302 Found", [("Location", "https://example.com/new/a/b")], b"")


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("equal:${A};x", True),
        ("equal:${A};y", False),
        ("startswith:${B};/ad", True),
        ("endswith:${B};min", True),
        ("contains:${B};dmi", True),
        ("regexp:${B};^/a.m", True),
        ("empty:${C}", True),
        ("empty:${A}", False),
    ],
)
def test_route_if_conditions(condition: str, holds: bool) -> None:
    variables: dict[str, object] = {"A": "x", "B": "/admin"}
    assert run((f"route-if {condition} donotlog:",), variables).quiet is holds
    assert run((f"route-if-not {condition} donotlog:",), variables).quiet is not holds


def test_chain_order_and_stops() -> None:
    variables: dict[str, object] = {"PATH_INFO": "/a"}
    effects = run(
        ("route ^/a addheader:X-One: 1", "route ^/a last:", "route ^/a return:500"), variables
    )
    assert effects.answer is None and effects.add_headers == [("X-One", "1")]
    stopped = run(("route ^/a break:404", "route ^/a addheader:X: y"), variables)
    assert stopped.answer == status_answer("404") and not stopped.add_headers
    assert run(("route ^/a break:",), variables).answer == ("", [], b"")


def test_rewrite_and_setvar_change_the_variables() -> None:
    variables: dict[str, object] = {
        "PATH_INFO": "/r/x",
        "QUERY_STRING": "a=1",
        "REQUEST_URI": "/r/x?a=1",
    }
    run(("route ^/r/(.*)$ rewrite:/new/$1", "route ^/new/ setvar:SEEN=${PATH_INFO}"), variables)
    assert variables == {
        "PATH_INFO": "/new/x",
        "QUERY_STRING": "a=1",
        "REQUEST_URI": "/new/x?a=1",
        "SEEN": "/new/x",
    }
    run(("route ^/new rewrite:/q?b=2",), variables)
    assert (variables["QUERY_STRING"], variables["REQUEST_URI"]) == ("b=2", "/q?b=2")


def test_rewrite_last_stops_the_chain() -> None:
    variables: dict[str, object] = {"PATH_INFO": "/a"}
    effects = run(("route ^/a rewrite-last:/b", "route ^/b return:403"), variables)
    assert effects.answer is None and variables["PATH_INFO"] == "/b"


def test_unsupported_actions_are_named_and_left_out() -> None:
    program = parse_rules(("route ^/ chdir:/tmp", "route ^/ donotlog:"), response=False)
    assert [rule.action for rule in program.rules] == ["donotlog"]
    assert len(program.unsupported) == 1 and "'chdir'" in program.unsupported[0]
    response = parse_rules(("response-route ^/ redirect:/x",), response=True)
    assert not response.rules and "'redirect'" in response.unsupported[0]


@pytest.mark.parametrize(
    "entry",
    [
        "route ^/x",
        "route ([ donotlog:",
        "route-if nonsense:${A} donotlog:",
        "route-if equal:${A} x:",
    ],
)
def test_unreadable_rules(entry: str) -> None:
    with pytest.raises(RouteError):
        parse_rule(entry)


def test_status_answer() -> None:
    assert status_answer("403") == (
        "403 Forbidden",
        [("Content-Type", "text/plain")],
        b"Forbidden\n",
    )
    assert status_answer("451 Legal")[0] == "451 Legal"


def test_rules_keep_their_order_across_spellings(tmp_path: Path) -> None:
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[uwsgi]\nroute-host = ^www redirect:/h\nroute = ^/a donotlog:\nroute-if = empty:${X} last:\n"
    )
    settings = load_settings(["--ini", str(ini), "--route-uri", "^/u donotlog:"], {}).settings
    assert settings.route == (
        "route-host ^www redirect:/h",
        "route ^/a donotlog:",
        "route-if empty:${X} last:",
        "route-uri ^/u donotlog:",
    )
