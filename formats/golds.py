"""A split's gold from any file or folder the package reads (what ``smner-bench gold-diff`` compares):

- ``release``: a raw release folder (CoNLL + XML, as distributed), read by the loaders;
- ``export``: an exported Parquet folder (``smner-bench prepare --out``);
- ``unco``: the MQSPN/UnCo gold JSON (``annotations/twitter_gmner_gt.json``, :func:`.unco.read_unco_gold`).

``auto`` tells them apart: a folder whose ``README.md`` is a dataset card (YAML front matter first) is an export,
another folder a release, a file the UnCo JSON. (RiVEG's label file, ``statistic/GMNER_finall_label.txt`` of
JinYuanLi0012/RiVEG, entity texts without spans, is not among the shared data and has no reader here.)
"""

from __future__ import annotations

import os
from pathlib import Path

from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.gold import Gold

GOLD_FORMATS = ("auto", "release", "export", "unco")


def gold_format(source: str | os.PathLike) -> str:
    """The format ``auto`` reads ``source`` as."""
    path = Path(source)
    if path.is_dir():
        card = path / "README.md"
        if card.is_file():
            try:
                with open(card, "rb") as f:
                    head = f.read(3)
            except OSError as exc:
                raise MissingDataError(f"cannot read ({exc.strerror})", file=card) from None
            if head == b"---":  # a dataset card's front matter (a release's README has none)
                return "export"
        return "release"
    if path.is_file():
        return "unco"
    if path.exists():  # a FIFO, a socket, a device: never opened (a FIFO would block)
        raise MissingDataError("not a regular file or a folder", file=source)
    raise MissingDataError("gold file or folder not found", file=source)


def read_gold(source: str | os.PathLike, dataset: str, split: str, *, fmt: str = "auto") -> Gold:
    """The gold of ``dataset``/``split`` in ``source`` (a release or export folder, read as the config ``dataset``;
    or a UnCo gold file, which holds one split and is named ``unco/<split>``)."""
    if fmt not in GOLD_FORMATS:
        raise UsageError(f"gold format {fmt!r}: expected one of {', '.join(GOLD_FORMATS)}")
    fmt = gold_format(source) if fmt == "auto" else fmt
    if fmt == "unco":
        from .unco import read_unco_gold

        return read_unco_gold(source, split=split)
    from smner_bench.loaders import load_gold

    if fmt == "release":
        return load_gold(dataset, split, data_dir=source)
    return load_gold(dataset, split, gold=source)
