"""The option table's listeners, app and routing sections (see usher.options.settings)."""

from __future__ import annotations

import dataclasses

from usher.options import values
from usher.options.groups import APP, LISTENERS, ROUTING
from usher.options.spec import option


@dataclasses.dataclass(frozen=True)
class ListenerOptions:
    """Where the server listens."""

    # -- listeners --------------------------------------------------------------------------
    http: tuple[str, ...] = option(
        (),
        aliases=("httprouter",),
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve HTTP/1.1 on this address. usher has no separate router process, so this "
        "is the same as --http-socket.",
    )
    http_socket: tuple[str, ...] = option(
        (),
        aliases=("http11-socket",),
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve HTTP/1.1 on this address (host:port, :port, [::1]:port, a unix socket "
        "path or @abstract-name).",
    )
    socket: tuple[str, ...] = option(
        (),
        aliases=("uwsgi-socket",),
        short="s",
        group=LISTENERS,
        repeatable=True,
        check=values.check_listener,
        metavar="ADDRESS",
        help="Serve the uwsgi binary protocol on this address, for nginx's uwsgi_pass.",
    )
    http_enable_proxy_protocol: bool = option(
        False,
        aliases=("enable-proxy-protocol",),
        group=LISTENERS,
        help="HTTP listeners expect a PROXY protocol header (v1 or v2) before each connection's "
        "first request, as HAProxy send-proxy and cloud load balancers send it: REMOTE_ADDR and "
        "REMOTE_PORT are then the client it names. A connection without one gets 400.",
    )
    chmod_socket: str | None = option(
        None,
        aliases=("chmod",),
        short="C",
        group=LISTENERS,
        flag_only_value="666",
        check=values.check_octal_mode,
        metavar="MODE",
        help="Octal permissions for unix socket listeners.",
    )
    chown_socket: str | None = option(
        None,
        group=LISTENERS,
        check=values.check_owner,
        metavar="USER[:GROUP]",
        help="Owner of unix socket listeners (the group defaults to the user's), set as root "
        "before uid/gid drop privileges: e.g. www-data:www-data for nginx's workers.",
    )
    listen: int = option(
        100,
        short="l",
        group=LISTENERS,
        minimum=1,
        metavar="N",
        help="Accept backlog of each listener; the kernel caps it at net.core.somaxconn.",
    )
    no_defer_accept: bool = option(
        False,
        group=LISTENERS,
        help="Do not set TCP_DEFER_ACCEPT on TCP listeners. By default, as in uWSGI, the kernel "
        "hands a connection to a worker only once its first bytes arrived, or after "
        "socket-timeout seconds.",
    )


@dataclasses.dataclass(frozen=True)
class AppOptions:
    """Which app to load, and how."""

    # -- application ------------------------------------------------------------------------
    chdir: str | None = option(
        None, group=APP, metavar="DIR", help="Change to this directory before loading the app."
    )
    module: str | None = option(
        None,
        aliases=("wsgi",),
        short="w",
        group=APP,
        check=values.check_module,
        metavar="MODULE[:CALLABLE]",
        help="Import the WSGI app from this module: pkg.mod or pkg.mod:callable.",
    )
    wsgi_file: str | None = option(
        None,
        aliases=("file",),
        group=APP,
        metavar="PATH",
        help="Load the WSGI app from this Python file.",
    )
    callable: str = option(
        "application",
        group=APP,
        check=values.check_identifier,
        metavar="NAME",
        help="Name of the WSGI callable in the module or file.",
    )
    interface: str = option(
        "auto",
        group=APP,
        check=values.check_interface,
        metavar="auto|wsgi|asgi",
        help="How to call the app: wsgi, asgi (ASGI 3, as a task on the worker's event loop), or "
        "auto (asgi when the callable is a coroutine function, else wsgi). usher's own option.",
    )
    home: str | None = option(
        None,
        aliases=("virtualenv", "venv", "pyhome"),
        short="H",
        group=APP,
        metavar="DIR",
        help="Virtualenv whose site-packages the app imports from.",
    )
    pythonpath: tuple[str, ...] = option(
        (),
        aliases=("python-path", "pp"),
        group=APP,
        repeatable=True,
        metavar="DIR",
        help="Add this directory to sys.path before loading the app.",
    )
    env: tuple[str, ...] = option(
        (),
        group=APP,
        repeatable=True,
        check=values.check_env_pair,
        metavar="KEY=VALUE",
        help="Set this environment variable before loading the app.",
    )


@dataclasses.dataclass(frozen=True)
class RoutingOptions:
    """Mounts, internal routes and response headers."""

    # -- mounts, routes and headers ---------------------------------------------------------
    mount: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_mount,
        metavar="/PREFIX=APP",
        help="Serve another app under this URL prefix: APP is a module (pkg.wsgi, pkg.wsgi:app) "
        "or a .py file, loaded in each worker. The longest matching prefix wins.",
    )
    manage_script_name: bool = option(
        False,
        group=ROUTING,
        help="Pick the mount by PATH_INFO's prefix and move that prefix to SCRIPT_NAME (without "
        "it, as in uWSGI, the mount is chosen by the SCRIPT_NAME the front server sends).",
    )
    no_default_app: bool = option(
        False,
        group=ROUTING,
        help="Answer 404 to a request that matches no mount, instead of giving it to the app.",
    )
    route: tuple[str, ...] = option(
        (),
        aliases=(
            "route-uri",
            "route-host",
            "route-qs",
            "route-remote-addr",
            "route-user-agent",
            "route-referer",
            "route-remote-user",
            "route-if",
            "route-if-not",
        ),
        group=ROUTING,
        repeatable=True,
        tagged=True,
        metavar="REGEXP ACTION",
        help="uWSGI internal routing, before the app: when the regexp matches PATH_INFO "
        "(REQUEST_URI for route-uri, HTTP_HOST for route-host...) or the route-if condition "
        "(equal:A;B, startswith:A;B, regexp:A;B, empty:A, with ${VAR}) holds, run the action: "
        "donotlog, redirect, redirect-permanent, addheader, delheader, setvar/addvar, rewrite, "
        "rewrite-last, break[:STATUS], return:STATUS, continue, last. Rules run in order.",
    )
    response_route: tuple[str, ...] = option(
        (),
        aliases=(
            "response-route-uri",
            "response-route-host",
            "response-route-qs",
            "response-route-status",
            "response-route-if",
            "response-route-if-not",
        ),
        group=ROUTING,
        repeatable=True,
        tagged=True,
        metavar="REGEXP ACTION",
        help="Routing rules run when the app starts its response: the same subjects and "
        "conditions as route (response-route-status matches the status code; ${uwsgi[status]} "
        "and collect-header's variables are set), with the actions addheader, delheader, "
        "donotlog, continue, last and break.",
    )
    add_header: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_header_line,
        metavar="NAME: VALUE",
        help="Add this header to every response.",
    )
    del_header: tuple[str, ...] = option(
        (),
        aliases=("rem-header",),
        group=ROUTING,
        repeatable=True,
        metavar="NAME",
        help="Remove this header (any case) from every response the app gives.",
    )
    collect_header: tuple[str, ...] = option(
        (),
        group=ROUTING,
        repeatable=True,
        check=values.check_collect_header,
        metavar="HEADER VAR",
        help="Store the value of the app's response header HEADER in the request variable VAR, "
        "which response-route rules read as ${VAR}.",
    )
