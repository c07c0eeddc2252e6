"""The two forms usher installs in (usher/compiled.py): which one a process runs, and why."""

from __future__ import annotations

import os
import subprocess
import sys

from usher import compiled
from usher.options.environ import read_environ

PROBE = (
    "import usher.compiled as c, usher.protocols.http1 as h, usher.worker.responder as r;"
    "print(c.describe()); print(h.__file__); print(r.__file__)"
)


def probe(**env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k != "USHER_PURE"} | env
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=environ, check=True
    )
    return result.stdout.splitlines()


def test_usher_pure_runs_every_compiled_module_from_its_source() -> None:
    form, http1, responder = probe(USHER_PURE="1")
    if compiled._extension(compiled.LIBRARY) is None:
        assert form.startswith("pure Python: installed without the compiled form")
    else:
        assert form == "pure Python: USHER_PURE is set"
    assert http1.endswith("http1.py") and responder.endswith("responder.py")


def test_without_usher_pure_the_form_installed_runs() -> None:
    form, http1, _ = probe()
    if compiled._extension(compiled.LIBRARY) is None:
        assert form.startswith("pure Python:") and http1.endswith(".py")
    elif form == "compiled":
        assert http1.endswith(".so")
    else:  # a checkout whose sources changed after the build runs them all, and says which
        assert "changed after it was compiled" in form and http1.endswith(".py")


def test_usher_pure_zero_is_not_set() -> None:
    assert probe(USHER_PURE="0")[0] == probe()[0]


def test_the_sources_finder_answers_only_for_compiled_modules() -> None:
    finder = compiled._SourcesFirst()
    spec = finder.find_spec("usher.protocols.http1", None)
    assert spec is not None and spec.origin is not None and spec.origin.endswith("http1.py")
    assert finder.find_spec("usher.options.environ", None) is None
    assert finder.find_spec("json", None) is None


def test_the_form_variables_are_not_read_as_options() -> None:
    found = read_environ({"USHER_PURE": "1", "USHER_BUILD": "pure"})
    assert not found.assignments and not found.notes and not found.refusals
