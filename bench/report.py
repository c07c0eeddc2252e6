"""Turning measurements into the markdown tables, the target checks and docs/benchmarks.md."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from loadgen import WrkResult
from nginx_front import example_config
from servers import APPS, HELLO, SERVERS, STATIC_TARGETS, USHER_ROW, Launch, Server

# Interrupts and the kernel's loopback work land on the server's CPU too and stay under a few
# percent on an idle machine; above this share something else was running there.
NOISY_LOAD = 0.10

PAGE_TEMPLATE = Path(__file__).resolve().parent / "page_template.md"

HEADER = (
    "server", "req/s", "p99 ms", "in flight", "worker RSS MiB", "worker PSS MiB",
    "server user µs/req", "server system µs/req", "nginx user µs/req", "nginx system µs/req",
    "usher is", "errors",
)  # fmt: skip
COLUMNS = len(HEADER)


@dataclass(frozen=True)
class Row:
    """One server serving one app: its figures, or why there are none."""

    app: str
    server: Server
    result: WrkResult | None = None
    rss_mib: float | None = None  # the worker process(es), after the run
    pss_mib: float | None = None  # the same, shared pages counted by their share
    # CPU time of the app server's processes per request, user and system apart: the server's
    # own code shows in the first, the kernel's socket work in the second.
    cpu_user_us: float | None = None
    cpu_system_us: float | None = None
    nginx_user_us: float | None = None  # the same for nginx's processes (nginx rows only)
    nginx_system_us: float | None = None
    # Share of the server's CPU and of the client's CPU (wrk, nginx) that other work took during
    # the measured run: another program on the machine skews every figure of the row.
    other_load: tuple[float, float] = (0.0, 0.0)
    failure: str | None = None
    # The p99 of every measured round (median() fills it in). A slow app's p99 moves by tens of
    # ms between rounds of one server, so its median over the rounds, not the one round whose
    # req/s was the median, is what ranks servers on latency.
    p99_rounds: tuple[float, ...] = ()

    @property
    def cpu_us(self) -> float | None:
        """The app server's user + system CPU time per request."""
        return _total(self.cpu_user_us, self.cpu_system_us)

    @property
    def nginx_cpu_us(self) -> float | None:
        """nginx's user + system CPU time per request (nginx rows only)."""
        return _total(self.nginx_user_us, self.nginx_system_us)


def _total(user: float | None, system: float | None) -> float | None:
    return None if user is None or system is None else user + system


@dataclass(frozen=True)
class Target:
    """A goal from the issue, checked against the rows that were measured."""

    text: str
    app: str
    usher: str
    peer: str
    metric: str  # "rps": usher/peer >= bound; "rss": usher <= peer * bound
    bound: float


TARGETS = (
    Target("hello over HTTP: usher ≥ 3x uWSGI --http-socket req/s", "hello", "usher", "uwsgi",
           "rps", 3.0),
    Target("hello over HTTP: usher ≥ 8x gunicorn sync req/s", "hello", "usher", "gunicorn-sync",
           "rps", 8.0),
    Target("hello over HTTP: usher ≥ 0.8x granian req/s", "hello", "usher", "granian", "rps", 0.8),
    Target("hello through nginx uwsgi_pass: usher ≥ 0.95x uWSGI req/s", "hello", "nginx-usher",
           "nginx-uwsgi", "rps", 0.95),
    Target("hello through nginx uwsgi_pass: usher ≥ 2x gunicorn --protocol uwsgi req/s", "hello",
           "nginx-usher", "nginx-gunicorn", "rps", 2.0),
    Target("django: usher worker RSS ≤ uWSGI worker RSS", "django", "usher", "uwsgi", "rss", 1.0),
    Target("ASGI hello over HTTP: usher ≥ 1.2x uvicorn req/s", "asgi-hello", "usher", "uvicorn",
           "rps", 1.2),
)  # fmt: skip
TARGETS = (*TARGETS, *(Target(*target) for target in STATIC_TARGETS))


def median(rounds: list[Row]) -> Row:
    """The row of the median requests/s among one server's rounds (the lower one of an even
    count); rounds that failed are left out, and the row fails only when every round did."""
    measured = sorted((row for row in rounds if row.result is not None), key=_rps)
    if not measured:
        return rounds[0]
    p99s = tuple(sorted(row.result.p99_ms for row in measured if row.result is not None))
    return replace(measured[(len(measured) - 1) // 2], p99_rounds=p99s)


def _rps(row: Row) -> float:
    return row.result.rps if row.result is not None else 0.0


def _find(rows: list[Row], app: str, name: str) -> Row | None:
    for row in rows:
        if row.app == app and row.server.name == name and row.result is not None:
            return row
    return None


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _usher_ratio(row: Row, rows: list[Row]) -> str:
    usher = _find(rows, row.app, USHER_ROW[row.server.front])
    if row.result is None or usher is None or usher is row or usher.result is None:
        return "—"
    return f"{usher.result.rps / row.result.rps:.2f}x"


def _row_line(row: Row, rows: list[Row]) -> str:
    if row.result is None:
        reason = (row.failure or "not run").splitlines()[0]
        # The whole story went to stderr when it happened; the table keeps one short line.
        reason = reason if len(reason) <= 100 else reason[:97] + "..."
        return f"| {row.server.label} | failed: {reason} |" + " |" * (COLUMNS - 2)
    cells = [
        row.server.label,
        _number(row.result.rps, 0),
        _number(row.result.p99_ms, 2),
        _number(row.result.in_flight, 1),
        _number(row.rss_mib, 1),
        _number(row.pss_mib, 1),
        _number(row.cpu_user_us, 1),
        _number(row.cpu_system_us, 1),
        _number(row.nginx_user_us, 1),
        _number(row.nginx_system_us, 1),
        _usher_ratio(row, rows),
        str(row.result.errors),
    ]
    return "| " + " | ".join(cells) + " |"


def _noisy(row: Row) -> bool:
    return max(row.other_load) > NOISY_LOAD


def _noise(row: Row) -> str:
    server, client = row.other_load
    return (
        f"- Noisy row, {row.server.label}: other programs took {server:.0%} of the server's CPU "
        f"and {client:.0%} of wrk's CPU during the run."
    )


def _p99_spread(row: Row) -> str:
    p99s = row.p99_rounds
    middle = p99s[(len(p99s) - 1) // 2]
    return (
        f"- {row.server.label}: {middle:.1f} ({p99s[0]:.1f} to {p99s[-1]:.1f}, {len(p99s)} rounds)"
    )


def tables(rows: list[Row]) -> str:
    """One markdown table per app, rows in the order they ran."""
    parts = []
    for app in APPS:
        mine = [row for row in rows if row.app == app]
        if not mine:
            continue
        parts.append(f"### {app} (`{APPS[app].url_path}`)\n")
        parts.append(f"| {' | '.join(HEADER)} |\n|---{'|--:' * (COLUMNS - 1)}|")
        parts.extend(_row_line(row, rows) for row in mine)
        parts.append("")
        spread = [_p99_spread(row) for row in mine if len(row.p99_rounds) > 1]
        if spread:
            parts.extend(["p99 ms, the median of the rounds (their range):", ""])
            parts.extend([*spread, ""])
        noisy = [_noise(row) for row in mine if _noisy(row)]
        if noisy:
            parts.extend([*noisy, ""])
    return "\n".join(parts)


def judge(target: Target, rows: list[Row]) -> str:
    """One line: PASS, FAIL or NOT MEASURED, with the measured figures."""
    usher = _find(rows, target.app, target.usher)
    peer = _find(rows, target.app, target.peer)
    if usher is None or peer is None or usher.result is None or peer.result is None:
        return f"- NOT MEASURED: {target.text}"
    if target.metric == "rps":
        ratio = usher.result.rps / peer.result.rps
        verdict = "PASS" if ratio >= target.bound else "FAIL"
        measured = f"measured {ratio:.3f}x"  # 3 digits: 0.799 must not read as 0.80
    elif usher.rss_mib is not None and peer.rss_mib is not None:
        verdict = "PASS" if usher.rss_mib <= peer.rss_mib * target.bound else "FAIL"
        measured = f"{usher.rss_mib:.1f} vs {peer.rss_mib:.1f} MiB"
    else:
        return f"- NOT MEASURED: {target.text}"
    if _noisy(usher) or _noisy(peer):
        measured += "; from a noisy row, re-run before trusting it"
    return f"- {verdict}: {target.text} ({measured})"


def targets(rows: list[Row]) -> str:
    """The issue's targets, each judged from the measurements (for information only)."""
    return "\n".join(judge(target, rows) for target in TARGETS)


def _shown(argv: list[str]) -> str:
    """A command line as a reader would type it: bare program names, a placeholder port."""
    words = ["python" if word == sys.executable else word for word in argv]
    words[0] = Path(words[0]).name
    return shlex.join(words).replace(str(Path(__file__).resolve().parent.parent) + "/", "")


def commands() -> str:
    """The exact command line of every row, for the hello app on port 8000."""
    lines = []
    for server in SERVERS:
        app = HELLO if HELLO.name in server.apps else APPS[min(server.apps)]
        argv = server.command(Launch(app, 8000))
        lines.append(f"- **{server.label}** ({server.note}):\n  `{_shown(argv)}`")
    return "\n".join(lines)


def page(command: str, date: str, facts: list[tuple[str, str]], results: str) -> str:
    """docs/benchmarks.md: the method, then this run's command, machine and results."""
    machine = "\n".join(f"| {name} | {value} |" for name, value in facts)
    return PAGE_TEMPLATE.read_text().format(
        command=command,
        date=date,
        machine="| fact | value |\n|---|---|\n" + machine,
        commands=commands(),
        nginx_config=example_config(),
        results=results,
    )
