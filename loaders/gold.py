"""The gold of a split, as the scorer takes it, from a raw release folder or an exported one.

:func:`load_gold` is what the commands and the library call with ``data_dir`` (a raw release, read by the
builder, or from the light gold cache a previous read wrote: :mod:`.gold_cache`) or ``gold`` (an exported Parquet
folder, read by the core's :func:`~smner_bench.benchmark.gold.gold_from_export`). Reading the cache imports no
``datasets``: scoring against a release read before starts in milliseconds.
"""

from __future__ import annotations

import os

from smner_bench.benchmark.arguments import arg
from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.gold import GOLD_COLUMNS, Gold, gold_from_export, gold_of
from smner_bench.benchmark.registry import canonical_split, check_config


def load_gold(
    dataset: str, split: str, *, data_dir: str | os.PathLike | None = None, gold: str | os.PathLike | None = None
) -> Gold:
    """The gold of ``dataset``/``split``: give exactly one of ``data_dir`` (a raw release folder) and ``gold`` (an
    exported folder).

    >>> try:
    ...     load_gold("gmner", "test")
    ... except UsageError as exc:
    ...     print(exc)
    give exactly one of data_dir= (raw release folder) and gold= (exported folder)
    """
    check_config(dataset)
    split = canonical_split(split)
    if (data_dir is None) == (gold is None):
        raise UsageError(
            f"give exactly one of {arg('data_dir')} (raw release folder) and {arg('gold')} (exported folder)"
        )
    if gold is not None:
        return gold_from_export(dataset, split, gold)
    from .api import load_split
    from .gold_cache import header, read_gold_cache, write_gold_cache
    from .stamps import gold_cache

    path, key = gold_cache(dataset, data_dir, split)  # type: ignore[arg-type]
    expected = header(key, dataset, split)
    cached = read_gold_cache(path, expected)
    if cached is not None:
        return gold_of(cached, dataset, split)
    rows = load_split(dataset, data_dir, split)  # type: ignore[arg-type]
    result = gold_of(rows.select_columns([c for c in GOLD_COLUMNS if c in rows.column_names]), dataset, split)
    write_gold_cache(path, expected, result.records())
    return result
