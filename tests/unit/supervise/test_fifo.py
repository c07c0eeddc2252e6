"""The master FIFO: reading commands without blocking or spinning, and the command table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usher.master.chain import ChainReload
from usher.master.commands import Commands
from usher.master.lifecycle import Lifecycle
from usher.master.pool import WorkerPool
from usher.options import load_settings
from usher.supervise.fifo import FifoError, MasterFifo
from usher.supervise.reactor import Reactor


def test_commands_arrive_in_order_and_whitespace_is_skipped(tmp_path: Path) -> None:
    reactor = Reactor()
    got: list[str] = []
    fifo = MasterFifo(str(tmp_path / "fifo"), reactor, got.append)
    fifo.open()
    writer = os.open(fifo.path, os.O_WRONLY)
    os.write(writer, b"+++s\n")
    os.close(writer)
    reactor.wait(5)
    assert got == ["+", "+", "+", "s"]
    # The writer is gone, but the master's own writing end keeps the pipe from reading as
    # end-of-file: nothing is ready, so the wait times out instead of spinning.
    reactor.wait(0.05)
    assert got == ["+", "+", "+", "s"]
    fifo.close(unlink=True)
    assert not os.path.exists(fifo.path)


def test_an_existing_fifo_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    fifo = MasterFifo(str(path), Reactor(), lambda command: None)
    fifo.open()
    fifo.close(unlink=False)
    assert path.exists()


def test_a_regular_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    path.write_text("")
    with pytest.raises(FifoError, match="is not a FIFO"):
        MasterFifo(str(path), Reactor(), lambda command: None).open()


def test_a_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FifoError, match="check that the directory exists"):
        MasterFifo(str(tmp_path / "no" / "fifo"), Reactor(), lambda command: None).open()


def test_the_command_table_has_uwsgis_letters() -> None:
    settings = load_settings(["--http-socket", ":0"], {}).settings
    pool = WorkerPool(settings, None, [], in_child=lambda: None)
    lifecycle = Lifecycle()
    chain = ChainReload(settings, pool, lifecycle)
    commands = Commands(settings, pool, lifecycle, chain, figures=lambda: None)
    assert sorted(commands.letters) == sorted("rRqQcwWs+-lL")
