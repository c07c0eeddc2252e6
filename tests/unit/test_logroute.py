"""Loggers, routes and encoders as built from the options, driven in memory."""

from __future__ import annotations

import json
import time

import pytest

from usher.logencode import EncoderError, parse_encoder
from usher.logroute import LoggerError, build_router
from usher.logsinks import DEV_LOG, SyslogSink, open_sink
from usher.options import load_settings
from usher.procname import title


class Memory:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    def reopen(self) -> None:
        pass


def settings(*argv: str):  # type: ignore[no-untyped-def]
    return load_settings(["--http-socket", ":0", *argv], {}).settings


def test_json_encoder_escapes_the_line_and_fills_time_placeholders() -> None:
    target, encode = parse_encoder('json:app {"t": ${millis}, "m": "${msg}"}')
    assert target == "app"
    record = json.loads(encode('say "hi"\\'))
    assert record["m"] == 'say "hi"\\' and abs(record["t"] / 1000 - time.time()) < 60


def test_format_and_nl_encoders() -> None:
    assert parse_encoder("format <${msg}>")[1]("x") == "<x>"
    assert parse_encoder("nl")[1]("x") == "x\n"
    assert parse_encoder("format ${unknown} ${msgnl}")[1]("x") == "${unknown} x\n"
    with pytest.raises(EncoderError):
        parse_encoder("gzip")


def test_routes_send_matching_lines_to_named_loggers_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    router = build_router(
        settings(
            "--logger", f"errs file:{tmp_path / 'e'}",
            "--logger", f"file:{tmp_path / 'all'}",
            "--log-route", "errs ^ERR",
            "--log-encoder", "format:errs !${msg}",
            "--log-encoder", "nl:errs",
        )
    )  # fmt: skip
    named, unnamed = Memory(), Memory()
    router.named["errs"].sink = named
    router.unnamed[0].sink = unnamed
    router.server_line("ERR bad")
    router.server_line("fine")
    router.request_line("GET /")
    assert named.lines == [b"!ERR bad\n"]
    assert unnamed.lines == [b"fine\n", b"GET /\n"]


def test_syslog_goes_to_dev_log_and_rsyslog_where_told() -> None:
    local = open_sink("syslog:shop,daemon")
    assert isinstance(local, SyslogSink)
    assert (local.address, local.ident, local.priority) == (DEV_LOG, "shop", 3 * 8 + 6)
    remote = open_sink("rsyslog:10.0.0.5:514")
    assert isinstance(remote, SyslogSink) and remote.address == ("10.0.0.5", 514)
    assert remote.ident == "usher" and remote.priority == 1 * 8 + 6
    local.sock.close()
    remote.sock.close()


def test_bad_values_are_refused_with_the_reason() -> None:
    with pytest.raises(LoggerError, match="no logger is named"):
        build_router(settings("--logger", "stdio", "--log-route", "missing x"))
    with pytest.raises(LoggerError, match="usher knows"):
        open_sink("zeromq:tcp://x")
    with pytest.raises(LoggerError, match="facility"):
        open_sink("syslog:app,nowhere")


def test_process_titles_compose_as_uwsgi_does() -> None:
    plain = settings()
    assert title(plain, "usher worker 2") == "usher worker 2"
    named = settings("--procname", "shop", "--procname-append", "!", "--procname-prefix", "p-")
    assert title(named, "usher worker 2") == "p-shop!"
    assert title(settings("--procname-master", "boss"), "usher master", master=True) == "boss"
