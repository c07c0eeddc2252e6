"""What an attached daemon is, read from attach-daemon, attach-daemon2 and smart-attach-daemon.

Pure parsing: text in, a `DaemonSpec` out, or ValueError with the fix. The master's sidecars
(usher.master.sidecars) start, watch and stop the daemons.

attach-daemon2 takes uWSGI's `key=value,key=value` form. The keys usher acts on are `cmd`
(also `command`, `exec`), `pidfile`, `stopsignal` (also `stop_signal`), `reloadsignal` (also
`reload_signal`), `control` and `daemonize`; `freq`, `touch`, `stdin`, `uid`, `gid`, `ns_pid`
and `stopsignal`'s siblings in newer uWSGI are accepted and ignored (`IGNORED_KEYS`), since the
master's respawn backoff already bounds how often a daemon restarts.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

IGNORED_KEYS = frozenset({"freq", "touch", "stdin", "uid", "gid", "ns_pid", "honour_stdin"})
_COMMAND_KEYS = ("cmd", "command", "exec")
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class DaemonSpec:
    """One daemon: its shell command, and how the master watches and stops it."""

    command: str
    pidfile: str | None = None  # set: the daemon writes its pid there, the master watches it
    stop_signal: int = signal.SIGTERM
    # Sent on a reload instead of a restart: the daemon survives a reload of the workers, and
    # with a pidfile any reload (a re-executed master can only find a daemon by its pidfile).
    reload_signal: int | None = None
    control: bool = False  # the server stops when this daemon dies

    @property
    def smart(self) -> bool:
        """Watched through its pidfile (and so kept across reloads)."""
        return self.pidfile is not None


def parse_attach_daemon(text: str) -> DaemonSpec:
    """attach-daemon: the whole value is the command."""
    if not text.strip():
        raise ValueError("attach-daemon needs a command")
    return DaemonSpec(text.strip())


def parse_smart_attach_daemon(text: str) -> DaemonSpec:
    """smart-attach-daemon: `PIDFILE COMMAND`."""
    pidfile, _, command = text.strip().partition(" ")
    if not pidfile or not command.strip():
        raise ValueError(
            f"{text!r}: write the pidfile the daemon writes, then its command "
            "(smart-attach-daemon = /run/app/celery.pid celery -A app worker --pidfile ...)"
        )
    return DaemonSpec(command.strip(), pidfile=pidfile)


def parse_attach_daemon2(text: str) -> DaemonSpec:
    """attach-daemon2: uWSGI's keyval form; unknown keys are an error naming the known ones."""
    pairs = _keyvals(text)
    command = next((pairs[key] for key in _COMMAND_KEYS if key in pairs), "")
    if not command.strip():
        raise ValueError(f"{text!r} has no cmd= key")
    unknown = set(pairs) - set(_COMMAND_KEYS) - IGNORED_KEYS - _KNOWN
    if unknown:
        raise ValueError(
            f"attach-daemon2 key {sorted(unknown)[0]!r} is not known; usher reads "
            f"{', '.join(sorted(_KNOWN | set(_COMMAND_KEYS)))} (and ignores "
            f"{', '.join(sorted(IGNORED_KEYS))})"
        )
    stop = _pick(pairs, "stopsignal", "stop_signal")
    reload = _pick(pairs, "reloadsignal", "reload_signal")
    return DaemonSpec(
        command.strip(),
        pidfile=pairs.get("pidfile") or None,
        stop_signal=parse_signal(stop) if stop else signal.SIGTERM,
        reload_signal=parse_signal(reload) if reload else None,
        control=pairs.get("control", "").lower() in _TRUE,
    )


_KNOWN = frozenset(
    {"pidfile", "stopsignal", "stop_signal", "reloadsignal", "reload_signal", "control"}
    | {"daemonize", "daemon"}
)


def _pick(pairs: dict[str, str], *keys: str) -> str:
    return next((pairs[key] for key in keys if key in pairs), "")


def _keyvals(text: str) -> dict[str, str]:
    # uWSGI splits on commas; a command with commas in it needs the `cmd` key last, so the rest
    # of the line after `cmd=` is kept whole as the command.
    pairs: dict[str, str] = {}
    rest = text.strip()
    while rest:
        key, equals, rest = rest.partition("=")
        key = key.strip().lower()
        if not equals or not key:
            raise ValueError(f"{text!r}: write key=value pairs separated by commas")
        if key in _COMMAND_KEYS and not _has_key_after(rest):
            pairs[key], rest = rest, ""
            break
        value, _, rest = rest.partition(",")
        pairs[key] = value.strip()
    return pairs


def _has_key_after(rest: str) -> bool:
    """Whether a later `,key=` of a known key follows (then the command ends at the comma)."""
    known = _KNOWN | IGNORED_KEYS | set(_COMMAND_KEYS)
    for piece in rest.split(",")[1:]:
        if piece.partition("=")[0].strip().lower() in known and "=" in piece:
            return True
    return False


def parse_signal(text: str) -> int:
    """A signal by number (15) or name (TERM, SIGTERM)."""
    word = text.strip().upper()
    if word.isdigit():
        return int(word)
    name = word if word.startswith("SIG") else f"SIG{word}"
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(
            f"{text!r} is not a signal: write a number (15) or a name (TERM)"
        ) from None
