"""uWSGI's log encoders: `log-encoder` and `log-req-encoder` values turned into functions.

An encoder takes a line and gives back its transformation; a logger's encoders run in the order
given, each on the output of the one before. The kinds real configs use are `nl` (add the
newline), `format TEMPLATE` and `json TEMPLATE`, whose `${...}` placeholders are filled in:
`${msg}` (the line), `${msgnl}` (with its newline), `${unix}`, `${micros}`, `${millis}` and
`${strftime:FORMAT}`; `json` escapes the line for a JSON string. A line with encoders gets no
newline unless `nl` (or a template) adds it, as in uWSGI.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

Encoder = Callable[[str], str]

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class EncoderError(ValueError):
    """An encoder value usher cannot use; the message says why."""


def parse_encoder(value: str) -> tuple[str | None, Encoder]:
    """A `log-encoder` value as (the logger it is for, or None for all; the encoder)."""
    head, _, args = value.partition(" ")
    kind, _, logger = head.partition(":")
    if kind == "nl":
        return logger or None, _newline
    if kind in ("format", "json") and args:
        return logger or None, _template(args, escape=kind == "json")
    raise EncoderError(f"log encoder {value!r}: usher knows nl, format TEMPLATE and json TEMPLATE")


def _newline(line: str) -> str:
    return line + "\n"


def _template(template: str, *, escape: bool) -> Encoder:
    parts = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text

    def encode(line: str) -> str:
        msg = json.dumps(line)[1:-1] if escape else line
        now = time.time()
        out = []
        for index, part in enumerate(parts):
            out.append(part if index % 2 == 0 else _fill(part, msg, now))
        return "".join(out)

    return encode


def _fill(name: str, msg: str, now: float) -> str:
    if name == "msg":
        return msg
    if name == "msgnl":
        return msg + "\n"
    if name == "unix":
        return str(int(now))
    if name == "micros":
        return str(int(now * 1_000_000))
    if name == "millis":
        return str(int(now * 1000))
    if name.startswith("strftime:"):
        return time.strftime(name[len("strftime:") :], time.localtime(now))
    return "${" + name + "}"  # unknown: left as written, so the mistake shows in the log
