"""The ASGI rows: a hello-world ASGI app served by usher, uvicorn (httptools and uvloop, as
`uvicorn[standard]` runs), granian's ASGI interface and gunicorn with uvicorn's worker class.

Each runs one worker process and no access log, as the WSGI rows do. usher's row is named
`usher` like its WSGI row (the same command: usher detects the coroutine function), so the
tables' "usher is" column compares against it; `--only asgi` selects the peers, `--only
usher,asgi` the whole table.
"""

from __future__ import annotations

from servers import APPS_DIR, HTTP, App, Launch, Server, _usher, tool

ASGI_HELLO = App(
    name="asgi-hello",
    directory=APPS_DIR,
    module="hello_asgi:application",
    url_path="/",
    expect=b"Hello, World!",
    wsgi_file=APPS_DIR / "hello_asgi.py",
)

ONLY_ASGI = frozenset({ASGI_HELLO.name})


def _uvicorn(run: Launch) -> list[str]:
    # --workers 1 runs the server in the one process, without uvicorn's supervisor.
    return [
        tool("uvicorn"), "--host", "127.0.0.1", "--port", str(run.port), "--workers", "1",
        "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--lifespan", "off",
        run.app.module,
    ]  # fmt: skip


def _granian_asgi(run: Launch) -> list[str]:
    return [
        tool("granian"), "--interface", "asgi", "--workers", "1", "--no-access-log",
        "--host", "127.0.0.1", "--port", str(run.port), run.app.module,
    ]  # fmt: skip


def _gunicorn_uvicorn(run: Launch) -> list[str]:
    return [
        tool("gunicorn"), "--bind", run.address, "--workers", "1",
        "--worker-class", "uvicorn.workers.UvicornWorker", run.app.module,
    ]  # fmt: skip


ASGI_SERVERS = (
    Server(
        "usher", "usher", "usher --http-socket (ASGI)", HTTP, _usher("--http-socket"),
        "the app's coroutine runs as a task on the worker's event loop", notify=True,
        apps=ONLY_ASGI,
    ),
    Server(
        "uvicorn", "asgi", "uvicorn (httptools, uvloop)", HTTP, _uvicorn,
        "one process, no access log, lifespan off", apps=ONLY_ASGI,
    ),
    Server(
        "granian-asgi", "asgi", "granian asgi", HTTP, _granian_asgi,
        "granian's ASGI interface, one worker", apps=ONLY_ASGI,
    ),
    Server(
        "gunicorn-uvicorn", "asgi", "gunicorn + UvicornWorker", HTTP, _gunicorn_uvicorn,
        "gunicorn's master, one uvicorn worker", apps=ONLY_ASGI,
    ),
)  # fmt: skip
