"""Per-split statistics of a loaded dataset (what ``smner-bench stats`` prints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from smner_bench.benchmark.tags import TYPES

COLUMNS = ("tweets", "entities", *TYPES, "groundable", "boxes", "masks", "no entity")


def split_stats(entities_column: Iterable[list[Mapping[str, Any]]]) -> dict[str, int]:
    """Counts over the ``entities`` column of one split.

    >>> s = split_stats([[{"type": "PER", "groundable": True, "boxes": [[0, 0, 1, 1]], "masks": []}], []])
    >>> s["tweets"], s["entities"], s["PER"], s["groundable"], s["boxes"], s["masks"], s["no entity"]
    (2, 1, 1, 1, 1, 0, 1)
    """
    tweets = entities = groundable = boxes = masks = empty = 0
    types: Counter[str] = Counter()
    for row in entities_column:
        tweets += 1
        empty += not row
        for e in row:
            entities += 1
            types[e["type"]] += 1
            groundable += bool(e["groundable"])
            boxes += len(e["boxes"])
            masks += len(e["masks"])
    out = {"tweets": tweets, "entities": entities}
    out.update({t: types[t] for t in TYPES})
    out.update({"groundable": groundable, "boxes": boxes, "masks": masks, "no entity": empty})
    return out


def dataset_stats(dataset_dict: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{split: split_stats}`` for every split of a ``DatasetDict``."""
    return {split: split_stats(ds["entities"]) for split, ds in dataset_dict.items()}


def format_table(stats: Mapping[str, Mapping[str, int]]) -> str:
    """A plain-text table, one row per split."""
    header = ["split", *COLUMNS]
    rows = [[split, *(str(s[c]) for c in COLUMNS)] for split, s in stats.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]
    return "\n".join(lines)
