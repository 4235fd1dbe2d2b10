"""``load``: one call from a raw release folder to a cached ``DatasetDict``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import datasets
from datasets.exceptions import DatasetGenerationError

from smner_bench.benchmark.errors import MissingDataError, SmnerError

from .builder import SmnerBench
from .configs import SPLIT_ALIASES, SPLITS, canonical_split, config_info
from .report import Report

log = logging.getLogger(__name__)


class SplitDict(datasets.DatasetDict):
    """A ``DatasetDict`` where ``ds["dev"]`` (and ``"valid"``) name the ``validation`` split."""

    def __getitem__(self, key):
        return super().__getitem__(SPLIT_ALIASES.get(key, key) if isinstance(key, str) else key)


def _path(p: str | Path | None, what: str) -> str | None:
    if p is None:
        return None
    path = Path(p).expanduser()
    if not path.exists():  # never let datasets fall through to the Hub on a typo
        raise MissingDataError(f"{what} not found", file=path)
    return str(path.resolve())


def builder(
    name: str,
    data_dir: str | Path,
    *,
    image_dir: str | Path | None = None,
    knowledge: str | Path | None = None,
    captions: str | Path | Sequence[str | Path] | None = None,
    mask_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> SmnerBench:
    """The configured builder (not yet prepared). Paths are checked here and made absolute."""
    config_info(name)
    if isinstance(captions, (str, Path)):
        captions = [captions]
    kwargs = {
        "image_dir": _path(image_dir, "image folder"),
        "knowledge": _path(knowledge, "knowledge release"),
        "captions": tuple(_path(c, "caption file") for c in captions) if captions else None,  # type: ignore[misc]
        "mask_dir": _path(mask_dir, "mask folder"),
    }
    return SmnerBench(
        config_name=name,
        data_dir=_path(data_dir, "data folder"),
        cache_dir=str(cache_dir) if cache_dir else None,
        **{k: v for k, v in kwargs.items() if v is not None},
    )


def prepare(b: SmnerBench) -> SmnerBench:
    """``download_and_prepare`` that lets the readers' own errors (file, line, field) through: datasets
    wraps whatever a generator raises in ``DatasetGenerationError``."""
    try:
        b.download_and_prepare()
    except DatasetGenerationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, SmnerError):
            raise cause from None
        raise
    return b


def load(
    name: str,
    data_dir: str | Path,
    *,
    image_dir: str | Path | None = None,
    knowledge: str | Path | None = None,
    captions: str | Path | Sequence[str | Path] | None = None,
    mask_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> datasets.DatasetDict:
    """Build (or reuse from the Arrow cache) config ``name`` from the raw release in ``data_dir``.

    Returns a ``DatasetDict`` with the splits ``train``, ``validation`` (also reachable as ``dev``) and
    ``test``. ``image_dir`` fills the ``image`` feature (and width/height); ``knowledge`` (a PGIM/RiVEG
    zip or folder) adds ``knowledge``; ``captions`` (BLIP-2 and/or mPLUG-Owl files or folders) adds ``caption`` and
    ``description``; ``mask_dir`` overrides ``<data_dir>/masks`` for ``smner``. Quirks of the raw
    files are logged as warnings when the cache is built; :func:`quirk_report` returns them.
    """
    b = builder(
        name,
        data_dir,
        image_dir=image_dir,
        knowledge=knowledge,
        captions=captions,
        mask_dir=mask_dir,
        cache_dir=cache_dir,
    )
    return SplitDict(prepare(b).as_dataset())


def load_split(name: str, data_dir: str | Path, split: str, **options) -> datasets.Dataset:
    """One split of :func:`load`; ``split`` accepts the alias ``dev`` (and ``valid``) for validation."""
    return load(name, data_dir, **options)[canonical_split(split)]


def quirk_report(name: str, data_dir: str | Path, **options) -> dict[str, Report]:
    """The quirk report of every split, as stored with the (built if needed) cache."""
    b = prepare(builder(name, data_dir, **options))
    return {split: b.quirk_report(split) for split in SPLITS}
