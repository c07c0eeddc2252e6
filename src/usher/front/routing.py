"""Which virtual host and which location serve a request: nginx's rules, as pure functions.

A virtual host is chosen by the Host header (port and case ignored) among the hosts listening
where the request arrived: an exact name, then a leading wildcard (`*.example.com`), then a
trailing one (`www.*`), then the listener's default server (marked `default_server`, or the first).

A location, as in nginx: an exact (`=`) match wins at once; otherwise the longest matching prefix
is remembered, and wins if it is marked `^~`; otherwise the regexes (`~`, `~*`) are tried in file
order and the first that matches wins; otherwise the longest prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from usher.front.model import Location, Match, VirtualHost


def host_name(value: bytes) -> str:
    """The name in a Host header, lower-case, without its port."""
    text = value.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text.partition("]")[0] + "]"
    return text.partition(":")[0].rstrip(".")


def subscription_keys(value: bytes) -> tuple[str, ...]:
    """The subscription keys a Host header names, most specific first: uWSGI's routers look the
    Host up as sent, so a node may subscribe as `example.com:8000`; the name alone comes next, so
    that `example.com` serves on every port. Lower-cased, as keys are kept."""
    text = value.decode("latin-1").strip().lower()
    name = host_name(value)
    if text != name and text.rstrip(".") != name:
        return (text, name)
    return (name,) if name else ()


def choose_host(hosts: Sequence[VirtualHost], name: str) -> VirtualHost:
    """The virtual host for a request to `name` among those on one listener (never empty)."""
    for host in hosts:
        if name in host.server_name:
            return host
    for host in hosts:
        for pattern in host.server_name:
            if pattern.startswith("*.") and name.endswith(pattern[1:]):
                return host
            if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
                return host
    for host in hosts:
        for pattern in host.server_name:
            if pattern.endswith(".*") and name.startswith(pattern[:-1]):
                return host
    for host in hosts:
        if host.default_server:
            return host
    return hosts[0]


def choose_location(locations: Sequence[Location], path: str) -> Location | None:
    """The location serving the decoded `path`, or None (a 404)."""
    longest: Location | None = None
    for location in locations:
        match = location.match
        if match is Match.EXACT:
            if path == location.pattern:
                return location
        elif (
            match in (Match.PREFIX, Match.PREFIX_NO_REGEX)
            and path.startswith(location.pattern)
            and (longest is None or len(location.pattern) > len(longest.pattern))
        ):
            longest = location
    if longest is not None and longest.match is Match.PREFIX_NO_REGEX:
        return longest
    for location in locations:
        if location.regex is not None and location.regex.search(path) is not None:
            return location
    return longest


def decoded_path(raw: bytes) -> str | None:
    """The request path percent-decoded with its dot segments resolved, as nginx matches
    locations; None when it climbs above the root (a 400)."""
    text = raw.decode("latin-1")
    if "%" not in text and "/." not in text and "//" not in text:
        return text  # nothing to decode or resolve: most paths
    text = unquote(text, encoding="latin-1")
    if "\x00" in text:
        return None
    parts: list[str] = []
    for part in text.split("/")[1:]:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    path = "/" + "/".join(parts)
    return path
