"""Scored entries whose submission is the import of a public release file (the RiVEG authors' released test
predictions): the repository keeps no copy of such a file, so the board records the release (its path below a
data folder, its SHA-256 and the importer) and ``verify`` imports it again and re-scores the result.

Only importers that need nothing but the release and the gold are allowed (``smner_bench.formats.RELEASE_IMPORTERS``).
"""

from __future__ import annotations

import os
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.io import jsonl_text, sha256_file
from smner_bench.formats import RELEASE_IMPORTERS

from .entry import Release


def release_record(path: str | os.PathLike, root: str | os.PathLike, importer: str) -> Release:
    """The :class:`Release` of ``path`` (a file below the data folder ``root``)."""
    if importer not in RELEASE_IMPORTERS:
        raise UsageError(f"--release-importer must be one of {', '.join(RELEASE_IMPORTERS)}, not {importer!r}")
    file, top = Path(path).resolve(), Path(root).resolve()
    if not file.is_file():
        raise MissingDataError("release file not found", file=path)
    if not file.is_relative_to(top):
        raise UsageError(f"{path}: the release file must be below the --release-root folder {root}")
    return Release(file=file.relative_to(top).as_posix(), sha256=sha256_file(file), importer=importer)


def release_submission(release: Release, root: str | os.PathLike | None, gold: Gold) -> bytes:
    """The submission file ``smner-bench import <importer>`` writes from the release below ``root``: the same
    bytes (one JSON object per line, UTF-8). The release must hash to the recorded SHA-256."""
    if root is None:
        raise UsageError(
            f"the entry was imported from the release {release.file}: give the data folder that holds it "
            "(--release-root, e.g. ../shared/data)"
        )
    path = Path(root) / release.file
    if not path.is_file():
        raise MissingDataError(f"release file {release.file} not found below {root}", file=path)
    if sha256_file(path) != release.sha256:
        raise DataFormatError(f"not the release the entry was scored from (SHA-256 differs from {release.sha256})")
    from smner_bench.formats.importers import import_riveg

    lines, _ = import_riveg(path, None, gold)  # the only importer of RELEASE_IMPORTERS
    return jsonl_text(lines).encode("utf-8")
