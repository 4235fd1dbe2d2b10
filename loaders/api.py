"""``load``: one call from a raw release folder to a cached ``DatasetDict``.

Importing this module does not import ``datasets`` (the scorer reads :func:`gold_cache` from here, through the
``smner_bench.gold`` entry point, before it knows whether it needs the builder at all).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smner_bench.benchmark.errors import SmnerError
from smner_bench.benchmark.registry import SPLIT_ALIASES, SPLITS, canonical_split
from smner_bench.benchmark.safe_output import OutputError

from .configs import Sources
from .quirks import QuirkReport
from .stamps import gold_cache

if TYPE_CHECKING:
    import datasets

    from .builder import SmnerBench

__all__ = ["builder", "dataset", "gold_cache", "load", "load_split", "prepare", "quirk_report"]

log = logging.getLogger(__name__)


@functools.cache
def split_dict() -> type:
    """``SplitDict``: a ``DatasetDict`` where ``ds["dev"]`` (and ``"valid"``) name the ``validation`` split
    (a class made on first use, so that importing this module does not import ``datasets``)."""
    import datasets

    class SplitDict(datasets.DatasetDict):
        def __getitem__(self, key):
            return super().__getitem__(SPLIT_ALIASES.get(key, key) if isinstance(key, str) else key)

    return SplitDict


def builder(name: str, data_dir: str | Path, *, cache_dir: str | Path | None = None, **options: Any) -> SmnerBench:
    """The configured builder (not yet prepared). ``options`` are the source options of :meth:`Sources.of`
    (``image_dir``, ``knowledge``, ``captions``, ``mask_dir``); paths are checked (never a fall-through to the
    Hub on a typo) and made absolute."""
    from .builder import SmnerBench

    return SmnerBench(sources=Sources.of(name, data_dir, **options), cache_dir=str(cache_dir) if cache_dir else None)


def prepare(b: SmnerBench) -> SmnerBench:
    """``download_and_prepare`` that lets the readers' own errors (file, line, field) through: datasets
    wraps whatever a generator raises in ``DatasetGenerationError``. A write the system refuses (a full disk,
    permissions) is an :class:`OutputError` (exit 2) naming the cache folder and the system's reason; datasets
    leaves no half-built cache behind."""
    from datasets.exceptions import DatasetGenerationError

    from smner_bench.benchmark.progress import library_bars_off

    try:
        with library_bars_off():  # a bar per split of a local build: noise (the quirks are logged)
            b.download_and_prepare()
    except DatasetGenerationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, SmnerError):
            raise cause from None
        if isinstance(cause, OSError):
            raise _cache_error(b, cause) from None
        raise
    except OSError as exc:
        raise _cache_error(b, exc) from None
    return b


def _cache_error(b: SmnerBench, exc: OSError) -> OutputError:
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"{b.cache_dir}: building the datasets cache failed: {exc.strerror or exc}{where}")


def dataset(b: SmnerBench) -> datasets.DatasetDict:
    """The prepared splits of ``b`` (:func:`prepare`, then ``as_dataset``). A cache whose Arrow files cannot be
    read (cut short, missing, overwritten) is removed and built again once; if that fails too, an
    :class:`OutputError` names it."""
    import pyarrow as pa

    from .cache_folder import drop_damaged_cache

    prepare(b)
    try:
        return b.as_dataset()
    except (pa.ArrowException, OSError, ValueError) as exc:
        drop_damaged_cache(b.cache_dir, exc)
    try:
        return prepare(b).as_dataset()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise OutputError(f"{b.cache_dir}: the datasets cache cannot be read after a rebuild: {exc}") from None


def load(
    name: str, data_dir: str | Path, *, cache_dir: str | Path | None = None, **options: Any
) -> datasets.DatasetDict:
    """Build (or reuse from the Arrow cache) config ``name`` from the raw release in ``data_dir``.

    Returns a ``DatasetDict`` with the splits ``train``, ``validation`` (also reachable as ``dev``) and
    ``test``. ``options`` are the source options (:meth:`Sources.of`): ``image_dir`` fills the ``image``
    feature (and width/height); ``knowledge`` (a PGIM/RiVEG zip or folder) adds ``knowledge``; ``captions``
    (BLIP-2 and/or mPLUG-Owl files or folders) adds ``caption`` and ``description``; ``mask_dir`` overrides
    ``<data_dir>/masks`` for ``smner``. ``cache_dir`` is the ``datasets`` cache. Quirks of the raw files are
    logged as warnings when the cache is built; :func:`quirk_report` returns them.
    """
    b = builder(name, data_dir, cache_dir=cache_dir, **options)
    return split_dict()(dataset(b))


def load_split(name: str, data_dir: str | Path, split: str, **options) -> datasets.Dataset:
    """One split of :func:`load`; ``split`` accepts the alias ``dev`` (and ``valid``) for validation."""
    return load(name, data_dir, **options)[canonical_split(split)]


def quirk_report(name: str, data_dir: str | Path, **options) -> dict[str, QuirkReport]:
    """The quirk report of every split, as stored with the (built if needed) cache."""
    b = prepare(builder(name, data_dir, **options))
    return {split: b.quirk_report(split) for split in SPLITS}
