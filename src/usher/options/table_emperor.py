"""The option table's section of the emperor: a folder of config files, one server each
(usher.emperor), and the idle stop a vassal started on demand uses (see usher.options.settings)."""

from __future__ import annotations

import dataclasses

from usher.options.groups import EMPEROR
from usher.options.spec import option


@dataclasses.dataclass(frozen=True)
class EmperorOptions:
    """uWSGI's emperor: `emperor = DIR` (or a glob) runs one usher per config file found there."""

    emperor: tuple[str, ...] = option(
        (),
        group=EMPEROR,
        repeatable=True,
        metavar="DIR|GLOB",
        help="Run as an emperor: one server (vassal) per *.ini, *.json or *.xml file in DIR, or "
        "per file matching GLOB. A new file starts one, a touched file reloads it gracefully, a "
        "removed file stops it. Other sources (zmq://, amqp://, databases) are refused. The "
        "same as `usher emperor DIR`.",
    )
    emperor_freq: int = option(
        3,
        group=EMPEROR,
        minimum=1,
        metavar="SECONDS",
        help="Look at the vassals' files this often (their mtime, with stat).",
    )
    emperor_tyrant: bool = option(
        False,
        group=EMPEROR,
        help="Run each vassal as the owner (uid and gid) of its config file; files owned by "
        "root are refused. The emperor must run as root.",
    )
    emperor_stats: str | None = option(
        None,
        group=EMPEROR,
        aliases=("emperor-stats-server",),
        metavar="ADDRESS",
        help="Serve the emperor's stats as JSON (uWSGI's emperor layout: the vassals with pid, "
        "born, last_mod, respawns, ready...) on this TCP address or unix socket; read by "
        "uwsgitop and `usher top`.",
    )
    vassals_include: tuple[str, ...] = option(
        (),
        group=EMPEROR,
        repeatable=True,
        metavar="FILE",
        help="Load this config file in every vassal, after the vassal's own file.",
    )
    vassals_set: tuple[str, ...] = option(
        (),
        group=EMPEROR,
        aliases=("vassal-set",),
        repeatable=True,
        metavar="KEY=VALUE",
        help="Set this option in every vassal, as `--set KEY=VALUE` on its command line.",
    )
    emperor_on_demand_directory: str | None = option(
        None,
        group=EMPEROR,
        aliases=("emperor-on-demand-dir",),
        metavar="DIR",
        help="Start vassals on demand: the emperor binds DIR/<name>.socket (name: the config "
        "file's name without extension), starts the vassal at the first connection and hands "
        "it the socket.",
    )
    emperor_on_demand_extension: str | None = option(
        None,
        group=EMPEROR,
        aliases=("emperor-on-demand-ext",),
        metavar="EXT",
        help="Start vassals on demand at the address written in the file next to the config "
        "named <config file>EXT (e.g. app.ini.socket).",
    )
    idle: int | None = option(
        None,
        group=EMPEROR,
        minimum=1,
        metavar="SECONDS",
        help="With die-on-idle: the server stops (exit status 0) after this many seconds "
        "without a request; a vassal started on demand starts again at the next connection.",
    )
    die_on_idle: bool = option(
        False,
        group=EMPEROR,
        help="Stop the server when it has been idle for `idle` seconds.",
    )
