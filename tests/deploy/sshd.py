"""A real OpenSSH server on a loopback port, the deploy tests' target host.

It runs as root (the tests run as root, as CI does) with a fresh host key and one authorized
client key. Readiness is sshd's own "Server listening" log line, never a sleep.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
READY_TIMEOUT = 15


@dataclass
class Sshd:
    """A running sshd and the files a client needs to reach it."""

    port: int
    client_key: Path
    host_public_key: str
    process: subprocess.Popen[str]
    log: list[str]
    reader: threading.Thread

    address: str = "127.0.0.1"
    fingerprint: str = ""

    def known_hosts_line(self) -> str:
        """The known_hosts entry that trusts this server."""
        return f"[{self.address}]:{self.port} {self.host_public_key}\n"

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self.process.terminate()
        self.process.wait(10)
        self.reader.join(10)


def free_port(address: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> None:
    """A new ed25519 key pair at `path` and `path`.pub."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def start_sshd(
    folder: Path,
    pythonpath: str,
    address: str = "127.0.0.1",
    private: tuple[Path, Path] | None = None,
    client_key: Path | None = None,
) -> Sshd:
    """Start sshd on a free port of `address`, serving `folder`'s keys; fails (never skips)
    without OpenSSH.

    `private` = (site_root, folder): the server and everything it starts see `folder` at
    `site_root` (a mount namespace), so that two servers on one machine are two hosts with a site
    root each. `client_key` authorizes an existing key instead of a new one.
    """
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        raise RuntimeError(
            f"{SSHD} or ssh-keygen is missing: install openssh-server and openssh-client (scripts/setup does)"
        )
    keygen(folder / "host_key")
    if client_key is None:
        client_key = folder / "client_key"
        keygen(client_key)
    (folder / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    port = free_port(address)
    config = folder / "sshd_config"
    config.write_text(_config(folder, address, port, pythonpath))
    # sshd's privilege separation needs this directory; Debian's init scripts normally make it.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    command = [SSHD, "-D", "-e", "-f", str(config)]
    if private is not None:
        site_root, backing = private
        site_root.mkdir(parents=True, exist_ok=True)
        backing.mkdir(parents=True, exist_ok=True)
        mount = f"mount --bind {backing} {site_root} && exec {' '.join(command)}"
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    log, reader = _wait_listening(process)
    public = (folder / "host_key.pub").read_text().split()
    listing = subprocess.run(
        ["ssh-keygen", "-lf", str(folder / "host_key.pub")],
        capture_output=True,
        text=True,
        check=True,
    )
    fingerprint = listing.stdout.split()[1]
    return Sshd(port, client_key, " ".join(public[:2]), process, log, reader, address, fingerprint)


def _config(folder: Path, address: str, port: int, pythonpath: str) -> str:
    # SetEnv: the host side imports this checkout's usher, as the client side does.
    return f"""ListenAddress {address}
Port {port}
HostKey {folder / "host_key"}
AuthorizedKeysFile {folder / "authorized_keys"}
PidFile {folder / "sshd.pid"}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxSessions 50
SetEnv PYTHONPATH={pythonpath}
LogLevel INFO
"""


def _wait_listening(process: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    assert process.stderr is not None
    stderr = process.stderr
    log: list[str] = []
    listening = threading.Event()

    def drain() -> None:
        # Read all of sshd's log so its pipe never fills; flag the readiness line.
        with stderr:
            for line in stderr:
                log.append(line.rstrip())
                if "Server listening" in line:
                    listening.set()
        listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if not listening.wait(READY_TIMEOUT) or process.poll() is not None:
        process.kill()
        reader.join(5)
        raise RuntimeError("sshd did not start: " + " | ".join(log[-5:]))
    return log, reader
