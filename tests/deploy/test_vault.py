"""Secrets from Vault, offline: a small HTTP responder on 127.0.0.1 stands in for a Vault server.

It is not Vault. It answers only the one request hvac makes to read a KV version 2 secret
(`GET /v1/<mount>/data/<path>` with an `X-Vault-Token` header, found by watching hvac's requests)
in the shape Vault documents, 403 for another token and 404 for another path, as Vault does.
"""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.conftest import Deploy, Project, Site
from tests.deploy.test_deploy_e2e import get_page
from usher.deploy.config import VaultSource
from usher.deploy.errors import DeployError
from usher.deploy.vault import read_secrets

pytest.importorskip("hvac")

TOKEN = "hvs.test-token-not-a-real-one"
SECRET_PATH = "/v1/secret/data/mysite/prod"
FIELDS = {"GREETING": "from-vault", "API_KEY": "k3y with spaces"}
# What the stand-in was asked: (path, token) per request.
SEEN: list[tuple[str, str]] = []


class StandInVault(BaseHTTPRequestHandler):
    """Answers a KV v2 read as Vault would; nothing else."""

    def do_GET(self) -> None:
        SEEN.append((self.path, self.headers.get("X-Vault-Token", "")))
        if self.headers.get("X-Vault-Token") != TOKEN:
            self._answer(403, {"errors": ["permission denied"]})
        elif self.path != SECRET_PATH:
            self._answer(404, {"errors": []})
        else:
            metadata = {"version": 3, "deletion_time": "", "destroyed": False}
            self._answer(200, {"data": {"data": FIELDS, "metadata": metadata}, "lease_id": ""})

    def _answer(self, status: int, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read SEEN instead."""


@pytest.fixture
def vault_address() -> Iterator[str]:
    SEEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInVault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def source(address: str, tmp_path: Path, path: str = "mysite/prod") -> VaultSource:
    return VaultSource(address, "secret", path, "TEST_VAULT_TOKEN", tmp_path / "no-token", None)


def test_a_secret_becomes_env_lines_read_with_the_token_from_the_environment(
    vault_address: str, tmp_path: Path
) -> None:
    text = read_secrets(source(vault_address, tmp_path), {"TEST_VAULT_TOKEN": TOKEN})
    assert text == "API_KEY='k3y with spaces'\nGREETING=from-vault\n"
    assert SEEN == [(SECRET_PATH, TOKEN)]


def test_the_token_file_is_read_when_the_variable_is_unset(
    vault_address: str, tmp_path: Path
) -> None:
    (tmp_path / "no-token").write_text(TOKEN + "\n")
    assert "GREETING=from-vault" in read_secrets(source(vault_address, tmp_path), {})


@pytest.mark.parametrize(
    ("token", "path", "message"),
    [
        ("", "mysite/prod", "no Vault token: set TEST_VAULT_TOKEN or log in with `vault login`"),
        ("wrong", "mysite/prod", "Forbidden: permission denied"),
        (TOKEN, "mysite/other", "InvalidPath"),
    ],
)
def test_vault_failures_are_one_line_errors_with_a_fix(
    vault_address: str, tmp_path: Path, token: str, path: str, message: str
) -> None:
    with pytest.raises(DeployError) as caught:
        read_secrets(source(vault_address, tmp_path, path), {"TEST_VAULT_TOKEN": token})
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("project", ["flaskapp"], indirect=True)
def test_a_deploy_sends_the_vault_secret_to_the_host_as_a_private_env_file(
    write_site: Callable[..., Site],
    project: Project,
    deploy: Deploy,
    vault_address: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_VAULT_TOKEN", TOKEN)
    site = write_site(
        framework="wsgi",
        module="app:app",
        settings_module="",
        silence="",
        vault_address=vault_address,
        vault_path="mysite/prod",
        vault_token_env="TEST_VAULT_TOKEN",
    )
    status, out, err = deploy(site, "--dry-run", "--scripts")
    assert status == 0, out + err
    assert "from-vault" not in out and TOKEN not in out and "<stdin: a secret>" in out
    status, out, err = deploy(site)
    assert status == 0, out + err
    assert get_page(site).endswith("greeting=from-vault\n")
    app_env = site.root / "shared" / "env" / "app.env"
    assert stat.S_IMODE(app_env.stat().st_mode) == 0o600
    assert "GREETING=from-vault" in app_env.read_text()
    # The hosts got the secret, never the token.
    assert not any(
        TOKEN in path.read_text(errors="replace") for path in site.root.rglob("*") if path.is_file()
    )


def test_an_unreachable_vault_names_the_address(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()  # nothing listens there now: the connection is refused
    with pytest.raises(DeployError, match=f"cannot reach {address}.*check vault_address"):
        read_secrets(source(address, tmp_path), {"TEST_VAULT_TOKEN": TOKEN})
