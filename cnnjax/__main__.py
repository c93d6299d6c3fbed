"""``python -m cnnjax`` is the ``cnnjax`` command."""

import sys

from cnnjax.cli import main

sys.exit(main())
