"""Read options from `UWSGI_<NAME>` and `USHER_<NAME>` environment variables.

The name is the option's (or an alias's) upper-cased with `_` for `-`: `UWSGI_HTTP_SOCKET`,
`USHER_WORKERS`. An option set through any `USHER_` variable ignores its `UWSGI_` variables, so
usher-specific settings can override a shared uWSGI environment. Unknown `UWSGI_` variables are
left alone (uWSGI itself sets some in its children); unknown `USHER_` ones get a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from usher.options import catalog
from usher.options.catalog import Assignment, IniRequest, OptionInfo, Refusal
from usher.options.errors import Origin
from usher.options.uwsgi_names import lookup_known, with_value

PREFIXES = ("UWSGI_", "USHER_")  # the later prefix wins
# usher's own process plumbing (inherited sockets across a reload) and test-harness variables:
# set by usher or its tests, never options. USHER_PURE and USHER_BUILD choose the compiled or the
# pure-Python form (docs/compiled.md): read at import and at install, before any option is.
INTERNAL = ("USHER_INHERITED_FDS", "USHER_TEST_", "USHER_PURE", "USHER_BUILD")


@dataclass(frozen=True, slots=True)
class EnvironmentOptions:
    """Option values and ini requests found in the environment, plus notes for the log."""

    assignments: tuple[Assignment, ...]
    ini_files: tuple[IniRequest, ...]
    notes: tuple[str, ...]
    refusals: tuple[Refusal, ...] = ()  # what `strict` turns into errors


def env_name(prefix: str, spelling: str) -> str:
    """The variable that sets option `spelling` under `prefix`: ("USHER_", "http-socket") ->
    "USHER_HTTP_SOCKET"."""
    return prefix + spelling.upper().replace("-", "_")


def read_environ(environ: Mapping[str, str]) -> EnvironmentOptions:
    """Collect every option set through the environment, in a stable order."""
    chosen: dict[str, list[tuple[str, OptionInfo]]] = {}
    notes: list[str] = []
    refusals: list[Refusal] = []
    for prefix in PREFIXES:
        found = _variables_with_prefix(prefix, environ, notes, refusals)
        for field, variables in found.items():
            chosen[field] = variables  # a later prefix replaces an earlier one per option
    assignments: list[Assignment] = []
    ini_files: list[IniRequest] = []
    for info in catalog.OPTIONS:
        for variable, _ in chosen.get(info.field, ()):
            origin = Origin("env", variable)
            if info.name == "ini":
                ini_files.append(IniRequest(environ[variable], origin, variable_option(variable)))
            else:
                assignments.append(Assignment(info, environ[variable], origin, info.name))
    return EnvironmentOptions(tuple(assignments), tuple(ini_files), tuple(notes), tuple(refusals))


def variable_option(variable: str) -> str:
    """The option spelling a variable names: "UWSGI_HTTP_SOCKET" -> "http-socket"."""
    return variable.partition("_")[2].lower().replace("_", "-")


def _variables_with_prefix(
    prefix: str, environ: Mapping[str, str], notes: list[str], refusals: list[Refusal]
) -> dict[str, list[tuple[str, OptionInfo]]]:
    found: dict[str, list[tuple[str, OptionInfo]]] = {}
    for variable in sorted(environ):
        if not variable.startswith(prefix) or variable.startswith(INTERNAL):
            continue
        spelling = variable[len(prefix) :].lower().replace("_", "-")
        info = catalog.lookup(spelling)
        known = lookup_known(spelling) if info is None else None
        if info is not None:
            found.setdefault(info.field, []).append((variable, info))
        elif known is not None:
            known = with_value(known, environ[variable])
            origin = Origin("env", variable)
            notes.append(catalog.known_name_note(origin, spelling, known))
            refusal = catalog.known_name_refusal(origin, spelling, known)
            refusals.extend([refusal] if refusal else [])
        elif prefix == "USHER_":
            guess = catalog.suggest(spelling)
            hint = f"; did you mean {env_name(prefix, guess)}?" if guess else ""
            notes.append(f"env {variable}: not an usher option, ignored{hint}")
            refusals.append(catalog.unknown_refusal(Origin("env", variable), variable, guess))
    for variables in found.values():
        # Aliases first, the option's own name last, so that for a single-valued option
        # UWSGI_PROCESSES beats UWSGI_WORKERS whatever the environment's order.
        variables.sort(key=lambda pair: pair[0] == env_name(prefix, pair[1].name))
    return found
