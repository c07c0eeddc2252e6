"""Where the fixture apps live."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DJANGO_PROJECT = FIXTURES / "djangoproject"
FLASK_APP = FIXTURES / "flaskapp" / "app.py"
WSGI_APPS = FIXTURES / "wsgi_apps.py"
