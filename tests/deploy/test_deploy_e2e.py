"""`usher deploy` end to end: a real sshd on loopback, a Django project cloned from a bare origin,
usher started for real on the host (process_manager = none), checked over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import stat
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import SOURCE_ROOT, Project, Site, stop_process
from tests.deploy.sshd import Sshd, free_port, start_sshd
from usher.deploy.cli import main

Deploy = Callable[..., tuple[int, str, str]]


@pytest.fixture
def deploy(capsys: pytest.CaptureFixture[str]) -> Deploy:
    """Run `usher deploy ARGS --config SITE` in this process; return status, stdout, stderr."""

    def run(site: Site, *args: str) -> tuple[int, str, str]:
        status = main([*args, "--config", str(site.config)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def get_page(site: Site) -> str:
    """The site's home page over its HTTP address (what the health check asks for)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": "localhost"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return response.read().decode()
    finally:
        connection.close()


def current_release(site: Site) -> str:
    return os.readlink(site.root / "current")


def secret_key(site: Site) -> str:
    env = site.root / "shared" / "env" / "secret.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    return env.read_text().strip().partition("=")[2]


def test_deploys_rollback_a_failed_health_check_and_pruning(
    write_site: Callable[..., Site], project: Project, deploy: Deploy
) -> None:
    """One site through its life: first deploy, second, rollback, a broken release, a third."""
    site = write_site()
    status, out, err = deploy(site)
    assert status == 0, out + err
    first = current_release(site)
    assert first.startswith("releases/") and first.endswith("-" + project.head()[:12])
    release = site.root / first
    assert (release / "manage.py").is_file() and (release / "venv" / "bin" / "python").exists()
    key = secret_key(site)
    assert len(key) == 50
    assert stat.S_IMODE((site.root / "shared" / "env" / "app.env").stat().st_mode) == 0o600
    assert (site.root / "shared" / "static" / "site.css").is_file()
    assert (site.root / "shared" / "db" / "db.sqlite3").stat().st_size > 0
    ini = (release / "usher.ini").read_text()
    assert f"chdir = {site.root}/current/." in ini and "module = mysite.wsgi:application" in ini
    assert "DEBUG = False" in (release / "usher_deploy_settings.py").read_text()
    assert get_page(site) == "mysite version=1 debug=False key=50\n"
    assert "health" in out and "usher deploy: deploy done" in out

    project.set_version("2")
    project.commit("version 2")
    status, out, err = deploy(site)
    assert status == 0, out + err
    second = current_release(site)
    assert second != first and (site.root / "current").is_symlink()
    assert secret_key(site) == key
    assert get_page(site).startswith("mysite version=2 debug=False")

    status, out, err = deploy(site, "rollback")
    assert status == 0, out + err
    assert current_release(site) == first
    assert get_page(site).startswith("mysite version=1 ")

    # A release whose page fails its health check is never switched to, and is removed.
    urls = project.work / "mysite" / "urls.py"
    urls.write_text(urls.read_text().replace("STATUS = 200", "STATUS = 500"))
    broken = project.commit("a broken page")
    status, out, err = deploy(site)
    assert status == 1
    assert "health failed" in err and "answered 500" in err
    assert current_release(site) == first
    assert get_page(site).startswith("mysite version=1 ")
    assert not any(path.name.endswith(broken[:12]) for path in (site.root / "releases").iterdir())

    # The next good deploy switches; only the newest two releases stay (keep_releases = 2).
    urls.write_text(urls.read_text().replace("STATUS = 500", "STATUS = 200"))
    project.set_version("3")
    project.commit("version 3")
    status, out, err = deploy(site)
    assert status == 0, out + err
    releases = sorted(path.name for path in (site.root / "releases").iterdir())
    assert [f"releases/{name}" for name in releases] == [second, current_release(site)]
    assert get_page(site).startswith("mysite version=3 ")


def test_a_held_lock_refuses_the_deploy(write_site: Callable[..., Site], deploy: Deploy) -> None:
    site = write_site()
    lock = site.root / ".deploy-lock"
    lock.mkdir(parents=True)
    (lock / "holder").write_text("alice@laptop (pid 42) since 2026-12-03T08:00:00Z\n")
    status, _, err = deploy(site)
    assert status == 1
    assert "is locked by alice@laptop (pid 42) since 2026-12-03T08:00:00Z" in err
    assert "--force-unlock" in err and len(err.strip().splitlines()) == 1
    assert not (site.root / "releases").exists()
    assert (lock / "holder").read_text().startswith("alice@")


def test_force_unlock_takes_a_stale_lock_and_releases_it(
    write_site: Callable[..., Site], deploy: Deploy
) -> None:
    site = write_site()
    (site.root / ".deploy-lock").mkdir(parents=True)
    (site.root / ".deploy-lock" / "holder").write_text(
        "bob@ci (pid 7) since 2026-12-01T00:00:00Z\n"
    )
    status, out, err = deploy(site, "rollback", "--force-unlock")
    assert status == 1 and "no a release older than the current one" in err
    assert "removed the lock of bob@ci (pid 7) since 2026-12-01T00:00:00Z" in out
    assert not (site.root / ".deploy-lock").exists()


def test_an_unpushed_commit_is_refused(
    write_site: Callable[..., Site], project: Project, deploy: Deploy
) -> None:
    site = write_site()
    project.set_version("local")
    commit = project.commit("not pushed", push=False)
    status, _, err = deploy(site)
    assert status == 1
    assert (
        f"commit {commit[:12]} is not on {project.origin}: push it first (git push origin main)"
        in err
    )
    assert not (site.root / "current").exists()
    assert not (site.root / ".deploy-lock").exists()


def test_an_unknown_host_key_is_refused_with_the_way_to_add_it(
    write_site: Callable[..., Site], deploy: Deploy
) -> None:
    site = write_site(trust_host=False)
    status, _, err = deploy(site)
    assert status == 1
    assert "host key unknown" in err and "ssh-keyscan -p" in err and "--accept-new-host-keys" in err
    assert site.known_hosts.read_text() == ""
    assert not site.root.exists()


def test_accept_new_host_keys_records_the_key_then_verifies_it(
    write_site: Callable[..., Site], sshd: Sshd, deploy: Deploy
) -> None:
    site = write_site(trust_host=False)
    status, out, err = deploy(site, "--dry-run", "--accept-new-host-keys")
    assert status == 0, out + err
    assert site.known_hosts.read_text() == sshd.known_hosts_line()
    status, out, err = deploy(site, "--dry-run")
    assert status == 0, out + err


def test_a_pinned_fingerprint_trusts_a_new_host_and_a_wrong_one_refuses_it(
    write_site: Callable[..., Site], sshd: Sshd, deploy: Deploy
) -> None:
    wrong = write_site(trust_host=False, host=f"127.0.0.1:{sshd.port} app SHA256:{'A' * 43}")
    status, _, err = deploy(wrong, "--dry-run", "--accept-new-host-keys")
    assert status == 1 and "is not the pinned SHA256:AAAA" in err
    assert wrong.known_hosts.read_text() == ""
    site = write_site(trust_host=False, host=f"127.0.0.1:{sshd.port} app {sshd.fingerprint}")
    status, out, err = deploy(site, "--dry-run")
    assert status == 0, out + err
    assert site.known_hosts.read_text() == sshd.known_hosts_line()


def test_a_changed_host_key_is_refused_even_with_accept_new(
    write_site: Callable[..., Site], sshd: Sshd, deploy: Deploy
) -> None:
    site = write_site()
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    site.known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    status, _, err = deploy(site, "--accept-new-host-keys")
    assert status == 1
    assert "host key does not match" in err and "ssh-keygen -R" in err


def test_dry_run_prints_the_plan_and_changes_nothing(
    write_site: Callable[..., Site], project: Project, deploy: Deploy
) -> None:
    site = write_site()
    status, out, err = deploy(site, "--dry-run", "--scripts")
    assert status == 0, out + err
    assert f"plan for deploy of {project.head()[:12]}" in out
    for step in (
        "folders",
        "source",
        "venv",
        "settings",
        "check",
        "static",
        "migrate",
        "health",
        "switch",
        "service",
        "live",
        "prune",
    ):
        assert f" {step} " in out
    assert "<stdin: a secret>" in out and "SECRET_KEY=" not in out
    assert not site.root.exists()


def test_check_deploy_gate_stops_before_the_switch_with_its_report(
    write_site: Callable[..., Site], deploy: Deploy
) -> None:
    site = write_site(silence="")
    status, out, err = deploy(site)
    assert status == 1
    assert "security.W008" in out and "SECURE_SSL_REDIRECT" in out
    assert "check failed" in err and "silence = ..." in err
    assert not (site.root / "current").exists() and not any((site.root / "releases").iterdir())


def test_json_output_for_ci(write_site: Callable[..., Site], deploy: Deploy) -> None:
    site = write_site(silence="")
    status, out, _ = deploy(site, "--json")
    assert status == 1
    document = json.loads(out)
    assert document["outcome"] == "failed" and "check failed" in document["error"]
    failed = [step["step"] for step in document["steps"] if step["status"] != "ok"]
    assert failed == ["check"] and document["steps"][-1]["step"] == "discard"
    assert any("security.W008" in note for note in document["notes"])


@pytest.mark.parametrize("project", ["flaskapp"], indirect=True)
def test_a_flask_app_deploys_as_a_plain_wsgi_app(
    write_site: Callable[..., Site], project: Project, deploy: Deploy, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("GREETING=hello\n")
    # A requirement pip installs for real, offline: a wheel kept in the repository.
    wheel = write_wheel(project.work / "wheels", "tinygreeting", "GREETING = 'hi'\n")
    (project.work / "requirements.txt").write_text(f"./wheels/{wheel.name}\n")
    project.commit("a vendored requirement")
    site = write_site(
        framework="wsgi", module="app:app", settings_module="", silence="", env_file=str(secrets)
    )
    status, out, err = deploy(site)
    assert status == 0, out + err
    assert " check " not in out and " migrate " not in out
    assert get_page(site) == "flaskapp debug=False key=50 greeting=hello\n"
    assert "GREETING=hello" in (site.root / "shared" / "env" / "app.env").read_text()
    python = site.root / "current" / "venv" / "bin" / "python"
    found = subprocess.run(
        [python, "-c", "import tinygreeting; print(tinygreeting.GREETING)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == "hi\n", found.stderr


def write_wheel(folder: Path, name: str, source: str) -> Path:
    """A pure-Python wheel holding one module, built without any build tool."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(
            f"{info}/RECORD", "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
        )
    return wheel


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

    failures: list[str] = []
    seen: set[str] = set()
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                seen.add(fetch(port, "/").split()[1])
            except (OSError, AssertionError) as error:
                failures.append(repr(error))

    project.set_version("2")
    project.commit("version 2")
    worker = threading.Thread(target=client)
    worker.start()
    try:
        status, out, err = deploy(site)
    finally:
        done.set()
        worker.join()
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


def test_hosts_selects_from_the_config_and_json_dry_run_is_one_document(
    write_site: Callable[..., Site], sshd: Sshd, deploy: Deploy
) -> None:
    site = write_site()
    status, _, err = deploy(site, "--dry-run", "--hosts", "203.0.113.9")
    assert status == 1 and "--hosts names 203.0.113.9, which [deploy] does not list" in err
    status, out, err = deploy(site, "--dry-run", "--json", "--hosts", f"127.0.0.1:{sshd.port}")
    assert status == 0, out + err
    document = json.loads(out)
    assert document["outcome"] == "dry run, nothing changed"
    assert any(" health " in line for line in document["notes"])
    assert not site.root.exists()


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
    failures, seen = run_client_during(lambda: deploy(site), port)
    status, out, err = failures.pop("deploy")
    assert status == 0, out + err
    assert failures == {} and "version=1" in seen
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
) -> tuple[dict[str, object], set[str]]:
    """Run `action` while a client GETs / through nginx; return failures (and the action's
    result under "deploy") and the versions the client saw."""
    failures: dict[str, object] = {}
    seen: set[str] = set()
    done = threading.Event()

    def client() -> None:
        count = 0
        while not done.is_set():
            count += 1
            try:
                seen.add(fetch(port, "/").split()[1])
            except (OSError, AssertionError) as error:
                failures[f"request {count}"] = repr(error)

    worker = threading.Thread(target=client)
    worker.start()
    try:
        failures["deploy"] = action()
    finally:
        done.set()
        worker.join()
    return failures, seen
