"""Side-by-side benchmark of usher against uWSGI, gunicorn, granian and nginx uwsgi_pass.

    python bench/run.py front [--duration S] [--only direct,nginx-proxy_pass,...]  (the front)
    python bench/run.py [--quick] [--duration S] [--warmup S] [--only usher,uwsgi,...]
                        [--apps hello,django] [--retry-noisy N] [--write-docs]

Every server runs with one worker pinned to CPU 0; wrk (and nginx, for the uwsgi_pass rows) run
on CPU 1. Each server is started, warmed up, measured and stopped in turn; the results print as
markdown, and --write-docs also writes them, with the method and the machine, to
docs/benchmarks.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import machine
import report
import scenarios_websocket
from loadgen import CLIENT_CPU, WrkError, run_wrk
from nginx_front import nginx_binary, nginx_command, write_config
from processes import (
    START_TIMEOUT,
    ServerProcess,
    StartupError,
    cpu_busy_seconds,
    cpu_split_between,
    cpu_split_ticks,
    free_port,
    probe,
    pss_mib,
    rss_mib,
    start,
    stop,
    wait_for_notify,
    wait_for_port,
)
from servers import (
    APPS,
    DJANGO,
    DJANGO_DIR,
    NGINX,
    REPO_DIR,
    App,
    Launch,
    Server,
    baseline_servers,
    select,
)
from servers import server_environ as environ_for

SERVER_CPU = 0
# Migrating the fixture's SQLite database takes a few seconds; more means something is wrong.
MIGRATE_TIMEOUT = 300.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_django(tmp: Path) -> dict[str, str] | None:
    """Migrate the Django fixture into a fresh SQLite file; the env that points at it, or None."""
    manage = DJANGO_DIR / "manage.py"
    if not manage.exists():
        log(f"django: skipped, the fixture project is not there ({manage} is missing)")
        return None
    extra = {"DJANGO_DB_PATH": str(tmp / "django.sqlite3")}
    done = subprocess.run(
        [sys.executable, str(manage), "migrate", "--noinput"],
        cwd=DJANGO_DIR,
        env=environ_for(DJANGO, extra),
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        log(f"django: skipped, manage.py migrate failed:\n{done.stdout}{done.stderr}")
        return None
    return extra


def _notify_socket(stack: contextlib.ExitStack, path: Path) -> socket.socket:
    sock = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    sock.bind(str(path))
    return sock


def _start_nginx(
    stack: contextlib.ExitStack, workdir: Path, backend: int, deadline: float
) -> tuple[ServerProcess, int]:
    binary = nginx_binary()
    if binary is None:
        raise StartupError("nginx is not installed")
    port = free_port()
    config = write_config(workdir, port, backend)
    argv = ["taskset", "-c", str(CLIENT_CPU), *nginx_command(binary, config)]
    nginx = start("nginx", argv, dict(os.environ), workdir / "nginx.out")
    stack.callback(stop, nginx)
    wait_for_port(nginx, port, deadline)
    return nginx, port


@dataclass(frozen=True)
class Snapshot:
    """CPU counters read on both sides of the measured run."""

    server: dict[int, tuple[int, int]]  # user and system clock ticks per process of the app server
    nginx: dict[int, tuple[int, int]]
    busy: tuple[float, float]  # non-idle seconds of the server's CPU and of the client's CPU
    children: float  # CPU seconds of every child this script has reaped: the wrk runs

    @classmethod
    def take(cls, proc: ServerProcess, nginx: ServerProcess | None) -> Snapshot:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            server=cpu_split_ticks(proc.pids()),
            nginx=cpu_split_ticks(nginx.pids()) if nginx else {},
            busy=(cpu_busy_seconds(SERVER_CPU), cpu_busy_seconds(CLIENT_CPU)),
            children=usage.ru_utime + usage.ru_stime,
        )


def _launch(
    stack: contextlib.ExitStack, server: Server, app: App, extra: dict[str, str], workdir: Path
) -> tuple[ServerProcess, ServerProcess | None, int]:
    """Start the server (and nginx in front of it) and wait until the app answers correctly."""
    port = free_port()
    environ = environ_for(app, extra, server.source)
    notify = None
    if server.notify:
        notify = _notify_socket(stack, workdir / "notify.sock")
        environ["NOTIFY_SOCKET"] = str(workdir / "notify.sock")
    argv = ["taskset", "-c", str(SERVER_CPU), *server.command(Launch(app, port))]
    deadline = time.monotonic() + START_TIMEOUT
    proc = start(server.label, argv, environ, workdir / "server.out")
    stack.callback(stop, proc)
    if notify is not None:
        wait_for_notify(proc, notify, deadline)
    else:
        wait_for_port(proc, port, deadline)
    nginx, front = None, port
    if server.front == NGINX:
        nginx, front = _start_nginx(stack, workdir, port, deadline)
    try:
        probe(front, app.url_path, app.expect, deadline)
    except StartupError as exc:
        raise StartupError(f"{exc}\n{proc.log_tail()}") from None
    return proc, nginx, front


def measure(
    server: Server, app: App, extra: dict[str, str], workdir: Path, args: Args
) -> report.Row:
    """Start `server` on `app`, warm it up, measure it, stop it."""
    workdir.mkdir()
    with contextlib.ExitStack() as stack:
        proc, nginx, front = _launch(stack, server, app, extra, workdir)
        url = f"http://127.0.0.1:{front}{app.url_path}"
        run_wrk(url, args.warmup)
        before = Snapshot.take(proc, nginx)
        result = run_wrk(url, max(args.duration, app.min_duration))
        after = Snapshot.take(proc, nginx)
        proc.check_alive()
        server_user, server_system = cpu_split_between(before.server, after.server)
        nginx_user, nginx_system = cpu_split_between(before.nginx, after.nginx)
        server_cpu, nginx_cpu = server_user + server_system, nginx_user + nginx_system
        wrk_cpu = after.children - before.children
        busy = [end - begin for begin, end in zip(before.busy, after.busy, strict=True)]
        per_request = 1e6 / max(result.requests, 1)
        return report.Row(
            app=app.name,
            server=server,
            result=result,
            rss_mib=rss_mib(proc.worker_pids()),
            pss_mib=pss_mib(proc.worker_pids()),
            cpu_user_us=server_user * per_request,
            cpu_system_us=server_system * per_request,
            nginx_user_us=nginx_user * per_request if nginx else None,
            nginx_system_us=nginx_system * per_request if nginx else None,
            other_load=(
                max(busy[0] - server_cpu, 0.0) / result.seconds,
                max(busy[1] - wrk_cpu - nginx_cpu, 0.0) / result.seconds,
            ),
        )


class Args(argparse.Namespace):
    quick: bool
    duration: int
    warmup: int
    only: str | None
    apps: str
    retry_noisy: int
    rounds: int
    baseline: Path | None
    write_docs: bool


def parse_args(argv: list[str]) -> Args:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run [10]")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of warm-up [duration/5]")
    parser.add_argument("--only", default=None, help="comma-separated server names or families")
    parser.add_argument(
        "--apps",
        default="hello,django,asgi-hello,static-1k,static-1m,websocket,idle",
        help="comma-separated: hello,django,asgi-hello,static-1k,static-1m,websocket,idle "
        "(static-*: bench/scenarios_static.py; websocket, idle: bench/scenarios_websocket.py)",
    )
    parser.add_argument(
        "--retry-noisy",
        type=int,
        default=1,
        help="measure a row again up to this many times while other programs skew it [1]",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every row this many times, the servers alternating, and keep each row's "
        "median by requests/s [1]",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of usher (e.g. a git worktree of an earlier commit) whose usher rows "
        "are measured too, beside this one's",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="also write the results to docs/benchmarks.md"
    )
    args = parser.parse_args(argv, namespace=Args())
    if args.quick:
        args.duration = 3
        args.warmup = 1 if args.warmup is None else args.warmup
    if args.warmup is None:
        args.warmup = max(1, args.duration // 5)
    if args.duration < 1 or args.warmup < 1:
        parser.error("--duration and --warmup must be at least 1 second")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def select_apps(names: str) -> list[App]:
    """The apps named in `names`, comma-separated."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in APPS]
    if unknown or not wanted:
        raise ValueError(f"unknown app {', '.join(unknown)}; choose from {', '.join(APPS)}")
    return [APPS[name] for name in wanted]


def preflight() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if len(os.sched_getaffinity(0)) < 2:
        return "needs two CPUs: the server on CPU 0, wrk on CPU 1"
    for program in ("taskset", "wrk"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return None


def measure_row(
    server: Server, app: App, extra: dict[str, str], tmp: Path, args: Args
) -> report.Row:
    """Measure one row, measuring again (up to --retry-noisy times) while other work skews it."""
    best: report.Row | None = None
    for attempt in range(args.retry_noisy + 1):
        log(f"[{app.name}] {server.label} ...")
        workdir = tmp / f"{app.name}-{server.name}-{attempt}"
        try:
            row = measure(server, app, extra, workdir, args)
        except (StartupError, WrkError, OSError, subprocess.SubprocessError) as exc:
            log(f"[{app.name}] {server.label}: FAILED\n{exc}")
            return report.Row(app=app.name, server=server, failure=str(exc))
        assert row.result is not None
        log(f"[{app.name}] {server.label}: {row.result.summary}")
        if best is None or max(row.other_load) < max(best.other_load):
            best = row
        if max(row.other_load) <= report.NOISY_LOAD:
            break
        log(f"[{app.name}] {server.label}: other programs were busy on its CPUs")
    assert best is not None
    return best


def run_all(servers: list[Server], apps: list[App], args: Args) -> list[report.Row]:
    """Measure every server on every app it serves, --rounds times, the servers alternating (in
    reverse order every other round, so no server always follows the same one), and keep each
    row's median by requests/s: a slow spell of the host then skews one round, not a row."""
    rows: list[report.Row] = []
    with tempfile.TemporaryDirectory(prefix="usher-bench-") as tmp:
        for app in apps:
            extra = prepare_django(Path(tmp)) if app is DJANGO else {}
            if extra is None:
                continue
            serving = [server for server in servers if app.name in server.apps]
            rounds: dict[str, list[report.Row]] = {server.name: [] for server in serving}
            for number in range(args.rounds):
                order = serving if number % 2 == 0 else serving[::-1]
                for server in order:
                    where = Path(tmp) / f"round{number}"
                    where.mkdir(exist_ok=True)
                    rounds[server.name].append(measure_row(server, app, extra, where, args))
            rows.extend(report.median(rounds[server.name]) for server in serving)
    return rows


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same unwinding as Ctrl-C, so every server is stopped on the way out.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["front"]:  # the front's own rows (bench/scenarios_front.py)
        import scenarios_front

        return scenarios_front.main(argv[1:])
    args = parse_args(argv)
    ws_apps, args.apps = scenarios_websocket.split_apps(args.apps)
    try:
        servers = select(scenarios_websocket.wsgi_only(args.only)) if args.apps else []
        if args.baseline is not None:
            servers += baseline_servers(args.baseline)
        apps = select_apps(args.apps) if args.apps else []
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    problem = preflight()
    if problem is not None:
        log(f"error: {problem}")
        return 1
    # A shell starts background jobs with SIGINT ignored; the servers must still be stopped on it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        rows = run_all(servers, apps, args)
        with tempfile.TemporaryDirectory(prefix="usher-bench-ws-") as tmp:
            ws_results, ws_ok = scenarios_websocket.run(
                ws_apps, args.only, args.duration, args.warmup, Path(tmp), log
            )
    except KeyboardInterrupt:
        log("interrupted: every server started was stopped")
        return 130
    results = f"{report.tables(rows)}\n#### Targets from the issue\n\n{report.targets(rows)}\n"
    results = f"{results if rows else ''}\n{ws_results}" if ws_results else results
    print(results)
    if args.write_docs:
        command = shlex.join(["python", "bench/run.py", *argv])
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = report.page(command, date, machine.facts(nginx_binary()), results)
        (REPO_DIR / "docs" / "benchmarks.md").write_text(text)
        log("wrote docs/benchmarks.md")
    return 0 if ws_ok and all(row.result is not None for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
