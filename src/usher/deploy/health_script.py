"""The health check, run on the host by its python (stdlib only; sent as the script on stdin).

    start  INI ENV_FILE... : start `python -m usher --ini INI:health` with the env files, wait for
                             its READY=1 on a private NOTIFY_SOCKET (a real readiness signal, no
                             polling), GET the page, stop it. Proves the release serves before
                             `current` points at it.
    wait   ADDRESS PATH TIMEOUT HOST : GET the live site until it answers or TIMEOUT passes (after a
                             start or a reload, which take effect in the background).

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


def wait(address: str, path: str, host: str, timeout: float) -> int:
    """GET the live site until it answers: a start or reload finishes in the background."""
    deadline = time.monotonic() + timeout
    error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            status = get(address, path, host, max(deadline - time.monotonic(), 0.1))
        except OSError as failure:
            error = failure
            # The server is still binding or re-executing; a short pause before asking again.
            time.sleep(0.2)
            continue
        return (
            _verdict(address, path, host, timeout)
            if status >= 400
            else _print_ok(path, address, status)
        )
    print(f"the site on {address} did not answer within {timeout:.0f}s ({error})", file=sys.stderr)
    return 1


def _print_ok(path: str, address: str, status: int) -> int:
    print(f"GET {path} on {address}: {status}")
    return 0


def main(argv: list[str]) -> int:
    """Dispatch `start` and `wait` (see the module docstring)."""
    if argv[0] == "start":
        python, ini, address, path, host, timeout, *env_files = argv[1:]
        return start(python, ini, address, path, host, float(timeout), env_files)
    address, path, host, timeout = argv[1:]
    return wait(address, path, host, float(timeout))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
