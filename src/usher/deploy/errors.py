"""The one error a deploy raises: a line naming the host, the cause and the fix."""

from __future__ import annotations

from typing import ClassVar


class DeployError(Exception):
    """A deploy or rollback stopped; `str()` is one line with the cause and the fix.

    The CLI prints it and exits with `exit_status`; configuration mistakes are usher.options'
    `ConfigError` (status 2) instead.
    """

    exit_status: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
