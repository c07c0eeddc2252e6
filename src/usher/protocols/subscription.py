"""uWSGI's subscription packets: an app server announcing itself to a front, over UDP.

A subscription is one datagram holding one uwsgi packet: the 4-byte header with ``modifier1``
224 and ``modifier2`` the command (0 subscribe, 1 unsubscribe), then a block of uwsgi variables:

- ``key``: what the node serves (a Host name for the fastrouter and the HTTP router);
- ``address``: where the front reaches it (``host:port``, or a unix socket path);
- ``modifier1``, ``modifier2``: the uwsgi modifiers requests to it carry (decimal text);
- ``cores``: processes times threads; ``load``: requests in progress; ``weight`` (0 means 1);
- ``unix`` and ``sign``: the time and RSA signature of signed subscriptions; other variables of
  newer uWSGI (``notify``, ``backup``, ``proto``, ``sni_*``, ...) are kept as ``extra``.

uWSGI sends a subscription every ``subscribe-freq`` seconds (10 by default); a front drops a node
silent for ``subscription-tolerance`` seconds (17 by default). A front does not answer.

Rules of this codec: a datagram that is not a whole uwsgi packet of modifier 224, has an unknown
command, or lacks ``key`` or ``address``, is refused with a `SubscriptionError` naming why (a
front logs it and reads on: a stray datagram must never stop it). Keys longer than 255 bytes are
refused, as uWSGI refuses them (its slot table stores a one-byte length).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from usher.protocols.uwsgi import decode_vars

MODIFIER_SUBSCRIPTION = 224
SUBSCRIBE = 0
UNSUBSCRIBE = 1

# uWSGI stores keys and addresses with a one-byte length and drops longer ones.
MAX_KEY = 0xFF
MAX_ADDRESS = 0xFF
_MAX_FIELD = 0xFFFF
_KNOWN = frozenset({"key", "address", "modifier1", "modifier2", "cores", "load", "weight"})


class SubscriptionError(ValueError):
    """A datagram that is not a valid subscription packet."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscribe or unsubscribe request."""

    key: str
    address: str
    modifier1: int = 0
    modifier2: int = 0
    cores: int = 0
    load: int = 0
    weight: int = 1
    unsubscribe: bool = False
    extra: tuple[tuple[str, str], ...] = field(default=())


def encode_subscription(sub: Subscription) -> bytes:
    """The datagram of `sub`, with the variables in uWSGI's order."""
    pairs = [
        ("key", sub.key),
        ("address", sub.address),
        ("modifier1", str(sub.modifier1)),
        ("modifier2", str(sub.modifier2)),
        ("cores", str(sub.cores)),
        ("load", str(sub.load)),
        ("weight", str(sub.weight)),
        *sub.extra,
    ]
    parts: list[bytes] = []
    for name, value in pairs:
        for text in (name, value):
            raw = text.encode("latin-1")
            if len(raw) > _MAX_FIELD:
                raise SubscriptionError(f"{name!r} of {len(raw)} bytes does not fit a uwsgi field")
            parts += (len(raw).to_bytes(2, "little"), raw)
    block = b"".join(parts)
    if len(block) > _MAX_FIELD:
        raise SubscriptionError(f"a subscription of {len(block)} bytes does not fit a packet")
    command = UNSUBSCRIBE if sub.unsubscribe else SUBSCRIBE
    return (
        bytes((MODIFIER_SUBSCRIPTION,))
        + len(block).to_bytes(2, "little")
        + bytes((command,))
        + block
    )


def decode_subscription(datagram: bytes) -> Subscription:
    """The subscription a datagram carries; SubscriptionError when it carries none."""
    if len(datagram) < 4:
        raise SubscriptionError(f"{len(datagram)} bytes are shorter than a uwsgi header")
    if datagram[0] != MODIFIER_SUBSCRIPTION:
        raise SubscriptionError(f"modifier1 {datagram[0]} is not a subscription (224)")
    size = datagram[1] | datagram[2] << 8
    if size != len(datagram) - 4:
        raise SubscriptionError(f"the header says {size} bytes, {len(datagram) - 4} came")
    command = datagram[3]
    if command not in (SUBSCRIBE, UNSUBSCRIBE):
        raise SubscriptionError(f"unknown subscription command (modifier2) {command}")
    try:
        variables = decode_vars(datagram[4:])
    except ValueError as exc:
        raise SubscriptionError(str(exc)) from None
    key, address = variables.get("key", ""), variables.get("address", "")
    if not key or not address:
        raise SubscriptionError("a subscription needs both a key and an address")
    if len(key) > MAX_KEY or len(address) > MAX_ADDRESS:
        raise SubscriptionError("a key or an address is longer than 255 bytes")
    return Subscription(
        key=key,
        address=address,
        modifier1=_number(variables, "modifier1", 0),
        modifier2=_number(variables, "modifier2", 0),
        cores=_number(variables, "cores", 0),
        load=_number(variables, "load", 0),
        weight=_number(variables, "weight", 0) or 1,  # uWSGI: a weight of 0 counts as 1
        unsubscribe=command == UNSUBSCRIBE,
        extra=tuple((k, v) for k, v in variables.items() if k not in _KNOWN),
    )


def _number(variables: dict[str, str], name: str, default: int) -> int:
    # uWSGI reads these with atoi-like parsing: leading digits count, anything else is 0.
    text = variables.get(name, "")
    digits = len(text) - len(text.lstrip("0123456789"))
    return int(text[:digits]) if digits else default


def parse_subscribe_to(value: str) -> tuple[str, str, int]:
    """`subscribe-to = SERVER:KEY[,MODIFIER1[,SIGN]]` as (server, key, modifier1).

    SERVER is `host:port` (the key starts after its second colon) or a unix socket path
    (starting with `/`, up to its first colon). A signing spec is refused by the option check."""
    if value.startswith("/"):
        server, sep, rest = value.partition(":")
    else:
        host, sep1, after = value.partition(":")
        port, sep, rest = after.partition(":")
        server = f"{host}:{port}"
        sep = sep if sep1 else ""
    if not sep or not rest:
        raise SubscriptionError(f"expected SERVER:KEY, got {value!r}")
    key, _, tail = rest.partition(",")
    modifier_text, _, sign = tail.partition(",")
    if sign:
        raise SubscriptionError("signed subscriptions are not supported")
    modifier1 = int(modifier_text) if modifier_text.isdigit() else 0
    if modifier_text and not modifier_text.isdigit():
        raise SubscriptionError(f"modifier1 must be a number, got {modifier_text!r}")
    if not key or len(key) > MAX_KEY:
        raise SubscriptionError(f"a subscription key is 1 to 255 bytes, got {key!r}")
    return server, key, modifier1


@dataclass(frozen=True, slots=True)
class Subscribe2:
    """`subscribe2 = key=...,server=...[,addr=...][,weight=...][,modifier1=...][,modifier2=...]`."""

    server: str
    key: str
    addr: str = ""  # empty: the server's first listener
    weight: int = 0  # 0: the server's `weight` option
    modifier1: int = 0
    modifier2: int = 0


_SUBSCRIBE2_KEYS = frozenset({"server", "key", "addr", "weight", "modifier1", "modifier2"})


def parse_subscribe2(value: str) -> Subscribe2:
    """Parse uWSGI's key=value form; `sign`, `check`, `socket` and unknown keys are refused."""
    items: dict[str, str] = {}
    for part in value.split(","):
        name, sep, item = part.partition("=")
        name = name.strip()
        if not sep or name not in _SUBSCRIBE2_KEYS:
            raise SubscriptionError(f"subscribe2 knows {sorted(_SUBSCRIBE2_KEYS)}, got {part!r}")
        items[name] = item.strip()
    if not items.get("server") or not items.get("key"):
        raise SubscriptionError("subscribe2 needs server= and key=")
    numbers = {}
    for name in ("weight", "modifier1", "modifier2"):
        text = items.get(name, "0") or "0"
        if not text.isdigit():
            raise SubscriptionError(f"subscribe2 {name} must be a number, got {text!r}")
        numbers[name] = int(text)
    return Subscribe2(items["server"], items["key"], items.get("addr", ""), **numbers)
