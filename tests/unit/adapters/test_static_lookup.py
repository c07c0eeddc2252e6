"""Static files' path rules and lookup: maps, safety, symlinks, index files, types, expiry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usher.adapters.static_files import (
    REFUSED,
    Found,
    Redirect,
    StaticFiles,
    config_from_settings,
    expires,
    is_hashed,
    variant_of,
)
from usher.adapters.static_paths import is_safe, parse_map, within
from usher.adapters.static_types import extension, parse_mime_types, with_charset
from usher.options import load_settings
from usher.protocols.events import unescaped_path


def files_for(*args: str) -> StaticFiles:
    settings = load_settings(["--http-socket", ":0", *args], {}).settings
    config = config_from_settings(settings)
    assert config is not None
    return StaticFiles(config)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "css" / "app.css").write_text("body{}")
    (tmp_path / "static" / "docs").mkdir()
    (tmp_path / "static" / "docs" / "index.html").write_text("<p>docs")
    (tmp_path / "static" / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "more.js").write_text("x")
    (tmp_path / "settings.py").write_text("SECRET_KEY = 'x'")
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "key.txt").write_text("k")
    return tmp_path


def test_map_prefix_on_segment_boundary_only() -> None:
    m = parse_map("/static=/srv/static", append=False)
    assert m.candidate(b"/static/a.css") == b"/srv/static/a.css"
    assert m.candidate(b"/static") == b"/srv/static"
    assert m.candidate(b"/static../settings.py") is None  # the alias off-by-slash trap
    assert m.candidate(b"/staticfiles/a") is None
    m2 = parse_map("/static=/srv", append=True)
    assert m2.candidate(b"/static/a.css") == b"/srv/static/a.css"


@pytest.mark.parametrize(
    "raw",
    [b"/static/../settings.py", b"/static/%2e%2e/settings.py", b"/static/%2E%2E/x",
     b"/static/a%00.css", b"/static/./a.css", b"/static/..", b"static/a"],
)  # fmt: skip
def test_unsafe_paths(raw: bytes) -> None:
    assert not is_safe(unescaped_path(raw))


def test_safe_paths() -> None:
    assert is_safe(unescaped_path(b"/static/.well-known/a..b.css"))
    assert unescaped_path(b"/static/caf%C3%A9.css") == "/static/café.css".encode()


def test_within_is_on_a_segment_boundary() -> None:
    assert within(b"/srv/static/a", b"/srv/static")
    assert within(b"/srv/static", b"/srv/static")
    assert not within(b"/srv/static-private/a", b"/srv/static")


def test_lookup_found_miss_and_order(site: Path) -> None:
    files = files_for(
        "--static-map", f"/static={site}/other", "--static-map", f"/static={site}/static"
    )
    found = files.lookup(b"/static/css/app.css")  # not in the first map: the second has it
    assert isinstance(found, Found) and found.real == str(site / "static/css/app.css").encode()
    assert found.content_type == "text/css"
    first = files.lookup(b"/static/more.js")
    assert isinstance(first, Found) and first.real.endswith(b"/other/more.js")
    assert files.lookup(b"/static/nothing.css") is None
    encoded = files.lookup(b"/%73tatic/css/app%2Ecss")  # the prefix percent-encoded
    assert isinstance(encoded, Found) and encoded.real == found.real
    assert files.lookup(b"/app/page") is None
    assert files.lookup(b"/static/%2e%2e/settings.py") is REFUSED
    assert files.lookup(b"/static../settings.py") is None


def test_lookup_sees_a_file_removed_at_once(site: Path) -> None:
    files = files_for("--static-map", f"/static={site}/static")
    assert isinstance(files.lookup(b"/static/css/app.css"), Found)
    (site / "static" / "css" / "app.css").unlink()
    assert files.lookup(b"/static/css/app.css") is None


def test_symlink_out_refused_unless_static_safe(site: Path) -> None:
    os.symlink(site / "settings.py", site / "static" / "leak.py")
    os.symlink(site / "static-private", site / "static" / "priv")
    files = files_for("--static-map", f"/static={site}/static")
    assert files.lookup(b"/static/leak.py") is None
    assert files.lookup(b"/static/priv/key.txt") is None
    safe = files_for("--static-map", f"/static={site}/static", "--static-safe", str(site))
    assert isinstance(safe.lookup(b"/static/leak.py"), Found)


def test_index_and_directory_redirect(site: Path) -> None:
    files = files_for("--static-map", f"/static={site}/static", "--static-index", "index.html")
    assert files.lookup(b"/static/docs") == Redirect("/static/docs/")
    found = files.lookup(b"/static/docs/")
    assert isinstance(found, Found) and found.real.endswith(b"docs/index.html")
    assert files.lookup(b"/static/empty/") is None  # no index: the app answers
    assert files_for("--static-map", f"/static={site}/static").lookup(b"/static/docs") is None


def test_skip_ext_and_check_static_and_file_map(site: Path) -> None:
    files = files_for(
        "--check-static", str(site), "--static-skip-ext", ".py",
        "--static-map", f"/robots.txt={site}/other/more.js",
    )  # fmt: skip
    assert files.lookup(b"/settings.py") is None
    found = files.lookup(b"/static/css/app.css")
    assert isinstance(found, Found)
    assert isinstance(files.lookup(b"/robots.txt"), Found)
    assert files.lookup(b"/robots.txt/x") is None
    # A document root takes every path: an unsafe one goes to the app, not to a 400.
    assert files.lookup(b"/a/../settings.py") is None


def test_precompressed_variant_is_the_smallest_accepted(site: Path) -> None:
    (site / "static/css/app.css.gz").write_bytes(b"g" * 10)
    (site / "static/css/app.css.br").write_bytes(b"b" * 8)
    files = files_for("--static-map", f"/static={site}/static", "--static-gzip-all")
    found = files.lookup(b"/static/css/app.css")
    assert isinstance(found, Found) and found.gzip
    best = variant_of(found, ("br", "gzip"))
    assert best is not None and best[2] == "br"
    only_gzip = variant_of(found, ("gzip",))
    assert only_gzip is not None and only_gzip[2] == "gzip"
    assert variant_of(found, ()) is None
    plain = files_for("--static-map", f"/static={site}/static").lookup(b"/static/css/app.css")
    assert isinstance(plain, Found) and not plain.gzip


def test_expires_rules_first_match(site: Path) -> None:
    files = files_for(
        "--static-map", f"/static={site}/static",
        "--static-expires", r"\.js$ 10",
        "--static-expires-uri", r"^/static/css/.*\?v= 20",
        "--static-expires-type-mtime", "text/css=30",
    )  # fmt: skip
    found = files.lookup(b"/static/css/app.css")
    assert isinstance(found, Found)
    assert expires(files.config, found, b"/static/css/app.css?v=1", 1000.0) == 1020.0
    when = expires(files.config, found, b"/static/css/app.css", 1000.0)
    assert when == found.st.st_mtime + 30


def test_hashed_names() -> None:
    assert is_hashed(b"/static/css/app.0123456789ab.css")
    assert not is_hashed(b"/static/css/app.css")
    assert not is_hashed(b"/static/css/app.0123456789.css")


def test_types_and_charset(tmp_path: Path) -> None:
    assert parse_mime_types("# c\ntext/x-foo  foo fo\nbad\n") == {
        "foo": "text/x-foo",
        "fo": "text/x-foo",
    }
    assert extension("a/b.tar.GZ") == "gz" and extension("a.d/b") == ""
    assert with_charset("text/css", "utf-8") == "text/css; charset=utf-8"
    assert with_charset("image/png", "utf-8") == "image/png"
    mime = tmp_path / "mime.types"
    mime.write_text("application/x-usher usher\n")
    (tmp_path / "a.usher").write_text("x")
    files = files_for(
        "--static-map", f"/s={tmp_path}", "--mime-file", str(mime), "--charset", "utf-8"
    )
    found = files.lookup(b"/s/a.usher")
    assert isinstance(found, Found) and found.content_type == "application/x-usher"
    (tmp_path / "a.css").write_text("x")
    css = files.lookup(b"/s/a.css")
    assert isinstance(css, Found) and css.content_type == "text/css; charset=utf-8"


def test_no_maps_no_config() -> None:
    settings = load_settings(["--http-socket", ":0"], {}).settings
    assert config_from_settings(settings) is None


def test_a_rewritten_file_is_seen_at_once(site: Path) -> None:
    files = files_for("--static-map", f"/static={site}/static")
    before = files.lookup(b"/static/css/app.css")
    assert isinstance(before, Found) and before.body == b"body{}"
    assert files.lookup(b"/static/css/app.css") is before  # cached while unchanged
    path = site / "static" / "css" / "app.css"
    path.write_text("body{color:red}")
    os.utime(path, ns=(before.st.st_atime_ns, before.st.st_mtime_ns + 10**9))
    after = files.lookup(b"/static/css/app.css")
    assert isinstance(after, Found) and after.body == b"body{color:red}"
    assert after.etag != before.etag


def test_static_map2_appends_the_whole_path(site: Path) -> None:
    files = files_for("--static-map2", f"/static={site}")
    found = files.lookup(b"/static/css/app.css")
    assert isinstance(found, Found) and found.real == str(site / "static/css/app.css").encode()
    assert files.lookup(b"/other/more.js") is None


@pytest.mark.parametrize(
    ("option", "value", "served"),
    [
        ("--static-gzip-dir", "{site}/static/css", True),
        ("--static-gzip-prefix", "{site}/other", False),
        ("--static-gzip-ext", ".css", True),
        ("--static-gzip-suffix", ".js", False),
        ("--static-gzip", r"app\.c", True),
    ],
)
def test_gzip_selection_options(site: Path, option: str, value: str, served: bool) -> None:
    files = files_for("--static-map", f"/static={site}/static", option, value.format(site=site))
    found = files.lookup(b"/static/css/app.css")
    assert isinstance(found, Found) and found.gzip is served
