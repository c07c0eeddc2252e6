"""Write the uwsgi-protocol corpus: ``*.bin`` packets and ``expected.json``.

Run from anywhere: ``python tests/corpus/uwsgi/make_corpus.py``. The packets are what nginx sends
through ``uwsgi_pass`` with the stock ``/etc/nginx/uwsgi_params`` (variables in that file's
order, then one ``HTTP_*`` per request header; Debian's file sets ``HTTP_HOST`` from ``$host``),
taken from captures of a real nginx 1.22. They are packed here with ``struct`` on purpose, not
with usher's encoder, so the corpus checks the codec against an independent writer.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent


def pack(variables: list[tuple[str, str]], body: bytes = b"", modifier1: int = 0) -> bytes:
    block = b""
    for key, value in variables:
        raw_key, raw_value = key.encode("latin-1"), value.encode("latin-1")
        block += struct.pack("<H", len(raw_key)) + raw_key
        block += struct.pack("<H", len(raw_value)) + raw_value
    return struct.pack("<BHB", modifier1, len(block), 0) + block + body


def nginx_vars(
    method: str,
    uri: str,
    path_info: str,
    *,
    content_type: str = "",
    content_length: str = "",
    https: bool = False,
    headers: tuple[tuple[str, str], ...] = (),
    extra: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, str]]:
    """The variables nginx sends for one request, in the order it sends them."""
    query = uri.partition("?")[2]
    variables = [
        ("QUERY_STRING", query),
        ("REQUEST_METHOD", method),
        ("CONTENT_TYPE", content_type),
        ("CONTENT_LENGTH", content_length),
        ("REQUEST_URI", uri),
        ("PATH_INFO", path_info),
        ("DOCUMENT_ROOT", "/usr/share/nginx/html"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "https" if https else "http"),
    ]
    if https:
        variables.append(("HTTPS", "on"))  # `if_not_empty`: absent on plain HTTP
    variables += [
        ("REMOTE_ADDR", "203.0.113.7"),
        ("REMOTE_PORT", "51234"),
        ("SERVER_PORT", "443" if https else "80"),
        ("SERVER_NAME", "shop.example.com"),
        ("HTTP_HOST", "shop.example.com"),
    ]
    variables += extra
    variables += [("HTTP_" + name.upper().replace("-", "_"), value) for name, value in headers]
    return variables


BROWSER = (
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "fr-FR,fr;q=0.8,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Cookie", "sessionid=0123456789abcdef; csrftoken=fedcba9876543210"),
)
FORM = b"csrfmiddlewaretoken=fedcba9876543210&email=alice%40example.com&quantity=2"


def request(method: str, uri: str, **fields: object) -> dict[str, object]:
    expected: dict[str, object] = {"type": "request", "method": method, "uri": uri}
    expected.update(fields)
    return expected


def error(status: int, reason: str) -> dict[str, object]:
    return {"type": "error", "status": status, "reason": reason}


def cases() -> dict[str, tuple[bytes, dict[str, object]]]:
    get = nginx_vars(
        "GET",
        "/caf%C3%A9/menu?lang=fr&page=2",
        "/caf\u00c3\u00a9/menu",  # nginx decodes the path; bytes above 0x7f arrive as latin-1
        headers=BROWSER,
    )
    post = nginx_vars(
        "POST",
        "/checkout/",
        "/checkout/",
        content_type="application/x-www-form-urlencoded",
        content_length=str(len(FORM)),
        https=True,
        headers=(
            *BROWSER,
            ("Content-Length", str(len(FORM))),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ),
    )
    mounted = nginx_vars(
        "GET", "/myapp/admin/?q=1", "/myapp/admin/", extra=(("SCRIPT_NAME", "/myapp"),)
    )
    big_header = nginx_vars("GET", "/", "/", headers=(("Cookie", "c" * 5000),))
    upload = nginx_vars(
        "PUT", "/files/a.bin", "/files/a.bin", content_length="100000",
        content_type="application/octet-stream",
    )  # fmt: skip
    truncated = pack(get)
    return {
        "nginx_get.bin": (
            pack(get),
            {
                "events": [
                    request(
                        "GET",
                        "/caf%C3%A9/menu?lang=fr&page=2",
                        path="/caf%C3%A9/menu",
                        query="lang=fr&page=2",
                        http_version="1.1",
                        body="",
                        vars=dict(get),
                    )
                ],
            },
        ),
        "nginx_post_form_https.bin": (
            pack(post, FORM),
            {
                "events": [
                    request(
                        "POST",
                        "/checkout/",
                        path="/checkout/",
                        query="",
                        body=FORM.decode(),
                        vars=dict(post),
                    )
                ],
            },
        ),
        "modifier30_script_name.bin": (
            pack(mounted, modifier1=30),
            {
                "note": "uwsgi_modifier1 30: SCRIPT_NAME is stripped from PATH_INFO",
                "events": [request("GET", "/myapp/admin/?q=1", path_info="/admin/")],
            },
        ),
        "upload_spooled.bin": (
            pack(upload, bytes(range(256)) * 390 + bytes(160)),
            {
                "note": "a 100 kB body, larger than the test spool threshold",
                "events": [request("PUT", "/files/a.bin", body_length=100000)],
            },
        ),
        "invalid_modifier.bin": (
            pack(get, modifier1=5),
            {"events": [error(400, "modifier1 5")]},
        ),
        "invalid_block_too_large.bin": (
            pack(big_header),
            {
                "note": "a 5 kB cookie: the block passes the default 4096-byte buffer-size",
                "events": [error(400, "exceeds buffer-size 4096: raise buffer-size")],
            },
        ),
        "invalid_truncated_var.bin": (
            # The block claims one more byte than its last value holds.
            truncated[:1] + struct.pack("<H", len(truncated) - 4 + 1) + truncated[3:] + b"\x05",
            {"events": [error(400, "malformed uwsgi request")]},
        ),
        "invalid_content_length.bin": (
            pack(nginx_vars("POST", "/", "/", content_length="12abc")),
            {"events": [error(400, "CONTENT_LENGTH")]},
        ),
        "invalid_body_too_large.bin": (
            pack(upload, b"x" * 100),
            {"limits": {"max_body": 65536}, "events": [error(413, "limit-post")]},
        ),
        "invalid_body_cut_short.bin": (
            pack(post, FORM[:10]),
            {"state": "body", "events": [error(400, "closed the connection")]},
        ),
    }


def main() -> None:
    expected = {}
    for name, (packet, meta) in sorted(cases().items()):
        (HERE / name).write_bytes(packet)
        expected[name] = meta
    with (HERE / "expected.json").open("w") as out:
        json.dump(expected, out, indent=1, ensure_ascii=False)
        out.write("\n")


if __name__ == "__main__":
    main()
