"""The leaderboard: entries with provenance, checked on every read, and their rendering.

Map of the package: ``entry`` (the entry model and its consistency rules), ``store`` (reading and writing entry
files: published YAML lists, scored JSON entries with a gzip copy of their submission), ``submit`` (score a
submission into a "scored here" entry; ``verify`` re-scores every kept copy), ``releases`` (entries imported
from a public release file, which keeps no copy), ``migrate`` (older entries re-sealed by re-scoring),
``render`` (ranked boards, the terminal table and ``leaderboard/README.md``), ``site`` (the static HTML site),
``visualize`` (a tweet's gold against predictions) and ``cli`` (``leaderboard ...`` and ``show``). The entries
themselves live in ``leaderboard/entries/``.
"""
