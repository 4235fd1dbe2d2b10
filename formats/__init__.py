"""Other systems' files as submissions: format conversion, no model (the layer between the loaders and the
leaderboard; see docs/design.md, "Layers").

- :mod:`.importers`: RiVEG release files and H-Index prediction files into submissions (``smner-bench import``),
  and :func:`~.importers.place_all`, which places a tweet's entity words on its tokens without overlaps;
- :mod:`.unco`: the MQSPN/UnCo JSON: their gold file as a Gold, their predictions as a submission;
- :mod:`.golds`: a split's gold from a release folder, an export or the UnCo gold file;
- :mod:`.gold_diff`: what differs between two golds (``smner-bench gold-diff``), a pure function;
- :mod:`.cli`: the ``import`` and ``gold-diff`` commands.

:data:`RELEASE_IMPORTERS` names the importers whose public release files may stand in for a leaderboard entry's
kept copy (``leaderboard submit --release``): they need nothing but the release file and the gold.
"""

RELEASE_IMPORTERS: tuple[str, ...] = ("riveg",)
