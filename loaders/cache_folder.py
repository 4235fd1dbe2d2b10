"""The ``datasets`` cache folder of a build: checked before datasets makes it, and one build's folder removed when
it cannot be read (it is then built again). A module of its own, apart from ``builder.py``: datasets patches the
``os`` and ``open`` of a builder's module for streaming (fsspec wrappers over a snapshot of ``os``), and these
checks are about the local file system."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from smner_bench.benchmark.arguments import arg
from smner_bench.benchmark.safe_output import OutputError

log = logging.getLogger(__name__)


def check_cache_folder(cache_dir: str | os.PathLike | None) -> Path:
    """The ``datasets`` cache folder (``cache_dir``, else datasets' own ``HF_DATASETS_CACHE``), checked before
    datasets makes it: one that is not a folder (a file, a path under a file) or cannot be written is an
    :class:`OutputError` (exit 2) naming it, never a traceback from datasets."""
    if not cache_dir:
        import datasets

        cache_dir = datasets.config.HF_DATASETS_CACHE
    root = Path(cache_dir).expanduser()
    found = root
    while not os.path.lexists(found) and found != found.parent:
        found = found.parent
    hint = f"(give another {arg('cache_dir')} or HF_DATASETS_CACHE)"
    if not found.is_dir():
        what = "is not a folder" if found == root else f"cannot be made: {found} is not a folder"
        raise OutputError(f"{root}: the datasets cache folder {what} {hint}")
    if not os.access(found, os.W_OK | os.X_OK):
        what = "is not writable" if found == root else f"cannot be made: {found} is not writable"
        raise OutputError(f"{root}: the datasets cache folder {what} {hint}")
    return root


def drop_damaged_cache(path: str | os.PathLike, exc: BaseException) -> None:
    """Remove the cache folder of one build that cannot be read (to be built again), saying so."""
    log.warning("%s: a damaged datasets cache (%s: %s): removed, to be built again", path, type(exc).__name__, exc)
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        raise OutputError(f"{path}: a damaged datasets cache that cannot be removed: remove it by hand")
