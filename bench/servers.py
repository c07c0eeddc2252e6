"""What the benchmark runs: the apps, and every server with the exact command line it is run with.

Each server gets one worker process with one thread of app code (gunicorn gthread excepted, see its
note) and no access log, so the rows compare the cost of serving, not of configuration.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
APPS_DIR = BENCH_DIR / "apps"
DJANGO_DIR = REPO_DIR / "tests" / "fixtures" / "djangoproject"

HTTP = "http"
NGINX = "nginx"


@dataclass(frozen=True)
class App:
    """A WSGI app under test: where it lives, which URL to load and what a good answer contains."""

    name: str
    directory: Path
    module: str  # "pkg.mod:callable", importable with `directory` on sys.path
    url_path: str
    expect: bytes  # a piece of the body that proves the app, not an error page, answered
    wsgi_file: Path | None = None  # given to the servers that take uWSGI's flags, when set
    # The shortest measured run, whatever --duration says: a slow app's rows need more requests
    # for a p99 that one slow request does not decide.
    min_duration: int = 0

    def uwsgi_style_args(self) -> list[str]:
        """The app-selecting flags shared by uWSGI and usher."""
        if self.wsgi_file is not None:
            return ["--wsgi-file", str(self.wsgi_file)]
        return ["--chdir", str(self.directory), "--module", self.module]


HELLO = App(
    name="hello",
    directory=APPS_DIR,
    module="hello:application",
    url_path="/",
    expect=b"Hello, World!",
    wsgi_file=APPS_DIR / "hello.py",
)

DJANGO = App(
    name="django",
    directory=DJANGO_DIR,
    module="mysite.wsgi:application",
    url_path="/page/",
    expect=b"</html>",
    # ~350 requests a second: 3 s make a p99 of its tenth-slowest request, 10 s of its 35th.
    min_duration=10,
)

APPS = {app.name: app for app in (HELLO, DJANGO)}


@dataclass(frozen=True)
class Launch:
    """Everything a command line depends on for one run."""

    app: App
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def tool(name: str) -> str:
    """The executable `name` from the interpreter's environment, so every peer comes from one venv."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    return found if found is not None else name


def _usher(flag: str) -> Callable[[Launch], list[str]]:
    def command(run: Launch) -> list[str]:
        return [
            sys.executable, "-m", "usher", flag, run.address, *run.app.uwsgi_style_args(),
            "--processes", "1", "--disable-logging",
        ]  # fmt: skip

    return command


def _uwsgi(flag: str) -> Callable[[Launch], list[str]]:
    def command(run: Launch) -> list[str]:
        return [
            tool("uwsgi"), flag, run.address, "--master", "--processes", "1",
            "--disable-logging", *run.app.uwsgi_style_args(),
        ]  # fmt: skip

    return command


def _gunicorn(*worker: str) -> Callable[[Launch], list[str]]:
    def command(run: Launch) -> list[str]:
        # gunicorn keeps its access log off unless --access-logfile is given.
        return [tool("gunicorn"), "--bind", run.address, "--workers", "1", *worker, run.app.module]

    return command


def _granian(run: Launch) -> list[str]:
    return [
        # granian's own default for --blocking-threads: pinned to one core it served hello ~12%
        # faster than with --blocking-threads 1, and the peers run the way their users run them.
        tool("granian"), "--interface", "wsgi", "--workers", "1", "--no-access-log",
        "--host", "127.0.0.1", "--port", str(run.port), run.app.module,
    ]  # fmt: skip


def _bare_prefork(script: str) -> Callable[[Launch], list[str]]:
    """bare_prefork.py run as `script` (itself, or compiled_floor.py, which compiles it first)."""

    def command(run: Launch) -> list[str]:
        return [sys.executable, str(APPS_DIR / script), "--port", str(run.port), run.app.module]

    return command


def _bare(run: Launch) -> list[str]:
    return [sys.executable, str(APPS_DIR / "bare_uvloop.py"), "--port", str(run.port)]


@dataclass(frozen=True)
class Server:
    """One row of the benchmark: a server, how wrk reaches it, and how it says it is ready."""

    name: str  # what --only takes
    family: str  # --only also takes this, selecting every row of the family
    label: str
    front: str  # HTTP: wrk talks to the server; NGINX: wrk -> nginx -> uwsgi protocol -> server
    command: Callable[[Launch], list[str]]
    note: str
    notify: bool = False  # says READY=1 on $NOTIFY_SOCKET; otherwise wait for its port
    apps: frozenset[str] = field(default_factory=lambda: frozenset(APPS))
    source: Path | None = None  # another checkout's src/, first on PYTHONPATH (--baseline)
    # A file of usher's source the row needs (its capability's module): a --baseline checkout
    # without it gets no such row, rather than a row of the app answering in its place.
    needs: str = ""


SERVERS = (
    Server(
        "usher", "usher", "usher --http-socket", HTTP, _usher("--http-socket"),
        "the app runs inline on the worker's event loop", notify=True,
    ),
    Server(
        "uwsgi", "uwsgi", "uWSGI --http-socket", HTTP, _uwsgi("--http-socket"),
        "closes the connection after each response",
    ),
    Server(
        "uwsgi-http11", "uwsgi", "uWSGI --http11-socket", HTTP, _uwsgi("--http11-socket"),
        "HTTP/1.1 keep-alive; a worker serves one connection at a time",
    ),
    Server(
        "gunicorn-sync", "gunicorn", "gunicorn sync", HTTP, _gunicorn("--worker-class", "sync"),
        "closes the connection after each response",
    ),
    Server(
        "gunicorn-gthread", "gunicorn", "gunicorn gthread", HTTP,
        _gunicorn("--worker-class", "gthread", "--threads", "4"),
        "4 threads, the usual starting point; keep-alive",
    ),
    Server(
        "granian", "granian", "granian wsgi", HTTP, _granian,
        "granian's default number of blocking threads",
    ),
    Server(
        "bare", "bare", "bare uvloop+httptools", HTTP, _bare,
        "no WSGI: a fixed response from the parser callback; the Python ceiling",
        apps=frozenset({"hello"}),
    ),
    Server(
        "bare-prefork", "bare", "bare prefork uvloop+httptools", HTTP,
        _bare_prefork("bare_prefork.py"),
        "no usher code: the app imported, one forked worker, a minimal environ; the memory floor "
        "of any server on uvloop and httptools, and on hello the floor of a WSGI server's work",
    ),
    Server(
        "bare-prefork-compiled", "bare", "bare prefork, compiled by mypyc", HTTP,
        _bare_prefork("compiled_floor.py"),
        "bare prefork compiled to C as usher's request path is: how close to the bare loop a "
        "WSGI server on these libraries gets",
        apps=frozenset({"hello"}),
    ),
    Server(
        "nginx-usher", "usher", "nginx → usher --socket", NGINX, _usher("--socket"),
        "uwsgi protocol behind nginx uwsgi_pass", notify=True,
    ),
    Server(
        "nginx-uwsgi", "uwsgi", "nginx → uWSGI --socket", NGINX, _uwsgi("--socket"),
        "uwsgi protocol behind nginx uwsgi_pass",
    ),
    Server(
        "nginx-gunicorn", "gunicorn", "nginx → gunicorn --protocol uwsgi", NGINX,
        _gunicorn("--worker-class", "sync", "--protocol", "uwsgi"),
        "sync worker speaking the uwsgi protocol behind nginx uwsgi_pass",
    ),
)  # fmt: skip

USHER_ROW = {HTTP: "usher", NGINX: "nginx-usher"}


def baseline_servers(checkout: Path) -> list[Server]:
    """usher's own rows again, run from another checkout (`--baseline`): the same run then says
    what a change did to usher, beside the peers, on the same noisy host."""
    source = checkout.resolve() / "src"
    if not (source / "usher" / "__init__.py").is_file():
        raise ValueError(f"{checkout} is not a checkout of usher (no src/usher in it)")
    return [
        dataclasses.replace(
            server,
            name=f"{server.name}-baseline",
            family="baseline",
            label=server.label.replace("usher", "usher (baseline)", 1),
            note=f"{server.note}; usher from {checkout}",
            source=source,
        )
        for server in SERVERS
        if server.name in USHER_ROW.values()
        and (not server.needs or (source / server.needs).is_file())
    ]


def select(only: str | None) -> list[Server]:
    """The servers named in `only` (names or families, comma-separated); all when None."""
    if only is None:
        return list(SERVERS)
    wanted = {part.strip() for part in only.split(",") if part.strip()}
    known = {server.name for server in SERVERS} | {server.family for server in SERVERS}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(
            f"unknown server {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [s for s in SERVERS if s.name in wanted or s.family in wanted]


def server_environ(app: App, extra: dict[str, str], source: Path | None = None) -> dict[str, str]:
    """The environment every server starts with: the app's directory importable (after
    `source`, a checkout's src/ to run usher from), plus `extra`."""
    environ = dict(os.environ)
    paths = [str(source or ""), str(app.directory), environ.get("PYTHONPATH", "")]
    environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    environ.pop("NOTIFY_SOCKET", None)  # only the servers that speak it get one, and their own
    environ.update(extra)
    return environ


# The ASGI rows (bench/scenarios_asgi.py) join the table; imported last, since they are built
# from this module's App and Server.
from scenarios_asgi import ASGI_HELLO, ASGI_SERVERS  # noqa: E402

APPS[ASGI_HELLO.name] = ASGI_HELLO
SERVERS = (*SERVERS, *ASGI_SERVERS)

# The static-file rows (bench/scenarios_static.py), the same way; report.py takes their targets
# from here, this module being the one that loads that one.
from scenarios_static import STATIC_APPS, STATIC_SERVERS, STATIC_TARGETS  # noqa: E402, F401

APPS.update(STATIC_APPS)
SERVERS = (*SERVERS, *STATIC_SERVERS)
