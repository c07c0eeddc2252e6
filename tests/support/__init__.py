"""Test harness: real server processes, real nginx, raw and cookie-keeping HTTP clients."""

from tests.support.events import EventListener
from tests.support.http import Browser, Response, ResponseReader, raw_exchange, request
from tests.support.nginx import NginxProcess, nginx_available, start_nginx
from tests.support.server import (
    ServerError,
    ServerProcess,
    free_port,
    server_command,
    server_is_usher,
    short_tmp_dir,
    start_server,
)

__all__ = [
    "Browser",
    "EventListener",
    "NginxProcess",
    "Response",
    "ResponseReader",
    "ServerError",
    "ServerProcess",
    "free_port",
    "nginx_available",
    "raw_exchange",
    "request",
    "server_command",
    "server_is_usher",
    "short_tmp_dir",
    "start_nginx",
    "start_server",
]
