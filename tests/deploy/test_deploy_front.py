"""`usher deploy` with a front: nginx balancing the app hosts, a client running through a redeploy,
and a rolling deploy over two hosts (two sshd on 127.0.0.2 and 127.0.0.3, each in a mount namespace
where the site root is a folder of its own)."""

from __future__ import annotations

import http.client
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import SOURCE_ROOT, Deploy, Project, Site, stop_process
from tests.deploy.sshd import Sshd, free_port, start_sshd


@pytest.fixture
def private_nginx(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """An nginx configuration of this test's own (its sites folder, port and pid), for a front."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed; CI installs it")
    folder, port = tmp_path / "nginx", free_port()
    (folder / "sites").mkdir(parents=True)
    shutil.copy("/etc/nginx/uwsgi_params", folder / "uwsgi_params")
    # user root: the site root lives under pytest's private tmp folder.
    (folder / "nginx.conf").write_text(
        f"user root;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {folder}/sites/*.conf;\n}}\n"
    )
    yield f"{nginx} -c {folder}/nginx.conf -p {folder}", folder, port
    pidfile = folder / "nginx.pid"
    if pidfile.exists():
        stop_process(pidfile)


def test_a_front_serves_through_nginx_and_a_redeploy_fails_no_request(
    write_site: Callable[..., Site],
    project: Project,
    deploy: Deploy,
    sshd: Sshd,
    private_nginx: tuple[str, Path, int],
) -> None:
    command, folder, port = private_nginx
    site = write_site(
        host=f"127.0.0.1:{sshd.port} app front",
        nginx="true",
        nginx_sites=str(folder / "sites"),
        nginx_command=command,
        nginx_listen=f"127.0.0.1:{port}",
        processes="2",
    )
    status, out, err = deploy(site)
    assert status == 0, out + err
    assert (
        f"unix:{site.root}/run/usher.sock"
        in (folder / "sites" / f"{site.root.name}.conf").read_text()
    )
    assert fetch(port, "/").startswith("mysite version=1 ")
    assert fetch(port, "/static/site.css") == "body { color: #333; }\n"

    project.set_version("2")
    project.commit("version 2")
    (status, out, err), failures, seen = run_client_during(lambda: deploy(site), port)
    assert status == 0, out + err
    assert fetch(port, "/").startswith("mysite version=2 ")
    assert failures == [] and "version=1" in seen


def fetch(port: int, path: str, address: str = "127.0.0.1") -> str:
    """GET `path` from `address`:`port` (nginx by default); any status but 200 fails."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200, (response.status, body[:200])
        return body
    finally:
        connection.close()


@pytest.fixture
def two_hosts(tmp_path: Path, sshd: Sshd) -> Iterator[tuple[Path, list[tuple[Sshd, Path]]]]:
    """Two hosts on one machine: sshd on 127.0.0.2 and 127.0.0.3, each in a mount namespace
    where the same site root is a folder of its own."""
    root = tmp_path / "multi-site"
    servers = []
    for number in (2, 3):
        folder, backing = tmp_path / f"sshd{number}", tmp_path / f"host{number}"
        folder.mkdir()
        server = start_sshd(
            folder, str(SOURCE_ROOT), f"127.0.0.{number}", (root, backing), sshd.client_key
        )
        servers.append((server, backing))
    yield root, servers
    for server, backing in servers:
        stop_process(backing / "run" / "usher.pid")
        server.stop()


def test_a_rolling_deploy_over_two_app_hosts_behind_a_front_fails_no_request(
    write_site: Callable[..., Site],
    project: Project,
    deploy: Deploy,
    two_hosts: tuple[Path, list[tuple[Sshd, Path]]],
    private_nginx: tuple[str, Path, int],
) -> None:
    command, folder, port = private_nginx
    root, [(first, first_dir), (second, second_dir)] = two_hosts
    http_port = free_port()
    site = write_site(
        hosts=[first, second],
        host=f"127.0.0.2:{first.port} app front\n127.0.0.3:{second.port} app",
        site_root=str(root),
        socket=f"{{host}}:{free_port()}",
        http=f"{{host}}:{http_port}",
        health_http=f"{{host}}:{free_port()}",
        nginx="true",
        nginx_sites=str(folder / "sites"),
        nginx_command=command,
        nginx_listen=f"127.0.0.1:{port}",
    )
    status, out, err = deploy(site)
    assert status == 0, out + err
    nginx_site = (folder / "sites" / "multi-site.conf").read_text()
    assert "server 127.0.0.2:" in nginx_site and "server 127.0.0.3:" in nginx_site
    assert fetch(port, "/").startswith("mysite version=1 ")
    for host_dir in (first_dir, second_dir):
        assert (host_dir / "current").is_symlink() and len(secret_key_in(host_dir)) == 50

    project.set_version("2")
    project.commit("version 2")
    (status, out, err), failures, seen = run_client_during(lambda: deploy(site), port)
    assert status == 0, out + err
    assert failures == [] and "version=1" in seen
    for address in ("127.0.0.2", "127.0.0.3"):
        assert fetch(http_port, "/", address).startswith("mysite version=2 ")
    switches = [line.split()[0] for line in out.splitlines() if " switch " in line]
    assert switches == [f"127.0.0.2:{first.port}"] * 3 + [f"127.0.0.3:{second.port}"] * 3

    # The second host's live check fails: the roll stops, both hosts go back to version 2.
    serving = {host_dir: os.readlink(host_dir / "current") for host_dir in (first_dir, second_dir)}
    flag = second_dir / "shared" / "media" / f"fail-3-on-port-{http_port}"
    flag.write_text("")
    project.set_version("3")
    project.commit("version 3")
    status, out, err = deploy(site)
    assert status == 1 and f"127.0.0.3:{second.port}: live failed" in err, out + err
    undone = [line.split()[0] for line in out.splitlines() if " undo " in line]
    assert undone == [f"127.0.0.3:{second.port}"] * 3 + [f"127.0.0.2:{first.port}"] * 3
    assert "could not undo" not in out
    for host_dir, address in ((first_dir, "127.0.0.2"), (second_dir, "127.0.0.3")):
        assert os.readlink(host_dir / "current") == serving[host_dir]
        assert len(list((host_dir / "releases").iterdir())) == 2
        assert fetch(http_port, "/", address).startswith("mysite version=2 ")


def secret_key_in(host_dir: Path) -> str:
    return (host_dir / "shared" / "env" / "secret.env").read_text().strip().partition("=")[2]


def run_client_during(
    action: Callable[[], tuple[int, str, str]], port: int
) -> tuple[tuple[int, str, str], list[str], set[str]]:
    """Run `action` while a client GETs / through nginx; return the action's result,
    the client's failed requests and the versions it saw."""
    failures: list[str] = []
    seen: set[str] = set()
    done = threading.Event()

    def client() -> None:
        # About a hundred requests a second: every moment of the deploy is covered, and the
        # client leaves the two cores of a CI machine to the deploy it watches.
        while not done.wait(0.01):
            try:
                seen.add(fetch(port, "/").split()[1])
            except (OSError, AssertionError) as error:
                failures.append(repr(error))

    worker = threading.Thread(target=client)
    worker.start()
    try:
        result = action()
    finally:
        done.set()
        worker.join()
    return result, failures, seen
