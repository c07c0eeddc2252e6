"""Where the fixture apps live."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DJANGO_PROJECT = FIXTURES / "djangoproject"
FLASK_APP = FIXTURES / "flaskapp" / "app.py"
WSGI_APPS = FIXTURES / "wsgi_apps.py"

# The start_response rules, as (path under WSGI_APPS, status the client must get), checked over
# HTTP and over the uwsgi protocol alike.
START_RESPONSE_RULES = [
    ("/restart?exc=1", 503),  # exc_info: the second status replaces the first
    ("/restart", 500),  # a second call without exc_info is refused
    ("/no-start", 500),  # a body without start_response
]
