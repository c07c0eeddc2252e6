"""The static-file rows: a 1 KiB and a 1 MiB file under /static/, served by usher's static-map,
by nginx from its root, by uWSGI's static-map and by gunicorn with WhiteNoise.

Every server serves the same two files from one directory, written once before the first server
starts; a request for any other path reaches the hello app (WhiteNoise and the static maps fall
through to it). bench/servers.py imports this module at its end and adds the rows to its own;
import `servers`, not this module, first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from nginx_front import nginx_binary, nginx_command, nginx_config
from servers import APPS_DIR, HTTP, App, Launch, Server, _gunicorn, _usher, _uwsgi

STATIC_DIR = Path(
    os.environ.get("USHER_BENCH_STATIC", Path(tempfile.gettempdir()) / "usher-bench-static")
)
SIZES = {"static-1k": 1024, "static-1m": 1 << 20}


def _content(size: int) -> bytes:
    # Text that starts with a marker the probe can find, deterministic across runs.
    head = f"usher-bench-static-{size}\n".encode()
    return (head + b"0123456789abcdef" * (size // 16 + 1))[:size]


def prepare_files() -> Path:
    """Write the static files (once) and return their directory."""
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        path = STATIC_DIR / f"{name}.txt"
        data = _content(size)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return STATIC_DIR


def _static_app(name: str) -> App:
    size = SIZES[name]
    return App(
        name=name,
        directory=APPS_DIR,
        module="whitenoise_app:application",
        url_path=f"/static/{name}.txt",
        expect=_content(size)[:24],
        wsgi_file=APPS_DIR / "hello.py",
    )


STATIC_APPS = {name: _static_app(name) for name in SIZES}
_SERVED = frozenset(STATIC_APPS)


def _static_map(run: Launch) -> list[str]:
    return ["--static-map", f"/static={prepare_files()}"]


def _usher_static(run: Launch) -> list[str]:
    return [*_usher("--http-socket")(run), *_static_map(run)]


def _uwsgi_static(run: Launch) -> list[str]:
    # --http-socket, not --http11-socket: with keep-alive a uWSGI worker serves one connection
    # at a time, and wrk's 50 connections then measured a few dozen requests per second.
    return [*_uwsgi("--http-socket")(run), *_static_map(run)]


def _gunicorn_whitenoise(run: Launch) -> list[str]:
    prepare_files()
    # Always the WhiteNoise app, also when the docs list the commands for the hello app.
    run = Launch(STATIC_APPS["static-1k"], run.port)
    return _gunicorn("--worker-class", "gthread", "--threads", "4")(run)


NGINX_STATIC = """\
    sendfile on;
    tcp_nopush on;
    types {{ text/plain txt; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{
            alias {root}/;
        }}
    }}"""


def _nginx_static(run: Launch) -> list[str]:
    root = prepare_files()
    tmp = Path(tempfile.mkdtemp(prefix="usher-bench-nginx-static-"))
    atexit.register(shutil.rmtree, tmp, True)
    config = tmp / "nginx.conf"
    config.write_text(nginx_config(tmp, NGINX_STATIC.format(port=run.port, root=root)))
    return nginx_command(nginx_binary() or "nginx", config)


STATIC_SERVERS = (
    # Named as usher's and uWSGI's HTTP rows, serving only the static apps: `--only usher` runs
    # both, and each static table's "usher is" column compares with this usher row.
    Server(
        "usher", "usher", "usher --http-socket --static-map", HTTP, _usher_static,
        "static-map: files answered on the worker's event loop", notify=True, apps=_SERVED,
        needs="usher/adapters/static.py",
    ),
    Server(
        "nginx-static", "nginx", "nginx (root)", HTTP, _nginx_static,
        "nginx serving the directory itself: sendfile on, one worker", apps=_SERVED,
    ),
    Server(
        "uwsgi", "uwsgi", "uWSGI --http-socket --static-map", HTTP, _uwsgi_static,
        "uWSGI's static-map; closes the connection after each response", apps=_SERVED,
    ),
    Server(
        "gunicorn-gthread", "gunicorn", "gunicorn gthread + WhiteNoise", HTTP,
        _gunicorn_whitenoise, "WhiteNoise in front of the app, 4 threads", apps=_SERVED,
    ),
)  # fmt: skip

# (text, app, usher row, peer row, metric, bound), as report.Target takes them.
STATIC_TARGETS = tuple(
    target
    for app in SIZES
    for target in (
        (f"{app}: usher static-map ≥ 0.7x nginx req/s", app, "usher", "nginx-static", "rps", 0.7),
        (f"{app}: usher static-map ≥ 3x gunicorn + WhiteNoise req/s", app, "usher",
         "gunicorn-gthread", "rps", 3.0),
    )
)  # fmt: skip
