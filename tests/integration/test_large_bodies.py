"""Bodies far larger than any buffer: uploads streamed from the client in chunks (never built in
memory whole) and streamed responses, checked byte for byte by digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from tests.support.http import Address, http_connection
from tests.support.paths import WSGI_APPS
from tests.support.server import Serve, free_port

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
BIG = 50 * MIB


@pytest.fixture(scope="module")
def site(module_serve: Serve) -> Address:
    port = free_port()
    module_serve(
        [
            "--http-socket",
            f"127.0.0.1:{port}",
            "--wsgi-file",
            str(WSGI_APPS),
            # A limit above the body: large uploads pass when the operator allows them.
            "--limit-post",
            str(64 * MIB),
        ]
    )
    return ("127.0.0.1", port)


class Upload:
    """A body generated chunk by chunk, digested as it is sent."""

    def __init__(self, size: int, chunk: int = MIB) -> None:
        self.size = size
        self.chunk = chunk
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        index = 0
        while sent < self.size:
            # Varying bytes per chunk, so a dropped or repeated chunk changes the digest.
            piece = hashlib.sha256(b"%d" % index).digest() * (self.chunk // 32)
            piece = piece[: min(self.chunk, self.size - sent)]
            self.digest.update(piece)
            sent += len(piece)
            index += 1
            yield piece


def post_stream(site: Address, upload: Upload, *, chunked: bool) -> dict[str, object]:
    conn = http_connection(site, timeout=60)
    try:
        headers = {"Content-Type": "application/octet-stream"}
        if not chunked:
            headers["Content-Length"] = str(upload.size)
        conn.request(
            "POST", "/echo/upload", body=iter(upload), headers=headers, encode_chunked=chunked
        )
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body[:500]
    finally:
        conn.close()
    result: dict[str, object] = json.loads(body)
    return result


def test_50mb_upload_with_content_length(site: Address) -> None:
    upload = Upload(BIG)
    result = post_stream(site, upload, chunked=False)
    assert result["body_length"] == BIG
    assert result["body_sha256"] == upload.digest.hexdigest()


def test_50mb_chunked_upload(site: Address) -> None:
    upload = Upload(BIG, chunk=MIB - 17)  # chunk boundaries that never align with buffers
    result = post_stream(site, upload, chunked=True)
    assert result["body_length"] == BIG
    assert result["body_sha256"] == upload.digest.hexdigest()


def read_digest(site: Address, path: str) -> tuple[int, str]:
    conn = http_connection(site, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        digest = hashlib.sha256()
        length = 0
        while piece := response.read(MIB):
            digest.update(piece)
            length += len(piece)
    finally:
        conn.close()
    return length, digest.hexdigest()


def test_50mb_streamed_response(site: Address) -> None:
    length, digest = read_digest(site, f"/stream?chunks=50&size={MIB}")
    expected = hashlib.sha256()
    for index in range(50):
        expected.update(bytes([index]) * MIB)
    assert length == BIG
    assert digest == expected.hexdigest()


def test_50mb_file_wrapper_response(site: Address) -> None:
    length, digest = read_digest(site, f"/file?size={BIG}")
    expected = hashlib.sha256()
    for index in range(BIG // 65536):
        expected.update(bytes([index % 256]) * 65536)
    assert length == BIG
    assert digest == expected.hexdigest()
