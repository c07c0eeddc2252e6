"""What the emperor reports: the stats document's layout, notify messages, the command line,
the idle verdict of die-on-idle, and the one line for an unsupported source."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from usher.cli import main
from usher.emperor.notify import Notice, NotifySocket, parse_fields
from usher.emperor.report import apply_notice, summary
from usher.emperor.sources import SeenFile
from usher.emperor.stats import document, state
from usher.emperor.vassal import Vassal, VassalCommand
from usher.master.idle import IdleWatch

# The keys of a vassal in uWSGI's emperor stats (uwsgitop reads id and pid).
UWSGI_VASSAL_KEYS = {
    "id", "pid", "born", "last_mod", "last_heartbeat", "loyal", "ready", "accepting",
    "last_loyal", "last_ready", "last_accepting", "first_run", "last_run", "cursed", "zerg",
    "on_demand", "uid", "gid", "monitor", "respawns",
}  # fmt: skip


def make(name: str, **fields: object) -> Vassal:
    vassal = Vassal(SeenFile(f"/v/{name}", 3_000_000_000, 0, 0, 0))
    for key, value in fields.items():
        setattr(vassal, key, value)
    return vassal


def test_the_document_has_uwsgis_emperor_layout() -> None:
    running = make("b.ini", pid=42, born=100.0, first_run=50.0, respawns=2, ready=True)
    throttled = make("a.ini", failures=3, respawn_at=1e12)
    doc = document([running, throttled], ("/v",), tyrant=True)
    json.dumps(doc)
    assert doc["emperor"] == ["/v"] and doc["emperor_tyrant"] == 1 and doc["pid"] == os.getpid()
    assert [v["id"] for v in doc["vassals"]] == ["a.ini", "b.ini"]
    for row in doc["vassals"]:
        assert row.keys() >= UWSGI_VASSAL_KEYS
    b = doc["vassals"][1]
    assert (b["pid"], b["born"], b["first_run"], b["respawns"], b["ready"], b["last_mod"]) == (
        42, 100, 50, 2, 1, 3
    )  # fmt: skip
    assert [(row["id"], row["throttle_level"]) for row in doc["blacklist"]] == [("a.ini", 3)]
    assert doc["throttle_level"] == 3


def test_states() -> None:
    assert state(make("a", pid=1, ready=True)) == "running"
    assert state(make("a", pid=1)) == "starting"
    assert state(make("a", respawn_at=5.0)) == "throttled"
    assert state(make("a", pid=1, kill_at=5.0)) == "stopping"
    assert state(make("a")) == "stopped"


def test_a_vassal_is_usher_on_its_file_then_the_includes_then_the_sets() -> None:
    command = VassalCommand(includes=("/etc/base.ini",), sets=("processes=2",))
    assert command.argv("/v/app.ini") == [
        sys.executable, "-m", "usher", "--ini", "/v/app.ini", "--ini", "/etc/base.ini",
        "--set", "processes=2",
    ]  # fmt: skip


def test_notices_carry_the_senders_pid_from_the_kernel() -> None:
    receiver = NotifySocket()
    try:
        assert receiver.address.startswith("@usher-emperor-")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.connect("\0" + receiver.address[1:])
            sender.send(b"READY=1\nSTATUS=serving\nMAINPID=1")
        notices = receiver.receive()
        assert [(n.pid, n.fields["READY"], n.fields["STATUS"]) for n in notices] == [
            (os.getpid(), "1", "serving")
        ]
        assert receiver.receive() == []
    finally:
        receiver.close()


def test_notify_fields_ignore_lines_without_a_value() -> None:
    assert parse_fields(b"READY=1\nnonsense\nSTATUS=a=b") == {"READY": "1", "STATUS": "a=b"}


def test_idle_watch_counts_quiet_seconds_only() -> None:
    watch = IdleWatch(2.0, now=0.0)
    assert not watch.idle_for_too_long((0,), busy=False, now=1.0)  # first reading: activity
    assert not watch.idle_for_too_long((0,), busy=False, now=2.5)
    assert not watch.idle_for_too_long((0,), busy=True, now=3.0)  # a request in progress
    assert not watch.idle_for_too_long((1,), busy=False, now=4.0)  # one more answered
    assert watch.idle_for_too_long((1,), busy=False, now=6.0)


def test_unsupported_sources_are_one_line_and_status_2(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["emperor", "zmq://tcp://127.0.0.1:5250"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "zmq:// imperial monitor is not supported" in err


def test_emperor_needs_a_source(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["emperor"]) == 2
    assert "usage: usher emperor DIR|GLOB" in capfd.readouterr().err


def test_notices_set_readiness_and_status_of_the_sender_or_the_master_it_names() -> None:
    vassal = make("a.ini", pid=10)
    running = {10: vassal}
    apply_notice(Notice(10, {"READY": "1", "STATUS": "serving with 2 workers"}), running)
    assert vassal.ready and vassal.ready_at > 0 and vassal.status == "serving with 2 workers"
    apply_notice(Notice(11, {"RELOADING": "1", "MAINPID": "10"}), running)  # a worker's
    assert not vassal.ready
    apply_notice(Notice(99, {"READY": "1"}), running)  # nobody the emperor started
    assert not vassal.ready


def test_the_summary_counts_states_and_names_the_throttled() -> None:
    vassals = [make("a.ini", pid=1, ready=True), make("b.ini", respawn_at=9.0), make("c.ini")]
    assert summary(vassals) == "3 vassal(s): 1 running, 1 stopped, 1 throttled (throttled: b.ini)"
    assert summary([]) == "0 vassal(s): none"


def test_a_tyrant_that_cannot_stay_root_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["emperor", str(tmp_path), "--emperor-tyrant", "--uid", "nobody"]) == 2
    assert "only root can" in capfd.readouterr().err


def test_check_config_checks_every_vassal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app.py"
    app.write_text("def application(environ, start_response):\n    return []\n")
    (tmp_path / "good.ini").write_text(f"[uwsgi]\nhttp-socket = :0\nwsgi-file = {app}\n")
    (tmp_path / "bad.ini").write_text(f"[uwsgi]\nhttp-socket = :0\nwsgi-file = {app}.missing\n")
    assert main(["--check-config", "--emperor", str(tmp_path)]) == 2
    out, err = capfd.readouterr()
    assert f"vassal {tmp_path / 'good.ini'}: ok" in out and "2 vassal(s)" in out
    assert f"vassal {tmp_path / 'bad.ini'}: failed" in err and "does not exist" in err
    (tmp_path / "bad.ini").unlink()
    assert main(["--check-config", "--emperor", str(tmp_path)]) == 0
