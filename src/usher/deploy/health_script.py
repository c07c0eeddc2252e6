"""The health check, run on the host by its python (stdlib only; sent as the script on stdin).

    start  INI ENV_FILE... : start `python -m usher --ini INI:health` with the env files, wait for
                             its READY=1 on a private NOTIFY_SOCKET (a real readiness signal, no
                             polling), GET the page, stop it. Proves the release serves before
                             `current` points at it.
    wait   ADDRESS PATH HOST TIMEOUT PIDSOURCE DIR : wait until usher's master (pid from
                             `file:PIDFILE` or `unit:NAME`) runs from DIR, the new release, then
                             GET the page (a start or a reload takes effect in the background).

Exit 0 when the page answered with a status below 400; otherwise 1 and one line on stderr.
"""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Whole seconds of the child's log shown when it dies before READY=1.
LOG_TAIL_LINES = 15


def read_env_files(paths: list[str]) -> dict[str, str]:
    """KEY=value lines as written by usher deploy (shell-quoted values)."""
    found: dict[str, str] = {}
    for path in paths:
        with open(path, encoding="utf-8") as file:
            for line in file:
                for word in shlex.split(line, comments=True):
                    key, _, value = word.partition("=")
                    found[key] = value
    return found


def get(address: str, path: str, host: str, timeout: float) -> int:
    """The status of GET `path` on `address` (host:port)."""
    name, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(name or "127.0.0.1", int(port), timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        return connection.getresponse().status
    finally:
        connection.close()


def start(
    python: str, ini: str, address: str, path: str, host: str, timeout: float, env_files: list[str]
) -> int:
    """Start the release on its health address, wait for READY=1, check the page, stop it."""
    with (
        tempfile.TemporaryDirectory() as folder,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify,
    ):
        notify.bind(os.path.join(folder, "notify"))
        notify.settimeout(timeout)
        env = {
            **os.environ,
            **read_env_files(env_files),
            "NOTIFY_SOCKET": os.path.join(folder, "notify"),
        }
        log_path = os.path.join(folder, "log")
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                [python, "-m", "usher", "--ini", f"{ini}:health"],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        try:
            return _check_started(child, notify, log_path, address, path, host, timeout)
        finally:
            _stop(child)


def _check_started(
    child: subprocess.Popen[bytes],
    notify: socket.socket,
    log_path: str,
    address: str,
    path: str,
    host: str,
    timeout: float,
) -> int:
    try:
        while b"READY=1" not in notify.recv(4096):
            pass
    except TimeoutError:
        state = "exited" if child.poll() is not None else f"was not ready after {timeout:.0f}s"
        with open(log_path, encoding="utf-8", errors="replace") as log:
            tail = log.read().splitlines()[-LOG_TAIL_LINES:]
        print("\n".join(tail), file=sys.stderr)
        print(
            f"the new release {state} (its log is above): it was not switched to", file=sys.stderr
        )
        return 1
    return _verdict(address, path, host, timeout)


def _verdict(address: str, path: str, host: str, timeout: float) -> int:
    try:
        status = get(address, path, host, timeout)
    except OSError as error:
        print(f"GET {path} on {address} failed: {error}", file=sys.stderr)
        return 1
    print(f"GET {path} on {address}: {status}")
    if status >= 400:
        print(
            f"GET {path} answered {status}: the release does not serve its health page",
            file=sys.stderr,
        )
        return 1
    return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait(
    address: str, path: str, host: str, timeout: float, pid_source: str, release_dir: str
) -> int:
    """Wait until usher's master runs from `release_dir`, then GET the page.

    A reload runs in the background (SIGHUP returns at once; the master re-executes once its
    workers finished), so the old release may still answer for a moment. The master's working
    directory is its release's folder (usher changes to `chdir`, which goes through `current`,
    when it starts), so it says which release serves.
    """
    deadline = time.monotonic() + timeout
    expected = os.path.realpath(release_dir)
    running = ""
    while time.monotonic() < deadline:
        running = _master_dir(pid_source)
        if running == expected:
            return _answer(address, path, host, deadline)
        # The master is still draining or re-executing; a short pause before looking again.
        time.sleep(0.1)
    print(
        f"usher runs {running or 'nothing'}, not {expected}, after {timeout:.0f}s: see its log",
        file=sys.stderr,
    )
    return 1


def _master_dir(pid_source: str) -> str:
    """The working directory of usher's master, found through a pidfile or a systemd unit."""
    kind, _, name = pid_source.partition(":")
    try:
        if kind == "unit":
            pid = subprocess.run(
                ["systemctl", "show", "--property=MainPID", "--value", name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        else:
            with open(name, encoding="utf-8") as file:
                pid = file.read().strip()
        return os.path.realpath(os.readlink(f"/proc/{int(pid)}/cwd")) if pid and pid != "0" else ""
    except (OSError, ValueError):
        return ""


def _answer(address: str, path: str, host: str, deadline: float) -> int:
    error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            status = get(address, path, host, max(deadline - time.monotonic(), 0.1))
        except OSError as failure:
            error = failure
            time.sleep(0.1)
            continue
        if status >= 400:
            print(
                f"GET {path} answered {status}: the site does not serve its health page",
                file=sys.stderr,
            )
            return 1
        print(f"GET {path} on {address}: {status}")
        return 0
    print(f"the site on {address} did not answer in time ({error})", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    """Dispatch `start` and `wait` (see the module docstring)."""
    if argv[0] == "start":
        python, ini, address, path, host, timeout, *env_files = argv[1:]
        return start(python, ini, address, path, host, float(timeout), env_files)
    address, path, host, timeout, pid_source, release_dir = argv[1:]
    return wait(address, path, host, float(timeout), pid_source, release_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
