"""Helpers shared by the operations tests (test_ops_*.py): the ops fixture app, stats readers,
the master FIFO, and the systemd notifications a test waits on instead of sleeping."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Callable
from typing import Any

from tests.support.http import TIMEOUT, get
from tests.support.paths import FIXTURES
from tests.support.server import ServerProcess

OPS_APP = FIXTURES / "ops_app.py"


def read_stats(address: tuple[str, int] | str) -> dict[str, Any]:
    """One stats document from a raw stats socket (TCP or unix path)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(address)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    document: dict[str, Any] = json.loads(b"".join(chunks))
    return document


def workers_by_id(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {worker["id"]: worker for worker in document["workers"]}


def worker_pid(address: tuple[str, int]) -> int:
    """The pid of the worker that answers one /pid request."""
    response = get(address, "/pid")
    assert response.status == 200, response
    return int(response.body)


def fifo_command(path: str, commands: str) -> None:
    """Write commands to the master FIFO (opening for writing blocks until the master reads it;
    the master always holds it open, so this returns at once)."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, commands.encode())
    finally:
        os.close(fd)


def expect_status(server: ServerProcess, text: str, timeout: float = 20.0) -> str:
    """Wait for a notification containing `text` that arrived after the last `forget_notices`."""
    server.wait_notification(text, timeout)
    return next(note for note in server.notifications if text in note)


def forget_notices(server: ServerProcess) -> None:
    """Drop the notifications received so far, so the next wait sees only new ones."""
    server.drain_notifications()
    server.notifications.clear()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for `check()` to hold. Counters reach the scoreboard once a second by design, so a
    reader must wait for that refresh; this re-checks within a bound instead of guessing a delay."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        select.select([], [], [], 0.05)
