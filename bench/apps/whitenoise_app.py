"""The hello app behind WhiteNoise serving the benchmark's static files under /static/: how a
Django site without nginx serves its static files from gunicorn."""

import os
import tempfile
from pathlib import Path

from hello import application as hello
from whitenoise import WhiteNoise

# bench/scenarios_static.py writes the files here before any server starts.
STATIC_DIR = Path(
    os.environ.get("USHER_BENCH_STATIC", Path(tempfile.gettempdir()) / "usher-bench-static")
)

application = WhiteNoise(hello, root=str(STATIC_DIR), prefix="/static/")
