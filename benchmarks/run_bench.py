"""Run the full benchmark (``cnnjax bench``) and write ``benchmarks/results/bench.json``.

Usage: ``python benchmarks/run_bench.py [cnnjax bench options]``, e.g. ``--quick`` or
``--compare-flag``. The fast-convolution flag and host huge pages are applied as the ``cnnjax``
executable applies them.
"""

import sys
from pathlib import Path

from cnnjax.cli import main
from cnnjax.runtime import relaunch_with_huge_pages

if __name__ == "__main__":
    relaunch_with_huge_pages()
    args = sys.argv[1:]
    if "--json" not in args:
        args += ["--json", str(Path(__file__).parent / "results" / "bench.json")]
    sys.exit(main(["bench", *args]))
