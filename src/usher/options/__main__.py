"""`python -m usher.options > docs/options.md` regenerates the options reference."""

import sys

from usher.options import option_reference_markdown

sys.stdout.write(option_reference_markdown())
