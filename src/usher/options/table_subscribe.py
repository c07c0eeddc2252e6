"""The option table's section of uWSGI's subscription system (see usher.options.settings).

An app server announces itself to fronts (`subscribe-to`, `subscribe2`); a front keeps the
announced nodes per key and drops the silent ones (set in `usher front`'s config). The packets are
uWSGI's (usher.protocols.subscription), so usher and uWSGI subscribe to each other's fronts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from usher.options.errors import InvalidValue
from usher.options.groups import SUBSCRIPTIONS
from usher.options.spec import option


def _checked(parse: Callable[[str], object], fix: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        try:
            parse(text)
        except ValueError as exc:
            raise InvalidValue(str(exc), fix) from None

    return check


def _parse_subscribe_to(text: str) -> object:
    from usher.protocols.subscription import parse_subscribe_to

    return parse_subscribe_to(text)


def _parse_subscribe2(text: str) -> object:
    from usher.protocols.subscription import parse_subscribe2

    return parse_subscribe2(text)


@dataclasses.dataclass(frozen=True)
class SubscribeOptions:
    """Announcing this server to fronts. The front's side (its subscription server and
    tolerance) is set in `usher front`'s own config (docs/front-policies.md)."""

    subscribe_to: tuple[str, ...] = option(
        (),
        group=SUBSCRIPTIONS,
        aliases=("st", "subscribe"),
        repeatable=True,
        check=_checked(_parse_subscribe_to, "write e.g. subscribe-to = 127.0.0.1:2626:example.com"),
        metavar="SERVER:KEY[,MODIFIER1]",
        help="Announce this server to the subscription server at SERVER (host:port, UDP) as a "
        "node for KEY (a Host name), every subscribe-freq seconds, from the master once the "
        "workers are ready; the address announced is the first listener's (a wildcard host as "
        "`:PORT`, which the front reads as the sender's address). On stop the master sends "
        "an unsubscribe. Signed subscriptions (a third field) are refused.",
    )
    subscribe2: tuple[str, ...] = option(
        (),
        group=SUBSCRIPTIONS,
        repeatable=True,
        check=_checked(_parse_subscribe2, "write e.g. server=127.0.0.1:2626,key=example.com"),
        metavar="KEY=VALUE,...",
        help="subscribe-to in uWSGI's key=value form: server and key (required), addr (the "
        "address to announce instead of the first listener's), weight, modifier1, modifier2.",
    )
    subscribe_freq: int = option(
        10,
        group=SUBSCRIPTIONS,
        minimum=1,
        metavar="SECONDS",
        help="Seconds between two announces (uWSGI's default, 10).",
    )
    unsubscribe_on_graceful_reload: bool = option(
        False,
        group=SUBSCRIPTIONS,
        help="Send the unsubscribe on a graceful reload too (by default only on stop: a "
        "reloading server keeps its place, since it answers again within the tolerance).",
    )
    weight: int = option(
        1,
        group=SUBSCRIPTIONS,
        minimum=1,
        metavar="N",
        help="The weight this server announces: a front sends it N times the share of a "
        "weight-1 node of the same key.",
    )
