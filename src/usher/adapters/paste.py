"""paste and paste-logger: a WSGI app built by PasteDeploy from an ini file, as Pyramid and
Pylons projects ship them (`paste = config:production.ini`)."""

from __future__ import annotations

import os

from usher.adapters.base import App


class PasteError(Exception):
    """The paste app could not be loaded; str() is one line with the cause and the fix (the
    loader turns it into its own PasteError, so this module needs nothing from it)."""


INSTALL = "pip install PasteDeploy"


def load_paste(uri: str, *, logger: bool) -> App:
    """`loadapp(uri)` with a config path made absolute (PasteDeploy needs one); with `logger`,
    Python logging is first configured from the same file, as `pserve` does."""
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise PasteError(
            f"paste = {uri} needs PasteDeploy, which is not installed: {INSTALL}"
        ) from None
    scheme, colon, path = uri.partition(":")
    if not colon:
        scheme, path = "config", uri
    if scheme == "config":
        path = os.path.abspath(path)
        if not os.path.isfile(path.partition("#")[0]):
            raise PasteError(f"paste config {path!r} does not exist: fix the paste path or chdir")
        uri = f"config:{path}"
    if logger and scheme == "config":
        _configure_logging(path.partition("#")[0])
    try:
        app: App = loadapp(uri)
    except Exception as exc:
        raise PasteError(f"PasteDeploy could not load {uri}: {type(exc).__name__}: {exc}") from exc
    return app


def _configure_logging(path: str) -> None:
    import logging.config

    defaults = {"here": os.path.dirname(path), "__file__": path}
    try:
        logging.config.fileConfig(path, defaults, disable_existing_loggers=False)
    except (KeyError, RuntimeError) as exc:  # the file has no (or broken) logging sections
        raise PasteError(f"paste-logger: {path} has no usable logging sections: {exc}") from exc
