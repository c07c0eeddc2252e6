"""Which static requests the prepared 200 answers (usher.adapters.static.PreparedExchange) and
which go the full way (StaticExchange): conditions, ranges, other methods, precompressed
siblings, expiries and routes all need the request's own answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from usher.adapters.base import Exchange, Responder
from usher.adapters.routes import Effects
from usher.adapters.static import PreparedExchange, StaticExchange, StaticHandler
from usher.adapters.static_files import config_from_settings
from usher.options import load_settings
from usher.protocols.events import Request
from usher.protocols.framing import Prepared, plan_response


class AppHandler:
    runs_coroutines = False

    def serving(self, loop_shared: bool) -> None:
        pass

    def begin(self, request: Request, responder: Responder) -> Exchange:
        raise AssertionError("a file's request reached the app")


class Recording:
    """Enough of a responder for `prepare` and `send_prepared`: what was sent is kept."""

    def __init__(self) -> None:
        self.prepared: list[Prepared] = []
        self.sent: list[Prepared] = []
        self.quiet = True

    def prepare(self, status: str, headers: list[tuple[str, str]], body: bytes) -> Prepared:
        plan = plan_response(
            status, headers, len(body), method="GET", http_version="1.1", keep_alive=True,
            uwsgi=False, server=b"usher",
        )  # fmt: skip
        prepared = Prepared(status, headers, body, plan)
        self.prepared.append(prepared)
        return prepared

    def send_prepared(self, prepared: Prepared) -> None:
        self.sent.append(prepared)


def handler(root: Path, *args: str) -> StaticHandler:
    settings = load_settings(
        ["--http-socket", ":0", "--static-map", f"/static={root}", *args], {}
    ).settings
    config = config_from_settings(settings)
    assert config is not None
    return StaticHandler(AppHandler(), config)


def get(method: str = "GET", **headers: str) -> Request:
    pairs = [
        (b"host", b"x"),
        *((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()),
    ]
    return Request(method, b"/static/a.txt", b"", "1.1", pairs, True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_bytes(b"a" * 1024)
    return tmp_path


def test_plain_get_and_head_are_prepared_once_per_shape(root: Path) -> None:
    files = handler(root)
    out = Recording()
    any_out: Any = out
    for method in ("GET", "GET", "HEAD", "GET"):
        exchange = files.begin(get(method, accept="*/*", accept_encoding="gzip"), any_out)
        assert isinstance(exchange, PreparedExchange)
        exchange.receive_end()
    assert len(out.prepared) == 2  # GET and HEAD
    assert out.sent == [out.prepared[0], out.prepared[0], out.prepared[1], out.prepared[0]]
    assert out.quiet is False
    over_uwsgi = Request("GET", b"/static/a.txt", b"", "1.1", [], False, {"HTTP_HOST": "x"})
    assert isinstance(files.begin(over_uwsgi, any_out), PreparedExchange)
    assert len(out.prepared) == 3


@pytest.mark.parametrize(
    "request_",
    [
        get(if_none_match='"x"'),
        get(if_modified_since="Thu, 01 Jan 2026 00:00:00 GMT"),
        get(range="bytes=0-1"),
        get(if_match="*"),
        get("POST"),
        Request("GET", b"/static/a.txt", b"", "1.1", [], False, {"HTTP_RANGE": "bytes=0-1"}),
    ],
)
def test_requests_that_change_the_answer_go_the_full_way(root: Path, request_: Request) -> None:
    out: Any = Recording()
    assert isinstance(handler(root).begin(request_, out), StaticExchange)


@pytest.mark.parametrize("args", [("--static-gzip-all",), ("--static-expires-uri", "a 60"), ()])
def test_siblings_expiries_and_big_files_go_the_full_way(root: Path, args: tuple[str, ...]) -> None:
    if not args:
        (root / "a.txt").write_bytes(b"a" * (64 << 10))  # sent by sendfile
    out: Any = Recording()
    assert isinstance(handler(root, *args).begin(get(), out), StaticExchange)


class NoRoutes:
    def request_effects(self, request: Request, peer: tuple[str, str]) -> Effects:
        return Effects()

    def edit(self, headers: list[tuple[str, str]], effects: Effects) -> list[tuple[str, str]]:
        return headers


def test_routes_go_the_full_way(root: Path) -> None:
    # add-header, del-header and the request chain may touch any file's response.
    with_routes = StaticHandler(AppHandler(), handler(root).files.config, NoRoutes())
    out: Any = Recording()
    assert isinstance(with_routes.begin(get(), out), StaticExchange)


def test_prepared_bytes_count_against_the_cache_and_leave_with_the_file(root: Path) -> None:
    files = handler(root)
    out: Any = Recording()
    files.begin(get(), out)
    assert files.files.cached_bytes == 1024 + len(out.prepared[0].after)
    (root / "a.txt").write_bytes(b"b" * 10)  # a new version: the old one is forgotten
    files.begin(get(), out)
    assert files.files.cached_bytes == 10 + len(out.prepared[1].after)
