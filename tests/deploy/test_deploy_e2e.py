"""`usher deploy` end to end on one host: a real sshd on loopback, a Django project (and a Flask
app) cloned from a bare origin, usher started for real (process_manager = none), checked over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import HTTP_ONLY_CHECKS, SOURCE_ROOT, Deploy, Project, Site
from tests.deploy.sshd import Sshd


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
    # What the long steps took is kept on the host: the next deploy's bars measure against it.
    timings = (site.root / ".deploy-timings").read_text()
    assert "packages:" in timings and "static:" in timings
    status, out, err = deploy(site, "--dry-run")
    assert status == 0 and "s last time)" in out, out + err

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


def test_debug_on_is_refused_by_the_gate_unless_accepted_by_id(
    write_site: Callable[..., Site], deploy: Deploy
) -> None:
    """The DEBUG=True gate: asking for debug stops the deploy with check --deploy's report;
    accepting security.W018 explicitly lets a staging site run with DEBUG on."""
    refused = write_site(debug="true")
    status, out, err = deploy(refused)
    assert status == 1
    assert "security.W018" in out and "DEBUG set to True" in out
    assert "check failed" in err and "silence = ..." in err
    assert not (refused.root / "current").exists()
    staging = write_site(debug="true", silence=f"{HTTP_ONLY_CHECKS} security.W018")
    status, out, err = deploy(staging)
    assert status == 0, out + err
    assert get_page(staging).startswith("mysite version=1 debug=True ")


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


def test_two_deploys_started_together_exactly_one_takes_the_lock(
    write_site: Callable[..., Site],
) -> None:
    """A real race: two `usher deploy` processes at once on one site; the lock's mkdir lets one
    through, the other stops before changing anything and names the winner's pid."""
    site = write_site()
    command = [
        sys.executable,
        "-c",
        "import sys; from usher.deploy.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    racers = [
        subprocess.Popen(
            [*command, "--config", str(site.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [(racer.pid, *racer.communicate(timeout=90), racer.returncode) for racer in racers]
    winners = [result for result in results if result[3] == 0]
    losers = [result for result in results if result[3] != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    (winner_pid, winner_out, _, _), (_, _, loser_err, loser_status) = winners[0], losers[0]
    assert "usher deploy: deploy done" in winner_out
    assert loser_status == 1 and f"(pid {winner_pid})" in loser_err and "is locked by" in loser_err
    assert get_page(site).startswith("mysite version=1 ")
    assert not (site.root / ".deploy-lock").exists()
