"""`python -m usher` runs the same entry point as the `usher` command."""

import sys

from usher.cli import main

sys.exit(main())
