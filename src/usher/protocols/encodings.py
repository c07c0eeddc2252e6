"""Accept-Encoding (RFC 9110 12.5.3), pure: which content codings a client takes."""

from __future__ import annotations

# Longer values are not parsed: browsers send about 30 bytes.
_HEADER_MAX = 512


def accepted_codings(header: str | None, offered: tuple[str, ...]) -> tuple[str, ...]:
    """The codings of `offered` (lower-case) that `header` accepts, in `offered`'s order. A
    coding is accepted when it is listed, or `*` is, with a q-value above 0; `identity` is not
    a coding here. No header accepts none (a precompressed file is then not sent)."""
    if not header or len(header) > _HEADER_MAX:
        return ()
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weights[name] = _quality(params)
    star = weights.get("*", 0.0)
    return tuple(c for c in offered if weights.get(c, star) > 0)


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0
