"""Privileges: the user and group the server runs as (uid, gid), the socket owner (chown-socket),
and what the new user must be able to read once root is gone.

uWSGI's order is kept: listeners are bound and chowned, the pidfile is written, then privileges
drop. A re-executed master (a graceful reload) already runs as the user, so dropping again is not
an error: it is a no-op when the ids already match.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


class PrivilegeError(Exception):
    """uid/gid/chown-socket cannot be applied; str() is one line with the cause and the fix."""


@dataclass(frozen=True, slots=True)
class Account:
    """A resolved user and group: ids, and the user's name for messages."""

    uid: int | None
    gid: int | None
    name: str


def resolve(uid: str | None, gid: str | None) -> Account:
    """Look the user and group up (names or numbers); the group defaults to the user's own."""
    import pwd  # only with uid/gid: not worth its memory in every worker

    user = None
    if uid:
        try:
            user = pwd.getpwuid(int(uid)) if uid.isdigit() else pwd.getpwnam(uid)
        except KeyError:
            if not uid.isdigit():
                raise PrivilegeError(f"no such user {uid!r}: fix uid (see getent passwd)") from None
    try:
        group = _group_id(gid, user.pw_gid if user else None)
    except KeyError:
        raise PrivilegeError(f"no such group {gid!r}: fix gid (see getent group)") from None
    number = user.pw_uid if user else (int(uid) if uid else None)
    name = user.pw_name if user else (f"uid {uid}" if uid else f"group {gid}")
    return Account(number, group, name)


def _group_id(gid: str | None, default: int | None) -> int | None:
    import grp

    if not gid:
        return default
    return int(gid) if gid.isdigit() else grp.getgrnam(gid).gr_gid


def drop(uid: str | None, gid: str | None) -> Account | None:
    """Become `uid`/`gid` (None when neither is set). Already being them is fine: that is how a
    re-executed master starts."""
    if not (uid or gid):
        return None
    account = resolve(uid, gid)
    if _already(account):
        return account
    try:
        if account.gid is not None:
            os.setgroups([account.gid])
            os.setgid(account.gid)
        if account.uid is not None:
            os.setuid(account.uid)
    except PermissionError as exc:
        raise PrivilegeError(
            "uid/gid can only be changed when usher starts as root: drop those options or start as root"
        ) from exc
    return account


def _already(account: Account) -> bool:
    return (account.uid is None or os.getuid() == account.uid) and (
        account.gid is None or os.getgid() == account.gid
    )


def chown_socket(path: str, owner: str) -> None:
    """chown-socket = user[:group], as uWSGI: the group defaults to the user's own group."""
    user, _, group = owner.partition(":")
    account = resolve(user or None, group or None)
    try:
        os.chown(
            path,
            -1 if account.uid is None else account.uid,
            -1 if account.gid is None else account.gid,
        )
    except PermissionError as exc:
        raise PrivilegeError(
            f"cannot chown-socket {path} to {owner}: only root can give a file away (start as root, or drop chown-socket)"
        ) from exc


def unreadable(account: Account, places: list[tuple[str, str]]) -> str | None:
    """After dropping privileges: the first of `places` ((what, path)) the user cannot reach, as
    one line naming the path, the user and the fix; None when every one is readable."""
    for what, path in places:
        blocked = _first_blocked(path)
        if blocked is not None:
            return (
                f"user {account.name} cannot read {path} (the {what}): {blocked} is closed to it; "
                f"give it access (e.g. chmod o+rx {blocked}) or install the {what} where "
                f"{account.name} can read it"
            )
    return None


def _first_blocked(path: str) -> str | None:
    """The first directory on the way to `path` (or `path` itself) this process cannot enter or
    read; None when it can."""
    full = os.path.abspath(path)
    parts = full.split(os.sep)
    for depth in range(2, len(parts) + 1):
        step = os.sep.join(parts[:depth]) or os.sep
        if not os.path.exists(step) and not os.path.islink(step):
            return None  # a missing path is reported by whatever needs it, with its own fix
        mode = os.R_OK | (os.X_OK if os.path.isdir(step) else 0)
        if not os.access(step, mode if step == full else os.X_OK):
            return step
    return None


def runtime_places(chdir: str | None, home: str | None) -> list[tuple[str, str]]:
    """What a worker must read: the interpreter's standard library, the app's directory and the
    virtualenv."""
    places = [("interpreter", os.path.dirname(os.__file__)), ("interpreter", sys.executable)]
    places.append(("app directory", chdir or os.getcwd()))
    if home:
        places.append(("virtualenv", home))
    return places
