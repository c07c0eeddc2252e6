"""Run the app server as a real child process and know, without sleeping, when it serves.

The server under test is `python -m usher` unless USHER_TEST_SERVER_CMD names another command
(shell words, e.g. "/tmp/venv/bin/uwsgi --master --die-on-term") that takes the same uWSGI-style
flags; that is how the suite is checked against uWSGI itself.

Readiness is the systemd notify protocol: the harness binds a unix datagram socket, passes its path
in NOTIFY_SOCKET and waits for a datagram carrying READY=1, while also watching the child through a
pidfd so that a server dying during startup fails the test at once, with its log.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

SERVER_CMD_ENV = "USHER_TEST_SERVER_CMD"

# Startup imports Django or Flask and forks workers; 30 s is far above what a loaded CI machine needs
# and still fails a hung start well inside the per-test timeout.
READY_TIMEOUT = 30.0

# How long a stopping server gets before SIGKILL; above the default worker mercy the tests pass.
STOP_TIMEOUT = 15.0


class ServerError(AssertionError):
    """The server did not start, or did not stop, as the test needed; the message holds its log."""


def server_command() -> list[str]:
    """The command (without flags) that starts the server under test."""
    configured = os.environ.get(SERVER_CMD_ENV, "").strip()
    if configured:
        return shlex.split(configured)
    return [sys.executable, "-m", "usher"]


def server_is_usher() -> bool:
    """True when the suite runs against usher rather than a reference server."""
    return not os.environ.get(SERVER_CMD_ENV, "").strip()


def free_port() -> int:
    """A loopback TCP port that nobody listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def short_tmp_dir(prefix: str = "usher-test-") -> Path:
    """A fresh directory with a short path: unix socket paths must fit in 108 bytes, which pytest's
    tmp_path does not promise. The caller removes it (shutil.rmtree)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class ServerProcess:
    """One server child: started in its own session (so its workers can be cleaned up as a group),
    stdout and stderr to files, readiness through NOTIFY_SOCKET."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.argv = [*(command if command is not None else server_command()), *args]
        self.log_dir = log_dir
        self.stdout_path = log_dir / "server.stdout.log"
        self.stderr_path = log_dir / "server.stderr.log"
        self.notifications: list[str] = []
        self._rundir = short_tmp_dir("usher-notify-")
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = str(self._rundir / "notify.sock")
        self._notify.bind(notify_path)
        # Reachable by a server that dropped privileges (uid/gid), as systemd's own socket is.
        self._rundir.chmod(0o711)
        os.chmod(notify_path, 0o666)
        child_env = dict(os.environ if env is None else env)
        child_env["NOTIFY_SOCKET"] = notify_path
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=child_env,
                    cwd=cwd,
                    start_new_session=True,
                )
        except BaseException:
            self._notify.close()
            shutil.rmtree(self._rundir, ignore_errors=True)
            raise
        self._pidfd = os.pidfd_open(self.proc.pid)

    @property
    def pid(self) -> int:
        """The master's pid (the process the harness started)."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has exited and been reaped, else None."""
        return self.proc.poll()

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_text(self) -> str:
        """Everything the server printed, stderr first (where servers log), then stdout."""
        return self.stderr_text() + self.stdout_text()

    def describe(self) -> str:
        """The command, exit status and log, for failure messages."""
        return (
            f"command: {shlex.join(self.argv)}\n"
            f"exit status: {self.returncode}\n"
            f"notifications: {self.notifications}\n"
            f"--- stderr ---\n{self.stderr_text()}\n--- stdout ---\n{self.stdout_text()}"
        )

    def wait_notification(self, text: str, timeout: float = READY_TIMEOUT) -> None:
        """Wait until a notify datagram contains `text` (e.g. "READY=1"); fail with the log if the
        process exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while not any(text in note for note in self.notifications):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerError(f"no {text!r} within {timeout} s\n{self.describe()}")
            notify_fd = self._notify.fileno()
            readable, _, _ = select.select([notify_fd, self._pidfd], [], [], remaining)
            if notify_fd in readable:
                self.notifications.append(self._notify.recv(4096).decode(errors="replace"))
            elif self._pidfd in readable:
                self.proc.wait()
                raise ServerError(f"server exited before {text!r}\n{self.describe()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait for READY=1."""
        self.wait_notification("READY=1", timeout)

    def drain_notifications(self) -> list[str]:
        """Collect the datagrams already queued, without waiting."""
        while select.select([self._notify], [], [], 0)[0]:
            self.notifications.append(self._notify.recv(4096).decode(errors="replace"))
        return self.notifications

    def send_signal(self, sig: int) -> None:
        """Send `sig` to the master."""
        self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the master to exit; fail with the log if it does not within `timeout`."""
        if not self._wait_exit(timeout):
            raise ServerError(f"server still running after {timeout} s\n{self.describe()}")
        return self.proc.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig`, wait up to `timeout`, then SIGKILL the whole process group; return the
        master's exit status (negative for a signal, as subprocess reports it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if not self._wait_exit(timeout):
                self.kill_group()
                self.proc.wait()
        return self.proc.returncode

    def _wait_exit(self, timeout: float) -> bool:
        """Wait on the pidfd (no polling) and reap; False if still running after `timeout`."""
        if self.proc.poll() is None and not select.select([self._pidfd], [], [], timeout)[0]:
            return False
        self.proc.wait()
        return True

    def group_alive(self) -> bool:
        """True while any process of the server's session (master or worker) still exists."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill_group(self) -> None:
        """SIGKILL every process left in the server's process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop if needed, kill stray workers, release the notify socket."""
        self.stop()
        self.kill_group()
        os.close(self._pidfd)
        self._notify.close()
        shutil.rmtree(self._rundir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(
    args: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    wait_ready: bool = True,
    command: Sequence[str] | None = None,
) -> ServerProcess:
    """Start the server with `args` and (by default) return once it reported READY=1."""
    server = ServerProcess(args, log_dir=log_dir, env=env, cwd=cwd, command=command)
    if wait_ready:
        try:
            server.wait_ready()
        except BaseException:
            server.close()
            raise
    return server


class Serve(Protocol):
    """The `serve` and `module_serve` fixtures: start a server, cleaned up by the fixture."""

    def __call__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        wait_ready: bool = True,
    ) -> ServerProcess: ...
