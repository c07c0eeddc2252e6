"""Secrets from HashiCorp Vault: one KV version 2 secret read on this machine with `hvac`, its
fields turned into `NAME=value` lines that travel to the hosts inside `app.env` (0600, on the SSH
channel's stdin, like `env_file`). The hosts never see the token, nor need to reach Vault.

hvac is imported when a config names a Vault (it is in the `deploy` extra), and it ships no type
information: its answer is checked field by field here instead of trusted.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from usher.deploy.config import VaultSource
from usher.deploy.errors import DeployError
from usher.deploy.templates import env_text


def read_secrets(source: VaultSource | None, environ: Mapping[str, str] = os.environ) -> str:
    """The secret's fields as env-file lines ("" without a Vault in the config)."""
    if source is None:
        return ""
    answer = _read(source, _token(source, environ))
    fields = _fields(source, answer)
    for name in fields:
        if not name.isidentifier():
            raise DeployError(
                f"vault {_where(source)}: field {name!r} is not an environment variable name; rename it in Vault"
            )
    return env_text([(name, str(value)) for name, value in sorted(fields.items())])


def _token(source: VaultSource, environ: Mapping[str, str]) -> str:
    token = environ.get(source.token_env, "").strip()
    if token:
        return token
    try:
        token = source.token_file.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if not token:
        raise DeployError(
            f"no Vault token: set {source.token_env} or log in with `vault login` (which writes {source.token_file})"
        )
    return token


def _read(source: VaultSource, token: str) -> object:
    try:
        hvac = importlib.import_module("hvac")
    except ModuleNotFoundError:
        raise DeployError(
            "reading secrets from Vault needs hvac: pip install 'usher[deploy]'"
        ) from None
    errors = importlib.import_module("hvac.exceptions")
    verify: str | bool = str(source.ca_cert) if source.ca_cert else True
    client = hvac.Client(url=source.address, token=token, verify=verify)
    try:
        # GET /v1/<mount>/data/<path>; raise_on_deleted_version stated, as hvac 2 asks.
        answer: object = client.secrets.kv.v2.read_secret_version(
            path=source.path, mount_point=source.mount, raise_on_deleted_version=True
        )
    except errors.VaultError as error:
        raise DeployError(
            f"vault {_where(source)}: {type(error).__name__}: {error}; check vault_path, vault_mount and the token's policy"
        ) from None
    except OSError as error:  # requests' connection errors are OSErrors
        raise DeployError(
            f"vault {_where(source)}: cannot reach {source.address}: {error}; check vault_address"
        ) from None
    except ValueError as error:  # a body that is not JSON: something else answers there
        raise DeployError(
            f"vault {_where(source)}: the answer is not Vault's JSON ({error}); check vault_address"
        ) from None
    return answer


def _fields(source: VaultSource, answer: object) -> Mapping[str, object]:
    # KV v2 answers {"data": {"data": {fields...}, "metadata": {...}}}.
    data = answer.get("data") if isinstance(answer, dict) else None
    fields = data.get("data") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        raise DeployError(
            f"vault {_where(source)}: the answer is not a KV version 2 secret; check vault_mount (a KV v2 engine)"
        )
    return {str(name): value for name, value in fields.items()}


def _where(source: VaultSource) -> str:
    return f"{source.address} {source.mount}/{source.path}"
