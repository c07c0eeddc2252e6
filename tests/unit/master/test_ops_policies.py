"""The pure decisions behind operations: the cheaper spare algorithm, the limits' verdicts,
the respawn back-off, touched files, max-requests spreading, and which inherited socket each
listener takes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from usher.master.cheaper import Spare
from usher.master.verdicts import judge
from usher.options import load_settings
from usher.scoreboard import CoreView, RowView
from usher.sockets import listen_queue, match_activated, systemd_fds
from usher.supervise.backoff import BOOT_WINDOW, MAX_RESPAWN_DELAY, boot_failures, respawn_delay
from usher.supervise.procfs import kernel_view, read_memory
from usher.supervise.touch import TouchWatch
from usher.worker.process import request_limit

MB = 1024 * 1024


def settings(*argv: str) -> object:
    return load_settings(["--http-socket", ":0", *argv], {}).settings


def row(*, started: int = 0, rss: int = 0, flushed: int = 1, method: str = "GET") -> RowView:
    core = CoreView(started, 0, method if started else "", "/x" if started else "", "10.1.1.1")
    return RowView(1, 1, rss, 0, 0, 0, 0, 0, 0, True, flushed, (0,) * 5, (0,) * 12, (core,))


def test_spare_adds_workers_after_sustained_overload() -> None:
    spare = Spare(minimum=1, maximum=4, step=2, patience=3)
    assert [spare.decide(running=1, idle=0) for _ in range(3)] == [0, 0, 2]
    assert [spare.decide(running=3, idle=0) for _ in range(3)] == [0, 0, 1]  # capped at 4
    assert [spare.decide(running=4, idle=0) for _ in range(3)] == [0, 0, 0]


def test_spare_stops_one_worker_after_sustained_idleness_down_to_the_minimum() -> None:
    spare = Spare(minimum=2, maximum=4, step=1, patience=2)
    assert [spare.decide(running=4, idle=3) for _ in range(2)] == [0, -1]
    assert [spare.decide(running=2, idle=2) for _ in range(3)] == [0, 0, 0]


def test_one_idle_worker_is_the_balance_and_resets_both_counts() -> None:
    spare = Spare(minimum=1, maximum=4, step=1, patience=2)
    assert spare.decide(running=2, idle=0) == 0
    assert spare.decide(running=2, idle=1) == 0
    assert spare.decide(running=2, idle=0) == 0  # the count started again


def test_harakiri_verdict_names_the_request() -> None:
    now = 100 * 10**9
    hara = settings("--harakiri", "30")
    # The reporter saw the request running 31 s in, at its last flush a moment ago.
    seen = row(started=now - 32 * 10**9, flushed=now - 10**9)
    verdict = judge(hara, seen, 50.0, now)
    assert verdict is not None and verdict.action == "harakiri"
    assert verdict.reason == "GET /x from 10.1.1.1 running for 32.0s"
    # Seen at 29 s only: it may have finished since; the next flush tells.
    assert judge(hara, row(started=now - 30 * 10**9, flushed=now - 10**9), 50.0, now) is None
    assert judge(settings(), seen, 50.0, now) is None


def test_harakiri_of_a_worker_whose_threads_cannot_run() -> None:
    now = 100 * 10**9
    hara = settings("--harakiri", "30")
    stuck = judge(hara, row(flushed=now - 33 * 10**9), 50.0, now)
    assert stuck is not None and stuck.action == "harakiri"
    assert stuck.reason.startswith("a request; its Python threads have not run for 33.0s")
    assert judge(hara, row(flushed=now - 31 * 10**9), 50.0, now) is None  # within the slack
    assert judge(hara, row(flushed=0), 50.0, now) is None  # not started yet


def test_rss_verdicts_and_min_worker_lifetime() -> None:
    big = row(rss=300 * MB)
    recycle = judge(settings("--reload-on-rss", "200"), big, 60.0, 0)
    assert recycle is not None and recycle.action == "recycle"
    assert recycle.reason == "rss 300 MB > reload-on-rss 200 MB"
    assert judge(settings("--reload-on-rss", "200"), big, 5.0, 0) is None  # younger than 10 s
    kill = judge(settings("--evil-reload-on-rss", "250"), big, 1.0, 0)
    assert kill is not None and kill.action == "kill"
    assert judge(settings("--reload-on-rss", "400"), big, 60.0, 0) is None


def test_read_memory_of_this_process_and_of_none() -> None:
    rss, vsz = read_memory(os.getpid())
    assert 0 < rss <= vsz
    assert read_memory(2**22 + 12345) == (0, 0)


def test_kernel_view_of_this_process_and_of_none() -> None:
    assert "wchan: " in kernel_view(os.getpid())
    assert kernel_view(2**22 + 12345) == ""


def test_boot_failures_double_the_respawn_delay_up_to_the_cap() -> None:
    failures = 0
    delays = []
    for _ in range(8):
        failures = boot_failures(failures, lived=BOOT_WINDOW / 2)
        delays.append(respawn_delay(failures))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_RESPAWN_DELAY, MAX_RESPAWN_DELAY]
    # A child that lived past the boot window resets the count: the next start is immediate.
    assert boot_failures(failures, lived=BOOT_WINDOW) == 0
    assert respawn_delay(0) == 0.0


def test_max_requests_delta_spreads_the_limit_by_worker_id() -> None:
    spread = settings("--max-requests", "1000", "--max-requests-delta", "10")
    assert [request_limit(spread, wid) for wid in (1, 2, 3)] == [1010, 1020, 1030]
    assert request_limit(settings(), 1) == 0


def test_touch_watch_reports_changes_once(tmp_path: Path) -> None:
    path = tmp_path / "reload"
    watch = TouchWatch([str(path)])
    assert watch.touched() == []
    path.write_text("")
    assert watch.touched() == [str(path)]
    assert watch.touched() == []
    os.utime(path, ns=(1, 1))
    assert watch.touched() == [str(path)]
    path.unlink()
    assert watch.touched() == [str(path)]


@pytest.fixture
def inherited(tmp_path: Path) -> list[socket.socket]:
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "app.sock"))
    tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    tcp.bind(("::", 0))
    socks = [unix, tcp]
    yield socks
    for sock in socks:
        sock.close()


def test_activated_sockets_go_to_the_listener_with_their_address(
    inherited: list[socket.socket], tmp_path: Path
) -> None:
    unix, tcp = inherited
    port = tcp.getsockname()[1]
    fds = [os.dup(unix.fileno()), os.dup(tcp.fileno())]
    wanted = [("http", f":{port}"), ("uwsgi", str(tmp_path / "app.sock")), ("http", ":1")]
    assert match_activated(wanted, fds) == [fds[1], fds[0], None]
    for fd in fds:
        os.close(fd)


def test_unmatched_activated_sockets_are_taken_in_order(inherited: list[socket.socket]) -> None:
    fds = [os.dup(sock.fileno()) for sock in inherited]
    wanted = [("uwsgi", "/elsewhere.sock")]
    assert match_activated(wanted, fds) == [fds[0]]
    os.close(fds[0])
    with pytest.raises(OSError):
        os.fstat(fds[1])  # matched nothing: closed


def test_systemd_fds_need_this_pid_and_are_forgotten() -> None:
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"}
    assert systemd_fds(env) == [3, 4] and env == {}
    assert systemd_fds({"LISTEN_PID": "1", "LISTEN_FDS": "2"}) == []


def test_listen_queue_of_a_tcp_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(7)
        clients = [socket.create_connection(server.getsockname()) for _ in range(2)]
        assert listen_queue(server) == (2, 7)
        for client in clients:
            client.close()
    with socket.socket(socket.AF_UNIX) as unix:
        assert listen_queue(unix) is None


def test_reload_on_as_recycles_on_address_space_once_min_worker_lifetime_passed() -> None:
    big = RowView(1, 1, 0, 900 * MB, 0, 0, 0, 0, 0, True, 1, (0,) * 5, (0,) * 12, ())
    verdict = judge(settings("--reload-on-as", "800"), big, 60.0, 0)
    assert verdict is not None and verdict.action == "recycle"
    assert "address space 900 MB > reload-on-as 800 MB" in verdict.reason
    assert judge(settings("--reload-on-as", "800"), big, 5.0, 0) is None  # younger than 10 s
    assert judge(settings("--reload-on-as", "1000"), big, 60.0, 0) is None


def test_max_worker_lifetime_is_spread_by_worker_id_times_delta() -> None:
    def aged(worker_id: int, age: float, *argv: str) -> str | None:
        seen = RowView(1, worker_id, 0, 0, 0, 0, 0, 0, 0, True, 1, (0,) * 5, (0,) * 12, ())
        verdict = judge(settings("--max-worker-lifetime", "100", *argv), seen, age, 0)
        return None if verdict is None else verdict.action

    assert aged(1, 99.0) is None
    assert aged(1, 101.0) == "recycle"
    assert aged(3, 101.0, "--max-worker-lifetime-delta", "10") is None  # 100 + 3 x 10
    assert aged(3, 131.0, "--max-worker-lifetime-delta", "10") == "recycle"
    assert (
        judge(
            settings(),
            RowView(1, 1, 0, 0, 0, 0, 0, 0, 0, True, 1, (0,) * 5, (0,) * 12, ()),
            10**6,
            0,
        )
        is None
    )
