#!/usr/bin/env bash
# Serve the bundled Django demo (tests/fixtures/djangoproject) with usher on http://localhost:8000.
# Creates .venv on first run, installs usher (editable) from this checkout plus Django, and migrates the
# demo's SQLite database (DJANGO_DB_PATH, by default next to the project; *.sqlite3 is ignored).
set -euo pipefail

cd "$(dirname "$0")/.."
project=tests/fixtures/djangoproject

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# Editable, as scripts/setup installs it, so the first run builds (and compiles) usher once and
# later runs serve this checkout's sources as they are.
if ! .venv/bin/python -c "import usher, django" 2>/dev/null; then
    .venv/bin/pip install --quiet --upgrade pip "setuptools>=77"
    .venv/bin/pip install --quiet -e . django
fi

export DJANGO_DB_PATH="${DJANGO_DB_PATH:-$PWD/$project/db.sqlite3}"
(cd "$project" && ../../../.venv/bin/python manage.py migrate --noinput -v 0)

exec .venv/bin/usher --http :8000 --chdir "$project" --module mysite.wsgi --master --processes 2
