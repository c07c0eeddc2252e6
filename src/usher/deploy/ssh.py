"""SSH connections with verified host keys, through asyncssh (one event loop drives every host).

Host keys are always checked against known_hosts. A host with no entry is refused with the
command that adds one, unless `accept_new` is given: then its key is recorded on first use, as
OpenSSH's `StrictHostKeyChecking=accept-new` does. A host whose key changed is always refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from usher.deploy.config import DeployConfig
from usher.deploy.errors import DeployError
from usher.deploy.hosts import Host

CONNECT_TIMEOUT = 20


@dataclass(frozen=True, slots=True)
class Result:
    """What a remote command left: its exit status and its output."""

    status: int
    stdout: str
    stderr: str


class Session:
    """One open connection to a host; `run` executes a shell script there."""

    def __init__(self, host: Host, connection: asyncssh.SSHClientConnection) -> None:
        self.host = host
        self._connection = connection

    async def run(self, script: str, stdin: str = "") -> Result:
        """Run `script` with `sh -c`, feeding `stdin`; never raises for a non-zero status."""
        try:
            done = await self._connection.run(f"sh -c {_quote(script)}", input=stdin, check=False)
        except (OSError, asyncssh.Error) as error:
            raise DeployError(
                f"{self.host.label}: the SSH connection failed: {error}; check the host and retry"
            ) from None
        # returncode: the exit status, or minus the signal that killed the command; None only
        # when the channel closed without either, which is a failure too.
        status = done.returncode if done.returncode is not None else 255
        return Result(status, _text(done.stdout), _text(done.stderr))

    async def close(self) -> None:
        """Close the connection and wait until it is closed."""
        self._connection.close()
        await self._connection.wait_closed()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def known_pattern(host: Host) -> str:
    """How known_hosts names the host: `address`, or `[address]:port` off port 22."""
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


def has_known_key(known_hosts: Path, host: Host) -> bool:
    """True when known_hosts lists a key (any key) for the host."""
    if not known_hosts.is_file():
        return False
    keys = asyncssh.read_known_hosts(str(known_hosts)).match(host.address, host.address, host.port)
    return bool(keys[0] or keys[1])


class _FirstUse(asyncssh.SSHClient):
    """Decides on the key of a host known_hosts lacks, during the key exchange (before logging
    in): the pinned fingerprint when the config has one, else any key (--accept-new-host-keys)."""

    def __init__(self, pinned: str | None) -> None:
        self.pinned = pinned
        self.accepted: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        if self.pinned and key.get_fingerprint("sha256") != self.pinned:
            return False
        self.accepted = key
        return True


async def connect(config: DeployConfig, host: Host, accept_new: bool) -> Session:
    """Open a verified connection to `host`, or raise a DeployError that says how to fix it."""
    known = has_known_key(config.known_hosts, host)
    if not known and not accept_new and not host.fingerprint:
        raise DeployError(
            f"{host.label}: host key unknown (not in {config.known_hosts}); check the host's fingerprint, then add it: "
            f"ssh-keyscan -p {host.port} {host.address} >> {config.known_hosts} (or pass --accept-new-host-keys, or pin it: host = ... SHA256:...)"
        )
    first_use = _FirstUse(host.fingerprint)
    # Only a host without an entry may meet _FirstUse: for a known host, asyncssh asks the client
    # about a key known_hosts does not list, and the plain client always says no.
    factory = asyncssh.SSHClient if known else (lambda: first_use)
    try:
        connection = await asyncssh.connect(
            host.address,
            port=host.port,
            username=host.user,
            # No trusted key at all for a host without an entry: every key goes to _FirstUse.
            known_hosts=str(config.known_hosts) if known else ([], [], []),
            client_factory=factory,
            client_keys=[str(config.identity)] if config.identity else (),
            agent_path=None if config.identity else (),
            connect_timeout=CONNECT_TIMEOUT,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise DeployError(_refusal(config, host, known)) from None
    except asyncssh.PermissionDenied:
        raise DeployError(
            f"{host.label}: user {host.user} was refused; add your public key to ~{host.user}/.ssh/authorized_keys or set identity in [deploy]"
        ) from None
    except (OSError, asyncssh.Error) as error:
        raise DeployError(
            f"{host.label}: cannot connect: {error}; check the address, port and that sshd runs"
        ) from None
    session = Session(host, connection)
    key = connection.get_server_host_key()
    if host.fingerprint and (key is None or key.get_fingerprint("sha256") != host.fingerprint):
        await session.close()
        raise DeployError(
            f"{host.label}: {config.known_hosts} trusts a key whose fingerprint is not the pinned {host.fingerprint}; fix the pin or the known_hosts entry"
        )
    if first_use.accepted is not None:
        _record(config.known_hosts, host, first_use.accepted)
    return session


def _refusal(config: DeployConfig, host: Host, known: bool) -> str:
    if not known:
        return f"{host.label}: the host key's fingerprint is not the pinned {host.fingerprint} (a different host or an attack); check the pin in [deploy]"
    return (
        f"{host.label}: the host key does not match {config.known_hosts} (a changed host or an attack); "
        f"verify the new key out of band, then replace it: ssh-keygen -R '{known_pattern(host)}' -f {config.known_hosts}"
    )


def _record(known_hosts: Path, host: Host, key: asyncssh.SSHKey) -> None:
    # "type base64" only: a comment from the server has no place in known_hosts.
    exported = key.export_public_key("openssh").decode().split()
    line = f"{known_pattern(host)} {' '.join(exported[:2])}\n"
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(line)
