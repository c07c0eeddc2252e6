"""uWSGI's internal routing as data: rules parsed once at startup, run over a request's variables.

Pure: text in, `Rule`s out (`parse_rules`); a chain of rules and a mapping of variables in, the
`Effects` to apply out (`run_chain`). The WSGI router (usher.adapters.router) applies them.

The subset real uWSGI files use, with uWSGI's meanings:

- A rule is `SUBJECT-REGEXP ACTION` (`route` tests PATH_INFO, `route-uri` REQUEST_URI,
  `route-host` HTTP_HOST, `route-qs` QUERY_STRING...), searched anywhere in the subject as PCRE
  does, or `route-if = COND:ARGS ACTION` with `equal:A;B`, `startswith:A;B`, `endswith:A;B`,
  `contains:A;B`, `regexp:A;B` and `empty:A` (`route-if-not` negates it).
- An action's argument expands `$1`..`$9` (the groups of the rule's regexp) and `${VAR}` (a
  request variable: a CGI name such as REQUEST_URI or HTTP_HOST, or one set by `setvar`).
- Rules run in order. `addheader`, `delheader`, `donotlog`, `setvar`, `rewrite` act and go on to
  the next rule; `continue`/`last`/`rewrite-last` stop the chain and hand the request to the app;
  `redirect`, `redirect-permanent`, `return` and `break` stop it and answer without the app.
- The response chain (`response-route*`) runs when the app starts its response, over the same
  variables plus `${uwsgi[status]}` and collect-header's; it can change headers and `donotlog`.

An action outside the subset is named once at startup (`Program.unsupported`) and its rule left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus

# The variable each regexp rule tests, by the option's spelling without its chain's prefix.
SUBJECTS: Mapping[str, str] = {
    "route": "PATH_INFO",
    "route-uri": "REQUEST_URI",
    "route-host": "HTTP_HOST",
    "route-qs": "QUERY_STRING",
    "route-remote-addr": "REMOTE_ADDR",
    "route-user-agent": "HTTP_USER_AGENT",
    "route-referer": "HTTP_REFERER",
    "route-remote-user": "REMOTE_USER",
    "route-status": "uwsgi[status]",  # response-route-status: the response's status code
}

CONDITIONS = frozenset({"equal", "startswith", "endswith", "contains", "regexp", "empty"})
_CONDITION_ALIASES = {"isequal": "equal", "eq": "equal", "re": "regexp", "match": "regexp"}

# Actions by what they do to the chain; the names after `|` are uWSGI's other spellings.
_ACTION_ALIASES = {
    "redirect-302": "redirect",
    "redirect-301": "redirect-permanent",
    "remheader": "delheader",
    "addvar": "setvar",
    "break-with-status": "break",
}
REQUEST_ACTIONS = frozenset(
    {
        "donotlog",
        "redirect",
        "redirect-permanent",
        "addheader",
        "delheader",
        "setvar",
        "rewrite",
        "rewrite-last",
        "break",
        "return",
        "continue",
        "last",
    }
)
RESPONSE_ACTIONS = frozenset({"donotlog", "addheader", "delheader", "break", "continue", "last"})

_EXPANSION = re.compile(r"\$\{([^}]*)\}|\$([0-9])")


class RouteError(ValueError):
    """A rule that cannot be read; str() names the rule and the fix."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: what it tests (a regexp on a variable, or a condition) and the action."""

    spelled: str  # the rule as written, for messages
    subject: str  # the variable the regexp tests; "" for a condition
    pattern: re.Pattern[str] | None
    condition: str  # route-if's test ("equal"...), "" for a regexp rule
    operands: tuple[str, ...]  # route-if's arguments, still with their ${VAR}s
    negate: bool
    action: str
    argument: str


@dataclass(frozen=True, slots=True)
class Program:
    """The parsed rules of one chain, and the rules left out for an action usher does not run."""

    rules: tuple[Rule, ...] = ()
    unsupported: tuple[str, ...] = ()


@dataclass(slots=True)
class Effects:
    """What running a chain asks for; the router applies it."""

    quiet: bool = False  # donotlog
    add_headers: list[tuple[str, str]] = field(default_factory=list)
    del_headers: list[str] = field(default_factory=list)  # lower-cased names
    # An answer instead of the app: (status line, headers, body); ("", [], b"") closes silently.
    answer: tuple[str, list[tuple[str, str]], bytes] | None = None


def parse_rules(entries: tuple[str, ...], *, response: bool) -> Program:
    """Parse tagged option values ("route-uri ^/x$ redirect:/y") into a Program."""
    rules: list[Rule] = []
    unsupported: list[str] = []
    allowed = RESPONSE_ACTIONS if response else REQUEST_ACTIONS
    for entry in entries:
        rule = parse_rule(entry)
        if rule.action not in allowed:
            chain = "response-route" if response else "route"
            unsupported.append(
                f"{entry}: the {chain} action {rule.action!r} is not supported by usher "
                f"(it runs {', '.join(sorted(allowed))}); the rule is left out"
            )
            continue
        rules.append(rule)
    return Program(tuple(rules), tuple(unsupported))


def parse_rule(entry: str) -> Rule:
    """One tagged value: the option's spelling, the test, the action."""
    spelling, _, text = entry.partition(" ")
    test, _, action_text = text.strip().partition(" ")
    action_text = action_text.strip()
    if not test or not action_text:
        raise RouteError(f"{entry!r}: a rule is a test and an action, e.g. ^/old redirect:/new")
    action, _, argument = action_text.partition(":")
    action = _ACTION_ALIASES.get(action, action)
    kind = spelling.removeprefix("response-")
    if kind in ("route-if", "route-if-not"):
        condition, operands = _parse_condition(entry, test)
        return Rule(entry, "", None, condition, operands, kind == "route-if-not", action, argument)
    subject = SUBJECTS.get(kind)
    if subject is None:
        raise RouteError(f"{entry!r}: {spelling} is not a routing option usher reads")
    try:
        pattern = re.compile(test)
    except re.error as exc:
        raise RouteError(f"{entry!r}: {test!r} is not a valid regexp ({exc})") from None
    return Rule(entry, subject, pattern, "", (), False, action, argument)


def _parse_condition(entry: str, test: str) -> tuple[str, tuple[str, ...]]:
    name, colon, args = test.partition(":")
    name = _CONDITION_ALIASES.get(name, name)
    if not colon or name not in CONDITIONS:
        raise RouteError(
            f"{entry!r}: route-if takes one of {', '.join(sorted(CONDITIONS))} "
            "(e.g. equal:${HTTP_HOST};example.com)"
        )
    if name == "empty":
        return name, (args,)
    left, semicolon, right = args.partition(";")
    if not semicolon:
        raise RouteError(f"{entry!r}: {name} compares two values: {name}:A;B")
    if name == "regexp":
        try:
            re.compile(right)
        except re.error as exc:
            raise RouteError(f"{entry!r}: {right!r} is not a valid regexp ({exc})") from None
    return name, (left, right)


def expand(text: str, variables: Mapping[str, object], groups: tuple[str, ...]) -> str:
    """`${VAR}` from the request's variables and `$1`..`$9` from the last regexp's groups."""
    if "$" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        name, digit = match.group(1), match.group(2)
        if digit is not None:
            index = int(digit) - 1
            return groups[index] if 0 <= index < len(groups) else ""
        value = variables.get(name, "")
        return value if isinstance(value, str) else ""

    return _EXPANSION.sub(one, text)


def _test(rule: Rule, variables: Mapping[str, object]) -> tuple[bool, tuple[str, ...]]:
    """Whether the rule applies, and the groups its action may use."""
    if rule.pattern is not None:
        subject = variables.get(rule.subject, "")
        match = rule.pattern.search(subject if isinstance(subject, str) else "")
        if match is None:
            return False, ()
        return True, tuple(g or "" for g in match.groups())
    values = [expand(operand, variables, ()) for operand in rule.operands]
    groups: tuple[str, ...] = ()
    condition = rule.condition
    if condition == "empty":
        holds = values[0] == ""
    elif condition == "equal":
        holds = values[0] == values[1]
    elif condition == "startswith":
        holds = values[0].startswith(values[1])
    elif condition == "endswith":
        holds = values[0].endswith(values[1])
    elif condition == "contains":
        holds = values[1] in values[0]
    else:  # regexp
        match = re.search(values[1], values[0])
        holds = match is not None
        if match is not None:
            groups = tuple(g or "" for g in match.groups())
    return holds != rule.negate, groups


def run_chain(
    rules: tuple[Rule, ...], variables: MutableMapping[str, object], effects: Effects
) -> Effects:
    """Run the rules in order over `variables` (rewrite and setvar change them in place)."""
    for rule in rules:
        holds, groups = _test(rule, variables)
        if holds and _act(rule, expand(rule.argument, variables, groups), variables, effects):
            break
    return effects


def _act(
    rule: Rule, argument: str, variables: MutableMapping[str, object], effects: Effects
) -> bool:
    """Apply one action; True when it ends the chain."""
    action = rule.action
    if action == "donotlog":
        effects.quiet = True
    elif action == "addheader":
        name, _, value = argument.partition(":")
        effects.add_headers.append((name.strip(), value.strip()))
    elif action == "delheader":
        effects.del_headers.append(argument.strip().lower())
    elif action == "setvar":
        name, _, value = argument.partition("=")
        variables[name] = value
    elif action in ("rewrite", "rewrite-last"):
        rewrite(variables, argument)
        return action == "rewrite-last"
    elif action in ("redirect", "redirect-permanent"):
        status = "302 Found" if action == "redirect" else "301 Moved Permanently"
        effects.answer = (status, [("Location", argument)], b"")
        return True
    elif action == "return":
        effects.answer = status_answer(argument or "200")
        return True
    elif action == "break":
        effects.answer = status_answer(argument) if argument else ("", [], b"")
        return True
    else:  # continue, last
        return True
    return False


def rewrite(variables: MutableMapping[str, object], uri: str) -> None:
    """The request now asks for `uri`: PATH_INFO, QUERY_STRING (when it has a ?) and
    REQUEST_URI change; later rules and the app see the new ones."""
    path, question, query = uri.partition("?")
    variables["PATH_INFO"] = path
    if question:
        variables["QUERY_STRING"] = query
    current = variables.get("QUERY_STRING", "")
    variables["REQUEST_URI"] = f"{path}?{current}" if current else path


def status_answer(text: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """`403` or `403 Forbidden` as a response: the status line, and its phrase as a text body."""
    code, _, phrase = text.strip().partition(" ")
    if not code.isdigit() or len(code) != 3:
        code, phrase = "500", ""
    if not phrase:
        try:
            phrase = HTTPStatus(int(code)).phrase
        except ValueError:
            phrase = "Unknown"
    return f"{code} {phrase}", [("Content-Type", "text/plain")], phrase.encode("latin-1") + b"\n"
