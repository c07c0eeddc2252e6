"""`usher emperor DIR`: real vassals in a temporary folder, added, touched, broken and removed
while another vassal serves under load; throttled crash loops; the tyrant's uid drop; the stats
document read by uwsgitop and `usher top`; a vassal started on demand and stopped when idle.

The emperor scans every second here (emperor-freq 1) and reports READY=1 once its first
vassals are ready; the tests wait on its stats document for each later state."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_ops_stats import UWSGITOP, run_in_terminal
from tests.support.http import get
from tests.support.paths import FIXTURES
from tests.support.privileged import python_for, readable_dir, unprivileged_user
from tests.support.server import Serve, ServerProcess, free_port, short_tmp_dir, start_server
from usher.ops.top import fetch
from usher.ops.top import main as top_main

pytestmark = pytest.mark.timeout(60)

APP = FIXTURES / "emperor_app.py"
STEP_TIMEOUT = 20.0


def vassal_ini(path: Path, listener: str, extra: str = "", app: Path = APP) -> Path:
    """Write a plain uWSGI-style vassal config; returns its path."""
    path.write_text(
        f"[uwsgi]\nmaster = true\nprocesses = 1\n{listener}\nwsgi-file = {app}\n{extra}"
    )
    return path


def wait_for(
    stats: str,
    check: Callable[[dict[str, Any]], bool],
    timeout: float = STEP_TIMEOUT,
    emperor: ServerProcess | None = None,
) -> dict[str, Any]:
    """Read the emperor's stats until `check` holds (the emperor changes state on its scans and
    the vassals' notifications; this waits for that state, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        if emperor is not None:
            emperor.drain_notifications()  # as systemd reads them, as they come
        document = fetch(stats)
        if check(document):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(
                f"emperor never reached that state:\n{json.dumps(document, indent=1)}"
            )
        select.select([], [], [], 0.1)


def vassal(document: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((item for item in document["vassals"] if item["id"] == name), None)


def is_(name: str, status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: (found := vassal(doc, name)) is not None and found["status"] == status


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def folder() -> Iterator[Path]:
    path = short_tmp_dir("usher-vassals-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_emperor(serve: Serve, folder: Path, *extra: str) -> tuple[ServerProcess, str]:
    stats = f"127.0.0.1:{free_port()}"
    # vassals-set: every vassal runs without its access log (the load would fill the log).
    emperor = serve(
        ["emperor", str(folder), "--emperor-freq", "1", "--emperor-stats", stats,
         "--vassals-set", "disable-logging=true", *extra]
    )  # fmt: skip
    return emperor, stats


class Load(threading.Thread):
    """Requests one after another on fresh connections until stopped; counts the failures."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.done = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            try:
                response = get(self.address, "/")
            except OSError as exc:
                self.failures.append(repr(exc))
                continue
            if response.status == 200:
                self.ok += 1
            else:
                self.failures.append(str(response.status))

    def finish(self) -> None:
        self.done.set()
        self.join(10)


def test_vassals_come_and_go_while_a_healthy_one_serves_under_load(
    serve: Serve, folder: Path
) -> None:
    healthy_port, other_port = free_port(), free_port()
    vassal_ini(folder / "healthy.ini", f"http-socket = 127.0.0.1:{healthy_port}")
    emperor, stats = start_emperor(serve, folder)
    healthy_pid = vassal(fetch(stats), "healthy.ini")["pid"]  # type: ignore[index]
    load = Load(("127.0.0.1", healthy_port))
    load.start()
    try:
        # Added, with an env file: started, and its app sees the variables.
        (folder / "other.env").write_text("# the vassal's own environment\nGREETING='hello'\n")
        vassal_ini(folder / "other.ini", f"http-socket = 127.0.0.1:{other_port}")
        document = wait_for(stats, is_("other.ini", "running"))
        other_pid = vassal(document, "other.ini")["pid"]  # type: ignore[index]
        first = json.loads(get(("127.0.0.1", other_port), "/").body)
        assert first["greeting"] == "hello"

        # Touched: reloaded gracefully (SIGHUP), so the same vassal serves from a new worker.
        stat = os.stat(folder / "other.ini")
        os.utime(folder / "other.ini", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

        def reloaded(_: dict[str, Any]) -> bool:
            try:
                answer = json.loads(get(("127.0.0.1", other_port), "/").body)
            except (OSError, ValueError):
                return False
            return bool(answer["pid"] != first["pid"])

        document = wait_for(stats, reloaded)
        assert vassal(document, "other.ini")["pid"] == other_pid  # type: ignore[index]

        # Its env file changed: restarted (a new process), with the new variables.
        (folder / "other.env").write_text("GREETING=bonjour\n")
        document = wait_for(
            stats,
            lambda doc: (
                (row := vassal(doc, "other.ini")) is not None
                and row["pid"] not in (0, other_pid)
                and row["ready"] == 1
            ),
        )
        assert json.loads(get(("127.0.0.1", other_port), "/").body)["greeting"] == "bonjour"
        assert not alive(other_pid)
        other_pid = vassal(document, "other.ini")["pid"]  # type: ignore[index]

        # Removed: stopped gracefully, and forgotten.
        (folder / "other.ini").unlink()
        wait_for(stats, lambda doc: vassal(doc, "other.ini") is None)
        assert not alive(other_pid)
    finally:
        load.finish()
    assert load.failures == [] and load.ok > 20
    assert "GET /" not in emperor.log_text()  # vassals-set reached every vassal
    healthy = vassal(fetch(stats), "healthy.ini")
    assert healthy is not None and healthy["pid"] == healthy_pid and healthy["respawns"] == 0
    assert any("READY=1" in note for note in emperor.drain_notifications())
    assert emperor.stop() == 0
    assert not alive(healthy_pid)


def test_a_crash_looping_vassal_is_throttled_without_affecting_the_others(
    serve: Serve, folder: Path
) -> None:
    healthy_port = free_port()
    vassal_ini(folder / "healthy.ini", f"http-socket = 127.0.0.1:{healthy_port}")
    emperor, stats = start_emperor(serve, folder)
    healthy_pid = vassal(fetch(stats), "healthy.ini")["pid"]  # type: ignore[index]
    load = Load(("127.0.0.1", healthy_port))
    load.start()
    try:
        vassal_ini(folder / "broken.ini", "http-socket = 127.0.0.1:0", app=folder / "missing.py")
        document = wait_for(
            stats,
            lambda doc: any(
                item["id"] == "broken.ini" and item["throttle_level"] >= 3
                for item in doc["blacklist"]
            ),
            emperor=emperor,
        )
        broken = vassal(document, "broken.ini")
        assert broken is not None and broken["status"] == "throttled" and broken["pid"] == 0
        assert broken["respawns"] >= 2 and "exit status 1" in broken["last_exit"]
        # Each failed start in a row doubles the wait (usher.supervise.backoff), and says so.
        log = emperor.log_text()
        waits = [log.index(f"in a row, next try in {wait} s") for wait in ("0.5", "1.0", "2.0")]
        assert waits == sorted(waits)
        # Fixed: the edited file is tried at once, and runs.
        vassal_ini(folder / "broken.ini", f"http-socket = 127.0.0.1:{free_port()}")
        wait_for(stats, is_("broken.ini", "running"), emperor=emperor)
    finally:
        load.finish()
    assert load.failures == [] and load.ok > 20
    healthy = vassal(fetch(stats), "healthy.ini")
    assert healthy is not None and healthy["pid"] == healthy_pid and healthy["respawns"] == 0
    statuses = [note for note in emperor.drain_notifications() if "STATUS=" in note]
    assert any("1 throttled" in note and "(throttled: broken.ini)" in note for note in statuses)
    emperor.wait_notification("STATUS=2 vassal(s): 2 running")  # and systemd sees it recover


def test_uwsgitop_and_usher_top_show_the_vassals(
    serve: Serve, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vassal_ini(folder / "shop.ini", f"http-socket = 127.0.0.1:{free_port()}")
    # uWSGI's way in: an ini whose `emperor` option names the folder (the glob form here).
    stats = f"127.0.0.1:{free_port()}"
    config = tmp_path / "emperor.ini"
    config.write_text(
        f"[uwsgi]\nemperor = {folder}/*.ini\nemperor-freq = 1\nemperor-stats-server = {stats}\n"
    )
    serve(["--ini", str(config)])
    pid = vassal(fetch(stats), "shop.ini")["pid"]  # type: ignore[index]
    # uwsgitop's emperor mode: a header naming the emperor, then a row per vassal id and pid.
    screen = run_in_terminal(
        [UWSGITOP, stats],
        until=lambda text: (
            "emperor:" in text and re.search(rf"shop\.ini\s+{pid}\b", text) is not None
        ),
    )
    assert "tyrant: 0" in screen and "VASSAL" in screen
    assert top_main([stats, "--once"]) == 0
    out = capsys.readouterr().out
    assert "emperor pid" in out and "shop.ini" in out and str(pid) in out and "running" in out


def test_tyrant_runs_each_vassal_as_its_files_owner(tmp_path: Path) -> None:
    user = unprivileged_user()
    command, env = python_for(user.pw_name)
    folder = readable_dir("usher-tyrant-")
    stats = f"127.0.0.1:{free_port()}"
    port = free_port()
    owned = vassal_ini(folder / "owned.ini", f"http-socket = 127.0.0.1:{port}")
    os.chown(owned, user.pw_uid, user.pw_gid)
    vassal_ini(folder / "rooted.ini", f"http-socket = 127.0.0.1:{free_port()}")
    emperor = start_server(
        ["emperor", str(folder), "--emperor-tyrant", "--emperor-freq", "1", "--emperor-stats", stats],
        log_dir=tmp_path / "emperor", env=env, command=command,
    )  # fmt: skip
    try:
        document = fetch(stats)
        owned_row, rooted_row = vassal(document, "owned.ini"), vassal(document, "rooted.ini")
        assert owned_row is not None and rooted_row is not None
        assert owned_row["uid"] == user.pw_uid and owned_row["status"] == "running"
        status = Path(f"/proc/{owned_row['pid']}/status").read_text()
        assert f"Uid:\t{user.pw_uid}\t{user.pw_uid}" in status
        assert json.loads(get(("127.0.0.1", port), "/").body)["uid"] == user.pw_uid
        assert rooted_row["pid"] == 0 and "refused" in rooted_row["last_exit"]
        assert document["emperor_tyrant"] == 1
    finally:
        emperor.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_on_demand_vassal_starts_at_the_first_connection_and_sleeps_when_idle(
    serve: Serve, folder: Path
) -> None:
    sockets = short_tmp_dir("usher-ondemand-")
    address = str(sockets / "lazy.socket")
    vassal_ini(folder / "lazy.ini", f"http-socket = {address}")
    # vassals-include: every vassal also reads this file, after its own.
    (sockets / "idle.conf").write_text("[uwsgi]\nidle = 1\ndie-on-idle = true\n")
    _, stats = start_emperor(
        serve, folder, "--emperor-on-demand-directory", str(sockets),
        "--vassals-include", str(sockets / "idle.conf"),
    )  # fmt: skip
    document = fetch(stats)
    row = vassal(document, "lazy.ini")
    assert row is not None and row["status"] == "waiting" and row["pid"] == 0
    assert row["on_demand"] == address
    first = json.loads(get(address, "/").body)  # the connection waits while the vassal starts
    assert vassal(fetch(stats), "lazy.ini")["status"] in ("starting", "running")  # type: ignore[index]
    wait_for(stats, is_("lazy.ini", "waiting"))  # idle for 1 s: it exited, the socket stays
    assert not alive(first["pid"])
    second = json.loads(get(address, "/").body)
    assert second["pid"] != first["pid"]
    assert vassal(fetch(stats), "lazy.ini")["respawns"] == 1  # type: ignore[index]
    shutil.rmtree(sockets, ignore_errors=True)


def test_vassals_stop_when_the_emperor_is_killed(serve: Serve, folder: Path) -> None:
    vassal_ini(folder / "orphan.ini", f"http-socket = 127.0.0.1:{free_port()}")
    emperor, stats = start_emperor(serve, folder)
    pid = vassal(fetch(stats), "orphan.ini")["pid"]  # type: ignore[index]
    pidfd = os.pidfd_open(pid)
    try:
        emperor.send_signal(signal.SIGKILL)
        # The parent-death signal (SIGTERM) stops the vassal gracefully: no unsupervised orphan.
        assert select.select([pidfd], [], [], STEP_TIMEOUT)[0], "the vassal outlived its emperor"
    finally:
        os.close(pidfd)


def test_sighup_reloads_every_vassal_gracefully(serve: Serve, folder: Path) -> None:
    port = free_port()
    vassal_ini(folder / "app.ini", f"http-socket = 127.0.0.1:{port}")
    emperor, stats = start_emperor(serve, folder)
    pid = vassal(fetch(stats), "app.ini")["pid"]  # type: ignore[index]
    before = json.loads(get(("127.0.0.1", port), "/").body)["pid"]
    emperor.send_signal(signal.SIGHUP)

    def new_worker(_: dict[str, Any]) -> bool:
        try:
            return bool(json.loads(get(("127.0.0.1", port), "/").body)["pid"] != before)
        except (OSError, ValueError):
            return False

    document = wait_for(stats, new_worker)
    assert vassal(document, "app.ini")["pid"] == pid  # type: ignore[index]
    assert "SIGHUP: reloading every vassal gracefully" in emperor.log_text()


def test_a_vassal_drops_to_the_uid_its_own_file_names(tmp_path: Path) -> None:
    user = unprivileged_user()
    command, env = python_for(user.pw_name)
    folder = readable_dir("usher-uid-")
    stats, port = f"127.0.0.1:{free_port()}", free_port()
    vassal_ini(
        folder / "app.ini",
        f"http-socket = 127.0.0.1:{port}",
        f"uid = {user.pw_name}\ngid = {user.pw_gid}\n",
    )
    emperor = start_server(
        ["emperor", str(folder), "--emperor-freq", "1", "--emperor-stats", stats],
        log_dir=tmp_path / "emperor", env=env, command=command,
    )  # fmt: skip
    try:
        row = vassal(fetch(stats), "app.ini")
        assert row is not None and row["status"] == "running"
        # The emperor stays root; the vassal bound as root, then became the user, as uWSGI's do.
        assert Path(f"/proc/{emperor.pid}/status").read_text().count("Uid:\t0\t") == 1
        status = Path(f"/proc/{row['pid']}/status").read_text()
        assert f"Uid:\t{user.pw_uid}\t{user.pw_uid}" in status
        assert json.loads(get(("127.0.0.1", port), "/").body)["uid"] == user.pw_uid
    finally:
        emperor.close()
        shutil.rmtree(folder, ignore_errors=True)
