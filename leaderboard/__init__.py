"""The leaderboard: entries with provenance, checked on every read, and their rendering.

Map of the package: ``entry`` (the entry model and its consistency rules), ``store`` (reading and writing entry
files: published YAML lists, scored JSON entries with a gzip copy of their submission), ``submit`` (score a
submission into a "scored here" entry; ``verify`` re-scores every kept copy), ``releases`` (entries imported
from a public release file, which keeps no copy), ``render`` (ranked boards, the terminal table and
``leaderboard/README.md``), ``site`` (the static HTML site), ``escape`` (entry text made safe for each medium) and
``cli`` (``leaderboard ...``). Pictures of gold against predictions are the core's
(:mod:`smner_bench.benchmark.visualize`, ``smner-bench show``). The entries
themselves live in ``leaderboard/entries/``.
"""
