"""The one table from the library's argument names to the command line's flags, where they differ from ``--`` and
the name with dashes for underscores: messages raised by the library name the flag the user typed
(:func:`smner_bench.benchmark.arguments.arg`, inside ``command_line_flags(FLAGS)``, which ``main`` enters)."""

from __future__ import annotations

FLAGS = {
    "max_issues": "--max-errors",  # read_submission / parse_submission
    "tweet_id": "--id",  # benchmark.visualize.draw
}
