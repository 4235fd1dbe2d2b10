"""``python -m smner_bench.cli``: the same as the ``smner-bench`` command."""

import sys

from smner_bench.cli import main

sys.exit(main())
