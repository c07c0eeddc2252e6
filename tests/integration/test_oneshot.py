"""The uwsgi protocol spoken straight to a worker, as nginx `uwsgi_pass` does: each request on a
connection of its own, answered where it was accepted (usher.worker.oneshot) when the app gives one body,
and by a connection when it gives more (a stream, a file, write(), an error, a large body), or when
the request is not whole in the first read. Also: harakiri and the stats of a request answered
that way."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ops import OPS_APP, eventually, read_stats, workers_by_id
from tests.support.events import EventListener
from tests.support.http import Address, Response, ResponseReader, connect, parse_response
from tests.support.paths import START_RESPONSE_RULES, WSGI_APPS
from tests.support.server import Serve, ServerProcess, free_port
from usher.protocols.uwsgi import encode_uwsgi_request

pytestmark = pytest.mark.timeout(60)


def uwsgi_vars(path: str, method: str = "GET", body: bytes = b"", **extra: str) -> dict[str, str]:
    """The variables of nginx's stock uwsgi_params for one request."""
    uri_path, _, query = path.partition("?")
    return {
        "QUERY_STRING": query, "REQUEST_METHOD": method, "CONTENT_TYPE": "",
        "CONTENT_LENGTH": str(len(body)) if body else "", "REQUEST_URI": path,
        "PATH_INFO": uri_path, "DOCUMENT_ROOT": "/usr/share/nginx/html",
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "HTTPS": "",
        "REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "51234", "SERVER_PORT": "80",
        "SERVER_NAME": "example.org", "HTTP_HOST": "example.org", **extra,
    }  # fmt: skip


def exchange(site: Address, packet: bytes, *, split: int | None = None) -> Response:
    """Send one uwsgi packet (in two writes when `split` is given) and read the response until
    the worker closes the connection."""
    with connect(site) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if split is None:
            sock.sendall(packet)
        else:
            sock.sendall(packet[:split])
            sock.sendall(packet[split:])
        data = ResponseReader(sock).read_until_close()
    return parse_response(data, method=packet_method(packet))


def packet_method(packet: bytes) -> str:
    return "HEAD" if b"\x0e\x00REQUEST_METHOD\x04\x00HEAD" in packet else "GET"


def get(site: Address, path: str, **extra: str) -> Response:
    return exchange(site, encode_uwsgi_request(uwsgi_vars(path, **extra)))


@pytest.fixture(scope="module")
def site(module_serve: Serve) -> Iterator[Address]:
    port = free_port()
    module_serve(
        ["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), "--processes", "1"]
    )
    yield ("127.0.0.1", port)


@pytest.fixture(scope="module")
def events_site(module_serve: Serve) -> Iterator[tuple[Address, EventListener]]:
    listener = EventListener()
    port = free_port()
    module_serve(
        ["--socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS), "--processes", "1"],
        env={**os.environ, **listener.env()},
    )
    yield ("127.0.0.1", port), listener
    listener.close()


def test_a_whole_request_is_answered_with_the_front_servers_variables(site: Address) -> None:
    response = get(site, "/echo?a=1")
    assert response.status == 200
    # The head is the app's status and headers (and the measured length), as uWSGI's is: the
    # front server adds its own Date and Server, and the connection's end ends the response.
    assert [name for name, _ in response.headers] == ["Content-Type", "Content-Length"]
    seen = response.json()
    assert (seen["PATH_INFO"], seen["QUERY_STRING"], seen["REQUEST_URI"]) == (
        "/echo", "a=1", "/echo?a=1",
    )  # fmt: skip
    assert (seen["REMOTE_ADDR"], seen["SERVER_NAME"]) == ("203.0.113.7", "example.org")
    assert seen["headers"] == {"HTTP_HOST": "example.org"}
    assert "CONTENT_LENGTH" not in seen and seen["body_length"] == 0


def test_https_from_the_front_server_sets_the_url_scheme(site: Address) -> None:
    assert get(site, "/echo", HTTPS="on").json()["url_scheme"] == "https"


@pytest.mark.parametrize("tail", [None, 3, 4000], ids=["whole", "last-3-bytes", "last-4000"])
def test_a_body_arrives_whole_or_in_parts(site: Address, tail: int | None) -> None:
    body = bytes(range(256)) * 40
    packet = encode_uwsgi_request(uwsgi_vars("/echo", "POST", body), body)
    seen = exchange(site, packet, split=None if tail is None else len(packet) - tail).json()
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_a_head_split_inside_the_variables_is_read_on(site: Address) -> None:
    assert exchange(site, encode_uwsgi_request(uwsgi_vars("/echo")), split=20).status == 200


def test_head_requests_get_no_body(site: Address) -> None:
    response = exchange(site, encode_uwsgi_request(uwsgi_vars("/echo", "HEAD")))
    assert response.status == 200 and response.body == b""
    assert int(response.header("content-length") or 0) > 0


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/stream?chunks=50&size=1000", 50_000),  # a generator, no Content-Length
        ("/stream?chunks=1&size=300000", 300_000),  # one body, larger than one write
        ("/file?size=200000", 200_000),  # wsgi.file_wrapper: sendfile
    ],
)
def test_bodies_beyond_one_write_are_complete(site: Address, path: str, size: int) -> None:
    response = get(site, path)
    assert response.status == 200 and len(response.body) == size


def test_write_callable_then_iterable(site: Address) -> None:
    assert get(site, "/write").body == b"written-1;written-2;returned"


@pytest.mark.parametrize("path", ["/raise-before", "/raise-after-start", "/raise-mid-body"])
def test_an_app_failing_before_its_body_gets_500(site: Address, path: str) -> None:
    # raise-mid-body fails on its second chunk, before the head: usher reads two before sending.
    assert get(site, path).status == 500


@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_an_iterable_body_is_complete_and_closed(
    events_site: tuple[Address, EventListener], chunks: int
) -> None:
    # One chunk is answered where the request was accepted, more by a connection: either way
    # the body is whole and its close() runs, as PEP 3333 requires.
    site, events = events_site
    response = get(site, f"/close?chunks={chunks}&size=10")
    assert response.status == 200 and len(response.body) == chunks * 10
    events.wait_for("closed")


@pytest.mark.parametrize(("path", "status"), START_RESPONSE_RULES)
def test_start_response_rules(site: Address, path: str, status: int) -> None:
    assert get(site, path).status == status


@pytest.mark.parametrize("path", ["/validate?x=1", "/validate?stream=1"])
def test_wsgiref_validate_finds_no_breach(site: Address, path: str) -> None:
    response = get(site, path)
    assert response.status == 200, response.body


def test_wsgiref_validate_post(site: Address) -> None:
    body = b"field=value&other=2"
    packet = encode_uwsgi_request(uwsgi_vars("/validate", "POST", body), body)
    response = exchange(site, packet)
    assert response.status == 200, response.body
    assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_the_worker_serves_on_after_all_of_it(site: Address) -> None:
    assert get(site, "/echo").status == 200


# -- operations: the scoreboard and harakiri see a request answered where it was accepted --


@pytest.fixture
def ops_site(serve: Serve, events: EventListener) -> tuple[ServerProcess, Address, Address]:
    port, stats = free_port(), free_port()
    server = serve(
        [
            "--socket", f"127.0.0.1:{port}", "--wsgi-file", str(OPS_APP), "--master",
            "--stats", f"127.0.0.1:{stats}", "--harakiri", "2",
        ],
        env={**os.environ, **events.env()},
    )  # fmt: skip
    return server, ("127.0.0.1", port), ("127.0.0.1", stats)


def test_the_stats_show_the_request_in_progress(
    ops_site: tuple[ServerProcess, Address, Address], events: EventListener
) -> None:
    _server, site, stats = ops_site
    answers: list[Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(get(site, "/sleep?seconds=1")), daemon=True
    )
    thread.start()
    pid = int(events.wait_for("sleep-started").split()[1])

    def core() -> dict[str, Any]:
        worker = next(w for w in read_stats(stats)["workers"] if w["pid"] == pid)
        found: dict[str, Any] = worker["cores"][0]
        return found

    eventually(lambda: core()["in_request"] == 1)  # the reporter publishes once a second
    assert core()["req_info"]["request_start"] > 0
    thread.join(10)
    assert answers and answers[0].status == 200


def test_harakiri_answers_504_to_a_stuck_request(
    ops_site: tuple[ServerProcess, Address, Address],
) -> None:
    server, site, stats = ops_site
    response = get(site, "/sleep?seconds=60")
    assert response.status == 504 and b"harakiri" in response.body
    assert "harakiri: worker 1" in server.log_text()
    assert "on GET /sleep?seconds=60 from 203.0.113.7" in server.log_text()
    assert workers_by_id(read_stats(stats))[1]["harakiri_count"] == 1


# -- pool threads: the request goes to a connection, whose exchange runs on a thread ----------


@pytest.fixture(scope="module")
def threaded_site(module_serve: Serve) -> Iterator[Address]:
    port = free_port()
    module_serve(
        [
            "--socket", f"127.0.0.1:{port}", "--wsgi-file", str(WSGI_APPS),
            "--processes", "1", "--threads", "4",
        ]
    )  # fmt: skip
    yield ("127.0.0.1", port)


@pytest.mark.parametrize(
    "path", ["/echo", "/stream?chunks=20&size=5000", "/write", "/raise-before"]
)
def test_pool_threads_answer_every_kind_of_response(threaded_site: Address, path: str) -> None:
    response = get(threaded_site, path)
    expected = {"/echo": 200, "/raise-before": 500}.get(path.partition("?")[0], 200)
    assert response.status == expected
    if path.startswith("/stream"):
        assert len(response.body) == 100_000
    if path == "/echo":
        assert response.json()["multithread"] is True


def test_pool_threads_read_a_body_that_comes_in_parts(threaded_site: Address) -> None:
    body = b"y" * 50_000
    packet = encode_uwsgi_request(uwsgi_vars("/echo", "POST", body), body)
    seen = exchange(threaded_site, packet, split=len(packet) - 10_000).json()
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
