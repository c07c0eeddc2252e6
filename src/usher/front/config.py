"""Read a front's ini file into `usher.front.model.Front`, with one-line errors.

The sections mirror nginx's blocks, and the keys its directives (docs/front.md)::

    [front]                      processes, listen, server_name, client_max_body_size, ...
    [upstream app]               server (repeated), least_conn | ip_hash | hash | random |
                                 sticky, keepalive, check, check_http_expect_alive, ...
    [server site]                listen, server_name: a virtual host (optional: without one,
                                 [front]'s listen and server_name make the only one)
    [location /]                 proxy_pass | uwsgi_pass | alias | root | return | status,
    [location = /exact]          with `server = site` when there are several virtual hosts
    [location ~* \\.png$]

Every error is one line: where (file and line), what is wrong, and how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import replace

from usher.front.ini import (
    Entry,
    FrontConfigError,
    Reader,
    Section,
    parse_address,
    parse_flags,
    parse_time,
    read_int,
    read_size,
    read_time,
    split_sections,
    to_int,
)
from usher.front.model import (
    BY_HOST,
    Action,
    Address,
    Balance,
    CheckType,
    Front,
    HealthCheck,
    IpNetwork,
    Limits,
    Location,
    Match,
    Method,
    Pass,
    Protocol,
    RealIp,
    Retry,
    Return,
    Server,
    Static,
    StatusPage,
    Upstream,
    VirtualHost,
)

FRONT_KEYS = {
    "processes",
    "listen",
    "server_name",
    "client_max_body_size",
    "client_body_buffer_size",
    "client_header_buffer_size",
    "client_body_timeout",
    "keepalive_timeout",
    "set_real_ip_from",
    "real_ip_header",
    "scheme",
    "access_log",
    "stats",  # the master's stats socket (usher's --stats): the front's figures summed
    # uWSGI's names for the same thing: the subscription server of its HTTP router and its
    # fastrouter.
    "subscription_server",
    "http_subscription_server",
    "fastrouter_subscription_server",
    "subscription_tolerance",
}
UPSTREAM_KEYS = {
    "server",
    "subscription",
    "least_conn",
    "ip_hash",
    "hash",
    "random",
    "sticky",
    "keepalive",
    "keepalive_timeout",
    "check",
    "check_http_send",
    "check_http_expect_alive",
    "panic_threshold",
}
SERVER_KEYS = {"listen", "server_name", "default_server"}
LOCATION_KEYS = {
    "server",
    "proxy_pass",
    "uwsgi_pass",
    "alias",
    "root",
    "index",
    "expires",
    "return",
    "status",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_send_timeout",
    "uwsgi_connect_timeout",
    "uwsgi_read_timeout",
    "uwsgi_send_timeout",
    "proxy_next_upstream",
    "proxy_next_upstream_tries",
    "proxy_next_upstream_timeout",
    "retry_budget",
    "proxy_set_header",
}
KEYS = {"front": FRONT_KEYS, "upstream": UPSTREAM_KEYS, "server": SERVER_KEYS}
KEYS["location"] = LOCATION_KEYS

DEFAULT_LISTEN = "127.0.0.1:8080"


def read_front(path: str, *, processes: int | None = None) -> Front:
    """Read and check the front configuration at `path`; `processes` overrides the file's."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise FrontConfigError(
            f"cannot read {path}: {exc.strerror} (give the path of the front's ini file)"
        ) from None
    front = parse_front(text, path)
    if processes is not None:
        if processes < 1:
            raise FrontConfigError(f"--processes {processes}: give 1 or more worker processes")
        front = replace(front, processes=processes)
    return front


def parse_front(text: str, path: str = "front.ini") -> Front:
    """Build a Front from the ini text (pure: reads no file, binds nothing)."""
    reader = Reader(path)
    sections = split_sections(text, reader)
    for section in sections:
        check_keys(section, reader)
    fronts = [section for section in sections if section.kind == "front"]
    top = fronts[0] if fronts else Section(0, "front", "")
    if len(fronts) > 1:
        raise reader.fail(fronts[1].line, "a second [front] section", "keep one [front]")
    upstreams = tuple(
        read_upstream(section, reader) for section in sections if section.kind == "upstream"
    )
    names = [pool.name for pool in upstreams]
    for pool in upstreams:
        if names.count(pool.name) > 1:
            raise FrontConfigError(
                f"{path}: upstream {pool.name!r} is declared twice (give each pool its own name)"
            )
    hosts = read_hosts(sections, top, reader)
    check_passes(hosts, upstreams, sections, reader)
    return Front(
        hosts=hosts,
        upstreams=upstreams,
        processes=read_int(top, "processes", reader, 1, low=1),
        limits=read_limits(top, reader),
        real_ip=read_real_ip(top, reader),
        scheme=read_scheme(top, reader),
        access_log=read_switch(top, "access_log", reader),
        subscription_server=read_subscription_server(top, upstreams, hosts, reader),
        subscription_tolerance=read_time(top, "subscription_tolerance", reader, 17.0),
        stats=entry.value if (entry := top.last("stats")) is not None else "",
    )


SUBSCRIPTION_KEYS = (
    "subscription_server",
    "http_subscription_server",
    "fastrouter_subscription_server",
)


def read_subscription_server(
    top: Section,
    upstreams: tuple[Upstream, ...],
    hosts: tuple[VirtualHost, ...],
    reader: Reader,
) -> Address | None:
    """The UDP address app servers announce themselves to, when some pool takes them."""
    entries = [entry for key in SUBSCRIPTION_KEYS for entry in top.values(key)]
    keyed = [
        f"[upstream {pool.name}] has a subscription" for pool in upstreams if pool.subscription
    ]
    keyed += [
        f"[location {location.pattern}] passes to {BY_HOST}"
        for host in hosts
        for location in host.locations
        if isinstance(location.action, Pass) and location.action.by_host
    ]
    if not entries:
        if keyed:
            raise reader.fail(
                top.line,
                f"{keyed[0]} but there is no subscription_server",
                "add subscription_server = 127.0.0.1:2626 to [front]",
            )
        return None
    entry = entries[-1]
    return parse_address(entry.value, entry, reader, default_host="127.0.0.1")


def check_keys(section: Section, reader: Reader) -> None:
    known = KEYS[section.kind]
    for entry in section.entries:
        if entry.key in known:
            continue
        close = difflib.get_close_matches(entry.key, sorted(known), n=1)
        hint = (
            f"did you mean {close[0]}?"
            if close
            else f"the keys of this section: {', '.join(sorted(known))}"
        )
        raise reader.fail(entry.line, f"unknown key {entry.key!r} in [{section.kind}]", hint)


# -- [front] -----------------------------------------------------------------------------------


def read_limits(top: Section, reader: Reader) -> Limits:
    base = Limits()
    return Limits(
        client_max_body_size=read_size(
            top, "client_max_body_size", reader, base.client_max_body_size
        ),
        client_header_buffer_size=read_size(
            top, "client_header_buffer_size", reader, base.client_header_buffer_size
        ),
        client_body_timeout=read_time(top, "client_body_timeout", reader, base.client_body_timeout),
        keepalive_timeout=read_time(top, "keepalive_timeout", reader, base.keepalive_timeout),
        client_body_buffer_size=read_size(
            top, "client_body_buffer_size", reader, base.client_body_buffer_size
        ),
    )


def read_real_ip(top: Section, reader: Reader) -> RealIp:
    networks: list[IpNetwork] = []
    for entry in top.values("set_real_ip_from"):
        for word in entry.value.split():
            try:
                networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise reader.fail(
                    entry.line,
                    f"set_real_ip_from {word!r} is not an address or network",
                    "write 10.0.0.0/8 or 127.0.0.1",
                ) from None
    header = top.last("real_ip_header")
    name = header.value.lower() if header is not None else "x-forwarded-for"
    if header is not None and not re.fullmatch(r"[a-z0-9-]+", name):
        raise reader.fail(
            header.line,
            f"real_ip_header = {header.value!r}",
            "name one header, e.g. X-Forwarded-For",
        )
    return RealIp(tuple(networks), name)


def read_switch(section: Section, key: str, reader: Reader) -> bool:
    entry = section.last(key)
    if entry is None or entry.value.lower() in ("on", "true", "1", "yes"):
        return True
    if entry.value.lower() in ("off", "false", "0", "no"):
        return False
    raise reader.fail(entry.line, f"{key} = {entry.value!r}", f"write {key} = on or {key} = off")


def read_scheme(top: Section, reader: Reader) -> str:
    entry = top.last("scheme")
    if entry is None:
        return "http"
    if entry.value not in ("http", "https"):
        raise reader.fail(
            entry.line, f"scheme = {entry.value!r}", "write http, or https behind a TLS terminator"
        )
    return entry.value


# -- [upstream NAME] ---------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def read_upstream(section: Section, reader: Reader) -> Upstream:
    if not _NAME.match(section.label):
        raise reader.fail(
            section.line, f"upstream name {section.label!r}", "use letters, digits, _ . -"
        )
    servers = tuple(read_server(entry, reader) for entry in section.values("server"))
    subscription = section.last("subscription")
    if subscription is not None and not subscription.value.strip():
        raise reader.fail(
            subscription.line, "subscription without a key", "write subscription = example.com"
        )
    if not servers and subscription is None:
        raise reader.fail(
            section.line, f"[upstream {section.label}] has no server", "add server = 127.0.0.1:8001"
        )
    if servers and all(server.backup or server.down for server in servers):
        raise reader.fail(
            section.line,
            f"[upstream {section.label}] has no primary server that is up",
            "mark at least one server neither backup nor down",
        )
    base = Upstream(section.label, servers)
    return Upstream(
        name=section.label,
        servers=servers,
        balance=read_balance(section, reader),
        check=read_check(section, reader),
        keepalive=read_int(section, "keepalive", reader, base.keepalive),
        keepalive_timeout=read_time(section, "keepalive_timeout", reader, base.keepalive_timeout),
        panic_threshold=min(
            100, read_int(section, "panic_threshold", reader, base.panic_threshold)
        ),
        subscription=subscription.value.strip() if subscription is not None else "",
    )


def read_server(entry: Entry, reader: Reader) -> Server:
    words = entry.value.split()
    if not words:
        raise reader.fail(
            entry.line, "server without an address", "write server = 127.0.0.1:8001 weight=2"
        )
    address = parse_address(words[0], entry, reader, default_host="127.0.0.1")
    flags = parse_flags(words[1:], entry, reader)
    server = Server(address)
    for name, value in flags.items():
        if name == "weight":
            server = replace(server, weight=to_int(value, entry, reader, 1))
        elif name == "max_fails":
            server = replace(server, max_fails=to_int(value, entry, reader, 0))
        elif name in ("fail_timeout", "slow_start"):
            seconds = parse_time(value)
            if seconds is None:
                raise reader.fail(
                    entry.line, f"{name}={value!r} is not a time", f"write {name}=10s"
                )
            server = (
                replace(server, fail_timeout=seconds)
                if name == "fail_timeout"
                else replace(server, slow_start=seconds)
            )
        elif name in ("backup", "down") and not value:
            server = (
                replace(server, backup=True) if name == "backup" else replace(server, down=True)
            )
        else:
            raise reader.fail(
                entry.line,
                f"unknown server parameter {name!r}",
                "use weight=N max_fails=N fail_timeout=T slow_start=T backup down",
            )
    return server


def read_balance(section: Section, reader: Reader) -> Balance:
    chosen = [
        entry
        for entry in section.entries
        if entry.key in ("least_conn", "ip_hash", "hash", "random", "sticky")
    ]
    if len(chosen) > 1:
        raise reader.fail(
            chosen[1].line, f"a second balancing method ({chosen[1].key})", "keep one per upstream"
        )
    if not chosen:
        return Balance()
    entry = chosen[0]
    words = entry.value.split()
    if entry.key in ("least_conn", "ip_hash"):
        if words:
            raise reader.fail(entry.line, f"{entry.key} takes no value", f"write {entry.key} alone")
        return Balance(Method(entry.key))
    if entry.key == "hash":
        if not words or len(words) > 2 or (len(words) == 2 and words[1] != "consistent"):
            raise reader.fail(
                entry.line, f"hash = {entry.value!r}", "write hash = $request_uri [consistent]"
            )
        return Balance(Method.HASH, key=words[0], consistent=len(words) == 2)
    if entry.key == "random":
        if words not in ([], ["two"], ["two", "least_conn"]):
            raise reader.fail(
                entry.line, f"random = {entry.value!r}", "write random, or random = two least_conn"
            )
        return Balance(Method.RANDOM, two=bool(words))
    if len(words) != 2 or words[0] != "cookie" or not re.fullmatch(r"[A-Za-z0-9_-]+", words[1]):
        raise reader.fail(entry.line, f"sticky = {entry.value!r}", "write sticky = cookie NAME")
    return Balance(Method.STICKY, cookie=words[1])


def read_check(section: Section, reader: Reader) -> HealthCheck | None:
    entry = section.last("check")
    if entry is None:
        for key in ("check_http_send", "check_http_expect_alive"):
            if (stray := section.last(key)) is not None:
                raise reader.fail(
                    stray.line, f"{key} without check", "add check = interval=3000 type=http"
                )
        return None
    check = HealthCheck()
    for name, value in parse_flags(entry.value.split(), entry, reader).items():
        if name in ("interval", "timeout"):
            # Tengine counts these in milliseconds; a unit (3s) may be given.
            seconds = parse_time(value, bare_unit=0.001)
            if seconds is None or seconds <= 0:
                raise reader.fail(
                    entry.line, f"check {name}={value!r}", f"write {name}=3000 (ms) or {name}=3s"
                )
            check = (
                replace(check, interval=seconds)
                if name == "interval"
                else replace(check, timeout=seconds)
            )
        elif name in ("rise", "fall"):
            count = to_int(value, entry, reader, 1)
            check = replace(check, rise=count) if name == "rise" else replace(check, fall=count)
        elif name == "type":
            if value not in ("tcp", "http"):
                raise reader.fail(
                    entry.line, f"check type={value!r}", "write type=tcp or type=http"
                )
            check = replace(check, type=CheckType(value))
        else:
            raise reader.fail(
                entry.line,
                f"unknown check parameter {name!r}",
                "use interval= rise= fall= timeout= type=tcp|http",
            )
    if (send := section.last("check_http_send")) is not None:
        uri, host = read_check_send(send, reader)
        check = replace(check, uri=uri, host=host)
    if (alive := section.last("check_http_expect_alive")) is not None:
        classes = []
        for word in alive.value.split():
            found = re.fullmatch(r"http_([1-5])xx", word)
            if found is None:
                raise reader.fail(
                    alive.line, f"check_http_expect_alive {word!r}", "write http_2xx http_3xx"
                )
            classes.append(f"{found.group(1)}xx")
        check = replace(check, expect_alive=tuple(classes))
    return check


def read_check_send(entry: Entry, reader: Reader) -> tuple[str, str]:
    """`check_http_send = /health` or Tengine's `"GET /health HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n"`."""
    text = entry.value.strip().strip('"').replace("\\r\\n", "\n")
    lines = text.split("\n")
    words = lines[0].split()
    uri = words[1] if len(words) >= 2 and words[0] == "GET" else (words[0] if words else "")
    if not uri.startswith("/"):
        raise reader.fail(
            entry.line, f"check_http_send = {entry.value!r}", "write check_http_send = /health"
        )
    host = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = value.strip()
    return uri, host


# -- [server NAME] and [location ...] ----------------------------------------------------------


def read_hosts(sections: list[Section], top: Section, reader: Reader) -> tuple[VirtualHost, ...]:
    declared = [section for section in sections if section.kind == "server"]
    if not declared:
        declared = [
            Section(top.line, "server", "default", [e for e in top.entries if e.key in SERVER_KEYS])
        ]
    labels = [section.label for section in declared]
    locations: dict[str, list[Location]] = {label: [] for label in labels}
    for section in sections:
        if section.kind != "location":
            continue
        owner = section.last("server")
        label = owner.value if owner is not None else labels[0]
        if owner is None and len(labels) > 1:
            raise reader.fail(
                section.line,
                f"[location {section.label}] names no server",
                f"add server = {labels[0]}",
            )
        if label not in locations:
            assert owner is not None
            raise reader.fail(
                owner.line,
                f"server = {label!r} is not declared",
                f"declare [server {label}] or use one of {', '.join(labels)}",
            )
        locations[label].append(read_location(section, reader))
    hosts = tuple(
        read_host(section, tuple(locations[section.label]), reader) for section in declared
    )
    if not any(host.locations for host in hosts):
        raise FrontConfigError(
            f"{reader.path}: no location (add [location /] with proxy_pass = http://app)"
        )
    return hosts


def read_host(section: Section, locations: tuple[Location, ...], reader: Reader) -> VirtualHost:
    listens = [entry for entry in section.values("listen")]
    addresses = tuple(
        parse_address(word, entry, reader, default_host="0.0.0.0")
        for entry in listens
        for word in entry.value.split()
    ) or (
        parse_address(
            DEFAULT_LISTEN, Entry(section.line, "listen", DEFAULT_LISTEN), reader, default_host=""
        ),
    )
    names = tuple(
        word.lower() for entry in section.values("server_name") for word in entry.value.split()
    )
    return VirtualHost(
        name=section.label,
        listen=addresses,
        server_name=names,
        locations=locations,
        default_server=section.last("default_server") is not None,
    )


def read_location(section: Section, reader: Reader) -> Location:
    match, pattern = split_location(section, reader)
    regex = None
    if match in (Match.REGEX, Match.REGEX_NOCASE):
        try:
            regex = re.compile(pattern, re.IGNORECASE if match is Match.REGEX_NOCASE else 0)
        except re.error as exc:
            raise reader.fail(
                section.line, f"location regex {pattern!r}: {exc}", "fix the regular expression"
            ) from None
    elif not pattern.startswith("/"):
        raise reader.fail(
            section.line,
            f"location {pattern!r} does not start with /",
            f"write [location /{pattern}]",
        )
    return Location(match, pattern, read_action(section, pattern, match, reader), regex)


def split_location(section: Section, reader: Reader) -> tuple[Match, str]:
    first, _, rest = section.label.partition(" ")
    modifiers = {item.value: item for item in Match if item.value}
    if first in modifiers:
        if not rest.strip():
            raise reader.fail(
                section.line,
                f"[location {first}] without a pattern",
                f"write [location {first} /path]",
            )
        return modifiers[first], rest.strip()
    return Match.PREFIX, section.label


ACTION_KEYS = ("proxy_pass", "uwsgi_pass", "alias", "root", "return", "status")


def read_action(section: Section, pattern: str, match: Match, reader: Reader) -> Action:
    present = [entry for entry in section.entries if entry.key in ACTION_KEYS]
    if len(present) != 1:
        what = "no action" if not present else f"both {present[0].key} and {present[1].key}"
        raise reader.fail(
            section.line,
            f"[location {section.label}] has {what}",
            "give exactly one of proxy_pass, uwsgi_pass, alias, root, return, status",
        )
    entry = present[0]
    if entry.key == "status":
        return StatusPage()
    if entry.key == "return":
        return read_return(entry, reader)
    if entry.key in ("alias", "root"):
        return read_static(section, entry, match, reader)
    return read_pass(section, entry, reader)


def read_return(entry: Entry, reader: Reader) -> Return:
    code_text, _, text = entry.value.partition(" ")
    code = int(code_text) if code_text.isdigit() else 0
    if not 100 <= code <= 599:
        raise reader.fail(
            entry.line,
            f"return = {entry.value!r}",
            "write return = 301 https://example.com/ or return = 404",
        )
    text = text.strip()
    if code in (301, 302, 303, 307, 308) and not text:
        raise reader.fail(
            entry.line,
            f"return {code} without a URL",
            f"write return = {code} https://example.com/",
        )
    return Return(code, text)


def read_static(section: Section, entry: Entry, match: Match, reader: Reader) -> Static:
    if not entry.value:
        raise reader.fail(
            entry.line, f"{entry.key} without a directory", f"write {entry.key} = /srv/site/static/"
        )
    if entry.key == "alias" and match not in (Match.PREFIX, Match.PREFIX_NO_REGEX, Match.EXACT):
        raise reader.fail(entry.line, "alias in a regex location", "use root, or a prefix location")
    index = section.last("index")
    expires = section.last("expires")
    seconds: float | None = None
    if expires is not None:
        seconds = parse_time(expires.value)
        if seconds is None:
            raise reader.fail(expires.line, f"expires = {expires.value!r}", "write expires = 30d")
    return Static(
        directory=entry.value,
        alias=entry.key == "alias",
        index=tuple(index.value.split()) if index is not None else ("index.html",),
        expires=seconds,
    )


_NEXT_UPSTREAM = re.compile(r"^(error|timeout|http_(\d{3})|non_idempotent|off)$")


def read_pass(section: Section, entry: Entry, reader: Reader) -> Pass:
    if entry.key == "proxy_pass":
        scheme, sep, name = entry.value.partition("://")
        if not sep or scheme != "http":
            raise reader.fail(
                entry.line, f"proxy_pass = {entry.value!r}", "write proxy_pass = http://UPSTREAM"
            )
        protocol, prefix = Protocol.HTTP, "proxy"
    else:
        name, protocol, prefix = entry.value, Protocol.UWSGI, "uwsgi"
    name = name.rstrip("/")
    if name.startswith("$") and name != BY_HOST:
        raise reader.fail(
            entry.line,
            f"{entry.key} = {entry.value!r}: the only variable is {BY_HOST}",
            f"write {entry.key} = {'http://' if protocol is Protocol.HTTP else ''}{BY_HOST} to "
            "pass to the app servers subscribed under the request's host",
        )
    base = Pass(name)
    retry = Retry(
        tries=read_int(section, "proxy_next_upstream_tries", reader, base.retry.tries),
        timeout=read_time(section, "proxy_next_upstream_timeout", reader, base.retry.timeout),
        budget=min(100, read_int(section, "retry_budget", reader, base.retry.budget)),
        statuses=read_next_upstream(section, reader, base.retry.statuses),
    )
    headers = []
    for item in section.values("proxy_set_header"):
        header, _, value = item.value.partition(" ")
        if not re.fullmatch(r"[A-Za-z0-9-]+", header) or not value.strip():
            raise reader.fail(
                item.line,
                f"proxy_set_header = {item.value!r}",
                "write proxy_set_header = X-Name value",
            )
        headers.append((header.lower(), value.strip()))
    return Pass(
        upstream=name,
        protocol=protocol,
        connect_timeout=read_time(
            section, f"{prefix}_connect_timeout", reader, base.connect_timeout
        ),
        read_timeout=read_time(section, f"{prefix}_read_timeout", reader, base.read_timeout),
        send_timeout=read_time(section, f"{prefix}_send_timeout", reader, base.send_timeout),
        retry=retry,
        set_headers=tuple(headers),
    )


def read_next_upstream(
    section: Section, reader: Reader, default: tuple[int, ...]
) -> tuple[int, ...]:
    entry = section.last("proxy_next_upstream")
    if entry is None:
        return default
    statuses = []
    for word in entry.value.split():
        found = _NEXT_UPSTREAM.match(word)
        if found is None:
            raise reader.fail(
                entry.line,
                f"proxy_next_upstream {word!r}",
                "use error timeout http_502 http_503 http_504",
            )
        if found.group(2):
            statuses.append(int(found.group(2)))
    return tuple(statuses)


def check_passes(
    hosts: tuple[VirtualHost, ...],
    upstreams: tuple[Upstream, ...],
    sections: list[Section],
    reader: Reader,
) -> None:
    names = {pool.name for pool in upstreams}
    for host in hosts:
        for location in host.locations:
            action = location.action
            if isinstance(action, Pass) and not action.by_host and action.upstream not in names:
                line = next(
                    s.line
                    for s in sections
                    if s.kind == "location" and s.label.endswith(location.pattern)
                )
                raise reader.fail(
                    line,
                    f"upstream {action.upstream!r} is not declared",
                    f"add [upstream {action.upstream}] with a server line",
                )
