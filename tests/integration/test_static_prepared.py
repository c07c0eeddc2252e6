"""A cached small file answered with its prepared 200 (usher.adapters.static.PreparedExchange):
the same bytes as the planned path, pipelined, for HEAD and HTTP/1.0, and a changed file seen at
once; a conditional or range request still goes the full way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.http import Address, ResponseReader, connect, request
from tests.support.paths import FIXTURES
from tests.support.server import Serve, free_port, server_is_usher

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain")
    (root / "one.txt").write_bytes(b"a" * 1023 + b"\n")
    return root


@pytest.fixture(scope="module")
def address(module_serve: Serve, plain_site: Path) -> Address:
    if not server_is_usher():
        pytest.skip("usher's static files")
    port = free_port()
    module_serve(
        [
            "--http-socket", f"127.0.0.1:{port}",
            "--pythonpath", str(FIXTURES),
            "--module", "wsgi_apps",
            "--static-map", f"/static={plain_site}",
        ]
    )  # fmt: skip
    return ("127.0.0.1", port)


def test_pipelined_get_head_and_get(address: Address, plain_site: Path) -> None:
    body = (plain_site / "one.txt").read_bytes()
    sock = connect(address)
    try:
        line = b" /static/one.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n"
        sock.sendall(b"GET" + line + b"HEAD" + line + b"GET" + line)
        reader = ResponseReader(sock)
        first, head, last = (reader.read_response(m) for m in ("GET", "HEAD", "GET"))
    finally:
        sock.close()
    for response in (first, head, last):
        assert response.status == 200
        assert response.header("content-length") == "1024"
        assert (response.header("content-type") or "").startswith("text/plain")
        assert response.header("etag") and response.header("last-modified")
        assert response.header("date") and response.header("accept-ranges") == "bytes"
    assert first.body == body and last.body == body and head.body == b""

    def but_date(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(n, v) for n, v in headers if n.lower() != "date"]

    assert but_date(first.headers) == but_date(last.headers)
    assert but_date(head.headers) == but_date(first.headers)


def test_http_10_closes_and_11_keeps_alive(address: Address) -> None:
    sock = connect(address)
    try:
        sock.sendall(b"GET /static/one.txt HTTP/1.0\r\n\r\n")
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert response.status == 200 and len(response.body) == 1024
        assert reader.read_until_close() == b""  # closed after it
    finally:
        sock.close()


def test_conditional_and_range_still_answered(address: Address) -> None:
    etag = request(address, "GET", "/static/one.txt").header("etag")
    assert etag is not None
    not_modified = request(address, "GET", "/static/one.txt", headers={"If-None-Match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    part = request(address, "GET", "/static/one.txt", headers={"Range": "bytes=0-9"})
    assert part.status == 206 and part.body == b"a" * 10


def test_a_replaced_file_is_seen_at_once(address: Address, plain_site: Path) -> None:
    assert request(address, "GET", "/static/one.txt").body.startswith(b"a")
    replacement = plain_site / "one.new"
    replacement.write_bytes(b"b" * 99 + b"\n")
    os.replace(replacement, plain_site / "one.txt")
    try:
        response = request(address, "GET", "/static/one.txt")
        assert response.body == b"b" * 99 + b"\n"
        assert response.header("content-length") == "100"
    finally:
        (plain_site / "one.txt").write_bytes(b"a" * 1023 + b"\n")
