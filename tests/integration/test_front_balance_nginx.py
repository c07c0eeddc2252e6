"""Every balancing policy chooses as nginx chooses, on the same config and the same requests.

One nginx runs with an upstream block per case, each in front of the same tiny servers that
answer their own name (tests/support/named_upstreams.py); some cases add an address where nothing
listens, so nginx's failure handling (next server, ejection, backup) is part of the sequence.
The test sends the case's requests to nginx and records who answered, then replays them on
usher's policy, with the dead address failing each time it is picked, and compares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.named_upstreams import (
    NamedServer,
    dead_address,
    get,
    named_servers,
    start_nginx_with,
)
from tests.support.nginx import NginxProcess
from usher.front.balance import (
    Balancer,
    ConsistentHash,
    Hash,
    IpHash,
    LeastConn,
    Member,
    Policy,
    RequestInfo,
    RoundRobin,
)

pytestmark = pytest.mark.nginx

DEAD = "dead"  # stands for the address nothing listens on


@dataclass(frozen=True)
class Line:
    """A server line: `which` is an index into the named servers, or DEAD."""

    which: int | str
    weight: int = 1
    flags: str = ""  # "down", "backup"


@dataclass(frozen=True)
class Call:
    target: str = "/"
    source: str = "127.0.0.1"
    cookie: str = ""
    hold: bool = False  # kept open until the case ends


@dataclass(frozen=True)
class Case:
    name: str
    members: tuple[Line, ...]
    directive: str
    policy: Callable[[], Policy]
    calls: tuple[Call, ...]


def _uris(count: int) -> tuple[Call, ...]:
    return tuple(Call(f"/item/{n * 7919 % 1000}?v={n}") for n in range(count))


def _clients(count: int) -> tuple[Call, ...]:
    # Distinct /24s (ip_hash's unit) and two clients sharing one /24.
    calls = [
        Call(source=f"127.{n * 37 % 250 + 1}.{n * 11 % 250}.{n % 200 + 2}") for n in range(count)
    ]
    calls.append(Call(source="127.9.9.200"))
    calls.append(Call(source="127.9.9.201"))
    return tuple(calls)


CASES = [
    Case("rr", (Line(0, 5), Line(1), Line(2)), "", RoundRobin, (Call(),) * 14),
    Case(
        "rr_down_backup",
        (Line(0, 2), Line(1, 3), Line(2, 1, "down"), Line(3, 1, "backup")),
        "",
        RoundRobin,
        (Call(),) * 10,
    ),
    Case("rr_dead", (Line(0, 3), Line(DEAD, 2), Line(1, 1)), "", RoundRobin, (Call(),) * 12),
    Case(
        "rr_to_backup",
        (Line(DEAD), Line(1, 1, "backup"), Line(2, 2, "backup")),
        "",
        RoundRobin,
        (Call(),) * 6,
    ),
    Case(
        "least_conn",
        (Line(0, 1), Line(1, 2), Line(2, 1)),
        "least_conn;",
        LeastConn,
        (Call(hold=True),) * 5 + (Call(),) * 6,
    ),
    Case(
        "least_conn_dead",
        (Line(0, 1), Line(DEAD, 1), Line(1, 2)),
        "least_conn;",
        LeastConn,
        (Call(hold=True),) * 3 + (Call(),) * 5,
    ),
    Case(
        "ip_hash",
        (Line(0, 1), Line(1, 2), Line(2, 1, "down"), Line(3, 1)),
        "ip_hash;",
        IpHash,
        _clients(14),
    ),
    Case(
        "ip_hash_dead",
        (Line(0), Line(DEAD), Line(1, 2)),
        "ip_hash;",
        IpHash,
        _clients(10),
    ),
    Case(
        "hash",
        (Line(0, 1), Line(1, 2), Line(2, 1, "down"), Line(DEAD, 1), Line(3)),
        "hash $request_uri;",
        lambda: Hash("$request_uri"),
        _uris(20),
    ),
    Case(
        "chash",
        (Line(0, 1), Line(1, 2), Line(DEAD, 1), Line(3, 1), Line(2, 1, "down")),
        "hash $request_uri consistent;",
        lambda: ConsistentHash("$request_uri"),
        _uris(24),
    ),
    Case(
        "chash_arg",
        (Line(0), Line(1), Line(2)),
        "hash $arg_v consistent;",
        lambda: ConsistentHash("$arg_v"),
        _uris(12),
    ),
]


def _server_lines(case: Case, names: list[str], dead: str) -> list[tuple[str, Line]]:
    return [(dead if m.which == DEAD else names[int(m.which)], m) for m in case.members]


def _http_block(names: list[str], dead: str) -> Callable[[int], str]:
    def block(port: int) -> str:
        text = ""
        for case in CASES:
            servers = "".join(
                f"        server {address} weight={m.weight} {m.flags};\n"
                for address, m in _server_lines(case, names, dead)
            )
            text += f"    upstream {case.name} {{\n        {case.directive}\n{servers}    }}\n"
        locations = "".join(
            f"        location /{case.name}/ {{\n"
            f"            proxy_pass http://{case.name}/;\n"
            "            proxy_connect_timeout 2s;\n"
            "        }\n"
            for case in CASES
        )
        return f"{text}    server {{\n        listen 127.0.0.1:{port};\n{locations}    }}"

    return block


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NginxProcess, list[NamedServer], str]]:
    tmp: Path = tmp_path_factory.mktemp("balance")
    dead = dead_address()
    with named_servers(4) as servers:
        names = [s.name for s in servers]
        nginx = start_nginx_with(tmp, _http_block(names, dead))
        try:
            yield nginx, servers, dead
        finally:
            nginx.stop()


def _nginx_sequence(nginx: NginxProcess, servers: list[NamedServer], case: Case) -> list[str]:
    chosen: list[str] = []
    threads = []
    for call in case.calls:
        headers = {"Cookie": call.cookie} if call.cookie else {}
        if call.hold:
            target = f"/{case.name}/hold{call.target}"
            thread = threading.Thread(target=get, args=(nginx.port, target), daemon=True)
            thread.start()
            threads.append(thread)
            chosen.append(servers[0].arrivals.get(timeout=10))
            continue
        status, body = get(
            nginx.port, f"/{case.name}{call.target}", source=call.source, headers=headers
        )
        assert status == 200, (status, body)
        chosen.append(body)
    for server in servers:
        server.release.set()
    for thread in threads:
        thread.join(10)
    for server in servers:
        server.release.clear()
    return chosen


def _usher_sequence(case: Case, names: list[str], dead: str) -> list[str]:
    peers = [
        Member(address, m.weight, backup="backup" in m.flags, down="down" in m.flags)
        for address, m in _server_lines(case, names, dead)
    ]
    balancer = Balancer(peers, case.policy(), clock=lambda: 1000.0)
    chosen: list[str] = []
    held = []
    for call in case.calls:
        headers = {"cookie": call.cookie} if call.cookie else {}
        # $request_uri is the target the client sent, the location's prefix included.
        target = f"/{case.name}/hold{call.target}" if call.hold else f"/{case.name}{call.target}"
        attempt = balancer.begin(RequestInfo(client=call.source, target=target, headers=headers))
        while (peer := attempt.pick()) is not None and peer.name == dead:
            attempt.report(failed=True)
        assert peer is not None
        chosen.append(peer.name)
        if call.hold:
            held.append(attempt)
        else:
            attempt.report(failed=False)
    for attempt in held:
        attempt.report(failed=False)
    return chosen


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_matches_nginx(
    case: Case, setup: tuple[NginxProcess, list[NamedServer], str]
) -> None:
    nginx, servers, dead = setup
    names = [s.name for s in servers]
    expected = _nginx_sequence(nginx, servers, case)
    assert _usher_sequence(case, names, dead) == expected, nginx.describe()
    if case.name == "rr":
        # The documented sequence of weights 5,1,1: a a b a c a a, twice.
        a, b, c = names[:3]
        assert expected == [a, a, b, a, c, a, a] * 2
