"""``python -m cnnjax`` is the ``cnnjax`` command."""

import sys

from cnnjax.cli import console_main

sys.exit(console_main())
