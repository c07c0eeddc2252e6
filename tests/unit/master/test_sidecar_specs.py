"""The pure halves of the master's sidecars: uWSGI cron lines (parsing, matching, once per minute)
and attached daemons' specs (attach-daemon, attach-daemon2's keyvals, smart-attach-daemon)."""

from __future__ import annotations

import signal
import time

import pytest

from usher.options.cronspec import parse_cron
from usher.options.daemonspec import (
    parse_attach_daemon2,
    parse_signal,
    parse_smart_attach_daemon,
)
from usher.supervise.cron import CronTable


def at(year: int, month: int, day: int, hour: int, minute: int) -> time.struct_time:
    return time.localtime(time.mktime((year, month, day, hour, minute, 0, 0, 0, -1)))


# 2026-03-02 is a Monday; 2026-03-01 a Sunday.
MATCHES = [
    ("-1 -1 -1 -1 -1 x", at(2026, 3, 2, 12, 30), True),
    ("30 12 -1 -1 -1 x", at(2026, 3, 2, 12, 30), True),
    ("30 12 -1 -1 -1 x", at(2026, 3, 2, 12, 31), False),
    ("-5 -1 -1 -1 -1 x", at(2026, 3, 2, 12, 35), True),
    ("-5 -1 -1 -1 -1 x", at(2026, 3, 2, 12, 36), False),
    ("0 -2 -1 -1 -1 x", at(2026, 3, 2, 14, 0), True),
    ("0 -2 -1 -1 -1 x", at(2026, 3, 2, 13, 0), False),
    ("0 0 -1 -1 0 x", at(2026, 3, 1, 0, 0), True),  # weekday 0: Sunday
    ("0 0 -1 -1 7 x", at(2026, 3, 1, 0, 0), True),  # 7: Sunday too
    ("0 0 -1 -1 1 x", at(2026, 3, 1, 0, 0), False),
    ("0 0 -1 3 -1 x", at(2026, 3, 1, 0, 0), True),
    ("0 0 -1 4 -1 x", at(2026, 3, 1, 0, 0), False),
    # day and weekday both set: either one is enough (cron's rule, which uWSGI keeps)
    ("0 0 15 -1 1 x", at(2026, 3, 2, 0, 0), True),
    ("0 0 2 -1 5 x", at(2026, 3, 2, 0, 0), True),
    ("0 0 15 -1 5 x", at(2026, 3, 2, 0, 0), False),
]


@pytest.mark.parametrize(("line", "moment", "due"), MATCHES)
def test_cron_matching(line: str, moment: time.struct_time, due: bool) -> None:
    assert parse_cron(line).matches(moment) is due


def test_cron_keeps_the_command_whole() -> None:
    job = parse_cron("59 2 -1 -1 -1   /usr/bin/backup --to  /srv ", unique=True)
    assert (job.minute, job.hour, job.command, job.unique) == (
        59,
        2,
        "/usr/bin/backup --to  /srv",
        True,
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("-1 -1 -1 -1 x", "not a cron line"),
        ("* -1 -1 -1 -1 x", "not a number"),
        ("60 -1 -1 -1 -1 x", "outside 0..59"),
        ("0 0 0 -1 -1 x", "outside 1..31"),
        ("-61 -1 -1 -1 -1 x", "more than 59"),
    ],
)
def test_cron_refusals(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_cron(line)


def test_a_job_runs_once_in_its_minute_however_often_the_table_is_asked() -> None:
    table = CronTable([parse_cron("-1 -1 -1 -1 -1 a"), parse_cron("-2 -1 -1 -1 -1 b")])
    start = time.mktime((2026, 3, 2, 12, 30, 0, 0, 0, -1))
    assert [job.command for _, job in table.due(start)] == ["a", "b"]
    assert table.due(start + 30) == []
    assert [job.command for _, job in table.due(start + 60)] == ["a"]
    assert [job.command for _, job in table.due(start + 120)] == ["a", "b"]


def test_attach_daemon2_keys() -> None:
    spec = parse_attach_daemon2(
        "pidfile=/run/x.pid,stopsignal=INT,reloadsignal=1,control=1,freq=3,cmd=run --a,b"
    )
    assert spec.command == "run --a,b"  # cmd last: the rest of the line, commas included
    assert spec.pidfile == "/run/x.pid" and spec.smart
    assert spec.stop_signal == signal.SIGINT and spec.reload_signal == signal.SIGHUP
    assert spec.control
    plain = parse_attach_daemon2("cmd=celery worker,stopsignal=15")
    assert plain.command == "celery worker" and not plain.smart and not plain.control


@pytest.mark.parametrize(
    ("text", "problem"),
    [("pidfile=/x", "no cmd"), ("colour=red,cmd=x", "'colour' is not known"), ("cmd", "key=value")],
)
def test_attach_daemon2_refusals(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_attach_daemon2(text)


def test_smart_attach_daemon_and_signals() -> None:
    spec = parse_smart_attach_daemon("/tmp/beat.pid celery beat --pidfile=/tmp/beat.pid")
    assert spec.pidfile == "/tmp/beat.pid" and spec.command.startswith("celery beat")
    with pytest.raises(ValueError):
        parse_smart_attach_daemon("/tmp/only.pid")
    assert parse_signal("SIGTERM") == parse_signal("term") == parse_signal("15") == 15
    with pytest.raises(ValueError):
        parse_signal("NOPE")
