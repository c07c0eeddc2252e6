"""A real nginx in front of the server under test, configured the way sites deploy it: the stock
Debian `uwsgi_params` and `uwsgi_pass` (or `proxy_pass` for an HTTP upstream).

Everything nginx writes (pid, logs, temp files) lives under the test's directory, it runs in the
foreground as the current user, and it listens on a free loopback port. nginx has no readiness
signal, so after `nginx -t` has validated the config the harness waits for its port to accept,
pausing between attempts on nginx's pidfd so that an nginx that dies is noticed at once.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tests.support.server import free_port

NGINX = Path("/usr/sbin/nginx")
UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")
PROXY_PARAMS = Path("/etc/nginx/proxy_params")

# The name nginx reports as SERVER_NAME; deliberately not the Host the tests send, so a test can
# tell nginx's $server_name from the client's Host header.
SERVER_NAME = "usher-test.local"

START_TIMEOUT = 10.0

# Between connect attempts while nginx binds: short enough to add no visible delay, long enough not
# to spin a core.
CONNECT_RETRY_PAUSE = 0.02


def nginx_available() -> bool:
    """True when the nginx binary and the stock uwsgi_params file are installed."""
    return NGINX.exists() and UWSGI_PARAMS.exists()


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (openssl CLI); returns (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@dataclass
class NginxProcess:
    """A running nginx; `port` serves plain HTTP, `tls_port` HTTPS when a certificate was given."""

    proc: subprocess.Popen[bytes]
    prefix: Path
    port: int
    tls_port: int | None
    pidfd: int

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def tls_address(self) -> tuple[str, int]:
        assert self.tls_port is not None, "nginx was started without a certificate"
        return ("127.0.0.1", self.tls_port)

    def log_text(self) -> str:
        """nginx's error log and its console output."""
        parts = []
        for name in ("error.log", "console.log"):
            path = self.prefix / name
            if path.exists():
                parts.append(f"--- nginx {name} ---\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def describe(self) -> str:
        """The config path and logs, for failure reports."""
        return f"nginx pid {self.proc.pid}, config {self.prefix / 'nginx.conf'}\n{self.log_text()}"

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGTERM), then SIGKILL if nginx lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if not select.select([self.pidfd], [], [], timeout)[0]:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # a worker left behind by a killed master
            os.killpg(self.proc.pid, signal.SIGKILL)
        os.close(self.pidfd)


def _user_directive(user: str | None = None) -> str:
    if user is not None:
        return f"user {user};"  # the workers run as this unprivileged user, as in production
    # As root, nginx would drop its workers to "nobody", who cannot enter pytest's 0700 temp
    # directories; the tests are about the upstream, not privilege separation.
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};"


def _location(kind: Literal["uwsgi", "http"], extra: str = "") -> str:
    extra = f"{extra}\n" if extra else ""
    if kind == "uwsgi":
        return f"include {UWSGI_PARAMS};\n{extra}            uwsgi_pass app;"
    return (
        f"include {PROXY_PARAMS};\n{extra}"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_pass http://app;"
    )


def render_config(
    prefix: Path,
    upstream: str,
    kind: Literal["uwsgi", "http"],
    port: int,
    *,
    tls: tuple[Path, Path] | None = None,
    tls_port: int | None = None,
    master_process: bool = True,
    mounts: dict[str, str] | None = None,
    user: str | None = None,
    statics: dict[str, Path] | None = None,
) -> str:
    """The nginx.conf text. `upstream` is "127.0.0.1:PORT" or "unix:/path.sock"; `mounts` maps a
    location prefix to extra directives for it (e.g. a SCRIPT_NAME param); `user` runs nginx's
    workers as that user (nginx must start as root)."""
    listen = f"listen 127.0.0.1:{port};"
    if tls is not None:
        listen += (
            f"\n        listen 127.0.0.1:{tls_port} ssl;"
            f"\n        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]};"
        )
    locations = f"        location / {{\n            {_location(kind)}\n        }}\n"
    for path, directives in (mounts or {}).items():
        locations += (
            f"        location {path} {{\n            {_location(kind, directives)}\n        }}\n"
        )
    for path, directory in (statics or {}).items():
        locations += f"        location {path} {{\n            alias {directory}/;\n        }}\n"
    temp_paths = "\n".join(
        f"    {name}_temp_path {prefix / (name + '_temp')};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
master_process {"on" if master_process else "off"};
worker_processes 1;
{_user_directive(user)}
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;

events {{
    worker_connections 256;
}}

http {{
    access_log {prefix / "access.log"};
{temp_paths}
    default_type application/octet-stream;
    # nginx's default of 1m would answer the tests' multi-megabyte uploads with its own 413.
    client_max_body_size 200m;
    upstream app {{
        server {upstream};
    }}
    server {{
        {listen}
        server_name {SERVER_NAME};
{locations}    }}
}}
"""


def start_nginx(
    tmp_path: Path,
    upstream: str,
    kind: Literal["uwsgi", "http"] = "uwsgi",
    *,
    tls: tuple[Path, Path] | None = None,
    master_process: bool = True,
    mounts: dict[str, str] | None = None,
    user: str | None = None,
    statics: dict[str, Path] | None = None,
) -> NginxProcess:
    """Write nginx.conf under tmp_path/nginx, validate it with `nginx -t`, start nginx in the
    foreground and return once its port accepts connections."""
    prefix = tmp_path / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    tls_port = free_port() if tls is not None else None
    conf = prefix / "nginx.conf"
    conf.write_text(
        render_config(
            prefix,
            upstream,
            kind,
            port,
            tls=tls,
            tls_port=tls_port,
            master_process=master_process,
            mounts=mounts,
            user=user,
            statics=statics,
        )
    )
    base = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise AssertionError(f"nginx -t rejected the config:\n{check.stderr}\n{conf.read_text()}")
    with open(prefix / "console.log", "wb") as console:
        proc = subprocess.Popen(
            base, stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True
        )
    nginx = NginxProcess(proc, prefix, port, tls_port, os.pidfd_open(proc.pid))
    try:
        _wait_accepting(nginx, port)
        if tls_port is not None:
            _wait_accepting(nginx, tls_port)
    except BaseException:
        nginx.stop()
        raise
    return nginx


def _wait_accepting(nginx: NginxProcess, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except ConnectionRefusedError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nginx did not accept on {port}\n{nginx.log_text()}")
        # Waiting on the pidfd both paces the retries and notices an nginx that exited.
        if select.select([nginx.pidfd], [], [], CONNECT_RETRY_PAUSE)[0]:
            nginx.proc.wait()
            raise AssertionError(f"nginx exited ({nginx.proc.returncode})\n{nginx.log_text()}")


class StartNginx(Protocol):
    """The `module_nginx` fixture: start nginx in front of `upstream`."""

    def __call__(
        self,
        upstream: str,
        kind: Literal["uwsgi", "http"] = "uwsgi",
        *,
        tls: bool = False,
        mounts: dict[str, str] | None = None,
    ) -> NginxProcess: ...
