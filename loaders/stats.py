"""Per-split statistics of a loaded dataset (what ``smner-bench stats`` prints).

Two entity counts: ``entities`` under conlleval rules (the scorer's: an ``I-X`` after ``O``, at a tweet's start or
after another type starts an entity), and ``w/o I-after-O``, the count that does not start an entity at an ``I-X``
after ``O`` or at a tweet's start (only at ``B-X`` or a change of type). Published tables count the second way:
Twitter-2015 is 6,352 / 1,594 / 5,207 entities under conlleval and 6,177 / 1,542 / 5,078 the other way (the UMT
paper's table says 6,176 / 1,546 / 5,078), the difference being the 175 / 52 / 129 ``I-X`` tags after ``O``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from smner_bench.benchmark.tags import TYPES

SECOND = "w/o I-after-O"
COLUMNS = ("tweets", "entities", SECOND, *TYPES, "groundable", "boxes", "masks", "no entity")
NOTE = (
    "entities: conlleval rules (an I-X after O starts an entity, as the scorer counts);\n"
    f"{SECOND}: those started at an I-X after O (or at a tweet's start) left out, as tables that count\n"
    "entities from their B-X tags do (the UMT paper's Twitter-2015 table)"
)


def i_after_o(tag_rows: Iterable[Sequence[str]]) -> int:
    """How many entities conlleval starts at an ``I-X`` after ``O`` or at a tweet's start.

    >>> i_after_o([["I-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-PER"], ["B-LOC", "I-LOC"]])
    2
    """
    return sum(
        tag.startswith("I-") and (i == 0 or row[i - 1] == "O") for row in tag_rows for i, tag in enumerate(row)
    )


def split_stats(entities_column: Iterable[list[Mapping[str, Any]]], i_after_o: int = 0) -> dict[str, int]:
    """Counts over the ``entities`` column of one split; ``i_after_o``: its entities that start at an ``I-X``
    after ``O`` (:func:`i_after_o`), left out of the second count.

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
    out = {"tweets": tweets, "entities": entities, SECOND: entities - i_after_o}
    out.update({t: types[t] for t in TYPES})
    out.update({"groundable": groundable, "boxes": boxes, "masks": masks, "no entity": empty})
    return out


def _tag_rows(ds: Any) -> list[list[str]]:
    """The ``ner_tags`` of a split as tag names (none when it has no such column); class ids or names."""
    if "ner_tags" not in ds.column_names:
        return []
    names = getattr(getattr(ds.features["ner_tags"], "feature", None), "names", None)
    return [[names[t] if names else str(t) for t in row] for row in ds["ner_tags"]]


def dataset_stats(dataset_dict: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{split: split_stats}`` for every split of a ``DatasetDict``."""
    return {split: split_stats(ds["entities"], i_after_o(_tag_rows(ds))) for split, ds in dataset_dict.items()}


def format_table(stats: Mapping[str, Mapping[str, int]]) -> str:
    """A plain-text table, one row per split, and a line saying what the two entity counts are."""
    header = ["split", *COLUMNS]
    rows = [[split, *(str(s[c]) for c in COLUMNS)] for split, s in stats.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]
    return "\n".join([*lines, "", NOTE])
