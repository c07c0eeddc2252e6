"""usher: a maintained, uWSGI-compatible application server for Python web apps."""

from usher import compiled as _compiled

__version__ = "0.1.0"

# Before any other usher module is imported: the compiled request path, or its sources
# (usher/compiled.py says when and why).
_compiled.choose()
