"""Shared fixtures: start servers and nginx for a test (or a module) and always clean them up;
a failing test's report carries the logs of every server and nginx running at that moment."""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

import pytest

from tests.support.django_site import prepare_django_db
from tests.support.events import EventListener
from tests.support.nginx import (
    NginxProcess,
    StartNginx,
    make_self_signed_cert,
    nginx_available,
    start_nginx,
)
from tests.support.server import Serve, ServerProcess, short_tmp_dir, start_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nginx: needs /usr/sbin/nginx (skipped when missing)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if nginx_available():
        return
    skip = pytest.mark.skip(reason="nginx is not installed (/usr/sbin/nginx); CI installs it")
    for item in items:
        if item.get_closest_marker("nginx"):
            item.add_marker(skip)


class Described(Protocol):
    def describe(self) -> str: ...


# Servers and nginx instances running right now; a failing test's report gets their logs.
_live_key = pytest.StashKey[list[Described]]()


def _live(config: pytest.Config) -> list[Described]:
    return config.stash.setdefault(_live_key, [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for index, process in enumerate(_live(item.config)):
            report.sections.append((f"process {index} log", process.describe()))
    return report


@pytest.fixture
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Serve]:
    """Start a server for this test: `serve(["--http-socket", ...], env=...)`; waits for READY=1
    unless wait_ready=False, and stops it (SIGTERM, then SIGKILL) after the test."""
    started: list[ServerProcess] = []

    def start(
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        wait_ready: bool = True,
    ) -> ServerProcess:
        log_dir = tmp_path / f"server{len(started)}"
        server = start_server(args, log_dir=log_dir, env=env, cwd=cwd, wait_ready=wait_ready)
        started.append(server)
        _live(request.config).append(server)
        return server

    yield start
    for server in started:
        _live(request.config).remove(server)
        server.close()


@pytest.fixture(scope="module")
def module_nginx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartNginx]:
    """Start nginx in front of an upstream for a whole module; stopped after it, with its error
    log printed when a test of the module failed."""
    started: list[NginxProcess] = []

    def start(
        upstream: str,
        kind: Literal["uwsgi", "http"] = "uwsgi",
        *,
        tls: bool = False,
        mounts: dict[str, str] | None = None,
    ) -> NginxProcess:
        directory = tmp_path_factory.mktemp("nginx")
        if tls and shutil.which("openssl") is None:
            pytest.skip("the openssl command is needed to make a test certificate")
        cert = make_self_signed_cert(directory) if tls else None
        nginx = start_nginx(directory, upstream, kind, tls=cert, mounts=mounts)
        started.append(nginx)
        _live(request.config).append(nginx)
        return nginx

    yield start
    for nginx in started:
        _live(request.config).remove(nginx)
        nginx.stop()


@pytest.fixture(scope="module")
def module_sock_dir() -> Iterator[Path]:
    """`sock_dir` for a whole module."""
    path = short_tmp_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A directory with a short path, for unix sockets."""
    path = short_tmp_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def events() -> Iterator[EventListener]:
    """The fixture apps' event channel; pass `events.env()` into the server's environment."""
    listener = EventListener()
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def django_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database (with the admin superuser) shared by the session's tests."""
    db_path = tmp_path_factory.mktemp("django") / "db.sqlite3"
    prepare_django_db(db_path)
    return db_path


@pytest.fixture(scope="module")
def module_serve(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serve]:
    """`serve` for a server shared by a whole module (read-only tests that need one server)."""
    started: list[ServerProcess] = []

    def start(
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        wait_ready: bool = True,
    ) -> ServerProcess:
        log_dir = tmp_path_factory.mktemp("module-server")
        server = start_server(args, log_dir=log_dir, env=env, cwd=cwd, wait_ready=wait_ready)
        started.append(server)
        _live(request.config).append(server)
        return server

    yield start
    for server in started:
        _live(request.config).remove(server)
        server.close()
