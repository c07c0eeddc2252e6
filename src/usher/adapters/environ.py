"""The WSGI environ (PEP 3333) of a request, from an HTTP request's head or a uwsgi packet's
variables, over a listener's base environ built once."""

from __future__ import annotations

from typing import Any, Final

from usher.adapters.body import RequestBody
from usher.protocols.events import Request, unescaped_path

# Header names are turned into environ keys once per distinct name. Clients choose names, so the
# cache is capped: past it names are converted per request instead of growing memory.
_HEADER_KEYS: Final[dict[bytes, str]] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_HEADER_KEYS_CAP: Final = 512

# SERVER_PROTOCOL of the versions the HTTP codec passes: a lookup, not a new string per request.
_PROTOCOLS: Final = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}


def _environ_key(name: bytes) -> str:
    key = _HEADER_KEYS.get(name)
    if key is None:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(_HEADER_KEYS) < _HEADER_KEYS_CAP:
            _HEADER_KEYS[name] = key
    return key


def http_environ(
    base: dict[str, Any], request: Request, peer: tuple[str, str], body: RequestBody
) -> dict[str, Any]:
    """Environ for a request that arrived over HTTP; `body` is its wsgi.input."""
    environ = base.copy()
    path = request.path
    query = request.query
    environ["REQUEST_METHOD"] = request.method
    # Most paths have no escape and most requests no query: then one string serves as both
    # PATH_INFO and REQUEST_URI, decoded once.
    text = path.decode("latin-1")
    unescaped = unescaped_path(path)
    environ["PATH_INFO"] = text if unescaped is path else unescaped.decode("latin-1")
    if query:
        environ["QUERY_STRING"] = query_text = query.decode("latin-1")
        environ["REQUEST_URI"] = text + "?" + query_text
    else:
        environ["QUERY_STRING"] = ""
        environ["REQUEST_URI"] = text
    environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(request.http_version) or (
        "HTTP/" + request.http_version
    )
    environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = peer
    environ["wsgi.input"] = body
    keys = _HEADER_KEYS
    for name, value in request.headers:
        # A known name costs a lookup, no call: every request has a few headers, wrk's one.
        key = keys.get(name) or _environ_key(name)
        text = value.decode("latin-1")
        if key in environ and key.startswith("HTTP_"):
            # Repeated headers are one comma-separated value, except cookies (RFC 6265).
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
        environ[key] = text
    if request.chunked:
        # A chunked body has no Content-Length header; the app still needs to know its size.
        environ["CONTENT_LENGTH"] = str(body.length)
    return environ


def uwsgi_environ(base: dict[str, Any], variables: dict[str, str], body: Any) -> dict[str, Any]:
    """Environ for a uwsgi-protocol request: the front server's vars, completed for PEP 3333;
    `body` is its wsgi.input."""
    environ = base.copy()
    environ.update(variables)
    environ["wsgi.input"] = body
    https = variables.get("HTTPS")
    if (https and https.lower() in ("on", "1")) or variables.get("REQUEST_SCHEME") == "https":
        environ["wsgi.url_scheme"] = "https"
    # Filled in only when the front server left them out (nginx's uwsgi_params sends all three).
    if "PATH_INFO" not in variables:
        uri = variables.get("REQUEST_URI", "")
        environ["PATH_INFO"] = uri.partition("?")[0]
    if "QUERY_STRING" not in variables:
        environ["QUERY_STRING"] = variables.get("REQUEST_URI", "").partition("?")[2]
    if "SERVER_PROTOCOL" not in variables:
        environ["SERVER_PROTOCOL"] = "HTTP/1.0"
    # nginx passes every request header as an HTTP_ variable too, Content-Type and
    # Content-Length included, beside uwsgi_params' CONTENT_TYPE and CONTENT_LENGTH: PEP 3333
    # (and wsgiref.validate) forbids the HTTP_ forms. Two lookups on a bodiless request.
    if "HTTP_CONTENT_TYPE" in variables:
        _unprefix(environ, variables, "CONTENT_TYPE")
    if "HTTP_CONTENT_LENGTH" in variables:
        _unprefix(environ, variables, "CONTENT_LENGTH")
    # nginx sends CONTENT_TYPE/CONTENT_LENGTH even when empty; PEP 3333 lets them be absent.
    if variables.get("CONTENT_TYPE") == "":
        del environ["CONTENT_TYPE"]
    if variables.get("CONTENT_LENGTH") == "":
        del environ["CONTENT_LENGTH"]
    return environ


def _unprefix(environ: dict[str, Any], variables: dict[str, str], key: str) -> None:
    """Drop HTTP_<key>; a front that sent only that form gets it under `key`."""
    value = environ.pop("HTTP_" + key)
    if key not in variables:
        environ[key] = value
