"""The nginx in front of the uwsgi-protocol rows: a throwaway config in a temp dir, run in the foreground.

nginx keeps wrk's connections alive and opens one uwsgi-protocol connection per request to the app
server, which is how `uwsgi_pass` deployments run (the uwsgi protocol has no keep-alive).
"""

from __future__ import annotations

import getpass
import os
import shutil
from pathlib import Path

UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")

# What every nginx of the benchmark shares: one worker in the foreground, every path under its
# temporary directory, wrk's connections kept for the whole run. `http` is the rest of the http
# block (servers, upstreams), inserted as it is.
PREAMBLE = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
{user}
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # wrk's 50 connections stay open for the whole run; nginx's default of 1000 requests per
    # connection would make it reconnect every few milliseconds and measure handshakes instead.
    keepalive_requests 10000000;
    keepalive_timeout 75s;
{http}
}}
"""

UWSGI_PASS_SERVER = """\
    server {{
        listen 127.0.0.1:{port};
        location / {{
            include {params};
            uwsgi_pass 127.0.0.1:{backend};
        }}
    }}"""


def nginx_config(tmp: Path | str, http: str, *, user: str | None = None) -> str:
    """A whole nginx.conf: the shared preamble around `http`. Started as root, nginx would drop
    its worker to "nobody", which cannot write the temp dir, so it keeps the current user."""
    if user is None:
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    return PREAMBLE.format(tmp=tmp, user=user, http=http)


def example_config() -> str:
    """The config as the docs show it: placeholders where each run fills in its own values."""
    server = UWSGI_PASS_SERVER.format(port="$PORT", backend="$BACKEND_PORT", params=UWSGI_PARAMS)
    return nginx_config("$TMP", server, user="").replace("\n\nevents", "\nevents")


def nginx_binary() -> str | None:
    """Path of nginx, or None when it is not installed."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def write_config(tmp: Path, port: int, backend: int) -> Path:
    """Write nginx.conf into `tmp`: listen on `port`, pass to the uwsgi socket on `backend`."""
    path = tmp / "nginx.conf"
    server = UWSGI_PASS_SERVER.format(port=port, backend=backend, params=UWSGI_PARAMS)
    path.write_text(nginx_config(tmp, server))
    return path


def nginx_command(binary: str, config: Path) -> list[str]:
    """The command line that runs nginx on `config` with every path under its directory."""
    tmp = config.parent
    return [binary, "-p", str(tmp), "-e", str(tmp / "nginx-error.log"), "-c", str(config)]
