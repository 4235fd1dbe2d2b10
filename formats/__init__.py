"""Other systems' files as submissions: format conversion, no model (the layer between the loaders and the
leaderboard; see docs/design.md, "Layers").

- :mod:`.importers`: RiVEG release files and H-Index prediction files into submissions (``smner-bench import``),
  and :func:`~.importers.locate`, which places an entity's words among a tweet's tokens;
- :mod:`.cli`: the ``import`` command.

:data:`RELEASE_IMPORTERS` names the importers whose public release files may stand in for a leaderboard entry's
kept copy (``leaderboard submit --release``): they need nothing but the release file and the gold.
"""

RELEASE_IMPORTERS: tuple[str, ...] = ("riveg",)
