"""What the settings add to an ASGI scope: the root path, and a trusted proxy's client and scheme."""

from __future__ import annotations

from typing import Any

from usher.adapters.asgi_scope import ScopeFrame, Trusted


def scope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "scheme": "http",
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"x-forwarded-for", b"198.51.100.1, 203.0.113.9, 10.0.0.2"),
            (b"x-forwarded-proto", b"https"),
        ],
    }
    base.update(changes)
    return base


def test_the_root_path_is_also_the_start_of_the_path() -> None:
    completed = scope()
    ScopeFrame("/app/").apply(completed)
    assert (completed["root_path"], completed["path"], completed["raw_path"]) == (
        "/app",
        "/app/items",
        b"/app/items",
    )
    already = scope(path="/app/items", raw_path=b"/app/items")
    ScopeFrame("/app").apply(already)
    assert already["path"] == "/app/items"


def test_a_front_servers_script_name_wins_over_the_option() -> None:
    completed = scope(root_path="/mounted", path="/mounted/items")
    ScopeFrame("/app").apply(completed)
    assert (completed["root_path"], completed["path"]) == ("/mounted", "/mounted/items")


def test_a_trusted_proxy_names_the_client_and_scheme() -> None:
    completed = scope()
    ScopeFrame(trusted=Trusted.parse("127.0.0.1, 10.0.0.0/8")).apply(completed)
    # The nearest address that is not a trusted proxy; what the client prepended is not believed.
    assert completed["client"] == ("203.0.113.9", 0) and completed["scheme"] == "https"


def test_an_untrusted_peer_changes_nothing() -> None:
    completed = scope(client=("192.0.2.5", 1))
    ScopeFrame(trusted=Trusted.parse("127.0.0.1")).apply(completed)
    assert completed["client"] == ("192.0.2.5", 1) and completed["scheme"] == "http"


def test_everyone_and_websocket_schemes() -> None:
    completed = scope(type="websocket", scheme="ws", client=("192.0.2.5", 1))
    ScopeFrame(trusted=Trusted.parse("*")).apply(completed)
    # Every proxy trusted: the client is the first address of the chain.
    assert completed["scheme"] == "wss" and completed["client"] == ("198.51.100.1", 0)
    assert "unix-peer" not in Trusted.parse("127.0.0.1")
