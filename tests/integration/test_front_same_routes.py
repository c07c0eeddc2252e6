"""usher's front and the nginx config it emits route the same requests to the same upstreams.

One front config, two engines started fresh side by side: `usher front --ini front.ini` and nginx
on what `usher front --emit-nginx --ini front.ini` printed. The same request sequences go to both, pool by pool
(round-robin with a backup, consistent and plain hash, ip_hash from distinct client addresses,
least_conn), and the upstream that answered each request must be the same.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.test_front_emit_nginx import front_ini
from tests.support.named_upstreams import NamedServer, get, named_servers, start_nginx_with
from tests.support.nginx import NginxProcess
from tests.support.server import Serve, ServerProcess, free_port, server_command

pytestmark = pytest.mark.nginx

SEQUENCES = {
    "rr": [("/rr/", "127.0.0.1")] * 14,
    "chash": [(f"/chash/item/{n}?page={n % 3}", "127.0.0.1") for n in range(20)],
    "hashed": [(f"/hashed/item/{n * 31}", "127.0.0.1") for n in range(20)],
    "ip": [("/ip/", f"127.{n * 13 % 250 + 1}.{n}.1") for n in range(16)],
    "lc": [("/lc/", "127.0.0.1")] * 6,
}


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, module_serve: Serve
) -> Iterator[tuple[NginxProcess, ServerProcess, int, list[NamedServer]]]:
    # Shared by the module: each test sends to its own pool only, and pools keep no state in
    # common, so every pool starts fresh in both engines.
    tmp_path = tmp_path_factory.mktemp("same")
    static = tmp_path / "static"
    static.mkdir()
    with named_servers(4) as servers:
        names = [s.name for s in servers]
        app = f"127.0.0.1:{free_port()}"  # the uwsgi pool is not exercised here
        front_port = free_port()
        ini = tmp_path / "front.ini"
        ini.write_text(front_ini(front_port, names, static, app))

        def emitted(port: int) -> str:
            # nginx's copy of the config differs in its listen port only; the command line
            # writes its nginx config.
            copy = tmp_path / "nginx-front.ini"
            copy.write_text(front_ini(port, names, static, app))
            command = [*server_command(), "front", "--emit-nginx", "--ini", str(copy)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
            return done.stdout

        nginx = start_nginx_with(tmp_path, emitted)
        try:
            front = module_serve(["front", "--ini", str(ini)])
            yield nginx, front, front_port, servers
        finally:
            nginx.stop()


@pytest.mark.parametrize("pool", sorted(SEQUENCES))
def test_both_fronts_choose_the_same_upstreams(
    pool: str, both: tuple[NginxProcess, ServerProcess, int, list[NamedServer]]
) -> None:
    nginx, front, front_port, _ = both
    sequence = SEQUENCES[pool]
    by_nginx = [get(nginx.port, target, source=source) for target, source in sequence]
    by_usher = [get(front_port, target, source=source) for target, source in sequence]
    assert all(status == 200 for status, _ in by_nginx), by_nginx
    assert by_usher == by_nginx, front.describe()
