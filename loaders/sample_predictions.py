"""A sample submission for the synthetic sample: its gold, with four deliberate mistakes.

``write_sample_predictions(sample_dir)`` writes ``<sample_dir>/predictions-test.jsonl``, an SMNER submission
(spans, types, boxes and masks) for the test split that differs from the gold in exactly four ways:

1. a wrong type on one entity;
2. a shifted box and mask on one groundable entity (IoU below 0.5 with its gold);
3. an extra entity on tokens that are no entity;
4. a missed entity.

``make demo`` scores it, so that every figure of the report has something to show.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.regions import decode_rle, encode_rle
from smner_bench.benchmark.submission import gold_as_submission, write_submission
from smner_bench.benchmark.tags import TYPES

from .api import load_split

MISTAKES = ("wrong type", "shifted box and mask", "extra entity", "missed entity")


def sample_predictions(sample_dir: str | Path, split: str = "test") -> tuple[list[dict], dict[str, str]]:
    """The submission lines and, for each mistake, the tweet id where it was made."""
    with tempfile.TemporaryDirectory() as cache:
        rows = load_split("smner", sample_dir, split, cache_dir=cache)
        gold = gold_from_rows(rows, dataset="smner", split=split, has_boxes=True, has_masks=True)
    lines = gold_as_submission(gold, box=True, mask=True)
    where: dict[str, str] = {}
    with_entities = [line for line in lines if line["entities"]]
    grounded = [line for line in with_entities if any(e["box"] for e in line["entities"])]

    first = with_entities[0]["entities"][0]
    first["type"] = TYPES[(TYPES.index(first["type"]) + 1) % len(TYPES)]
    where["wrong type"] = with_entities[0]["id"]

    def room(item: tuple[dict, dict]) -> float:  # how far the box can move right or left, in box widths
        line, e = item
        x1, _, x2, _ = e["box"]
        return max(gold.by_id[line["id"]].width - x2, x1) / (x2 - x1)

    line, entity = max(((ln, e) for ln in grounded for e in ln["entities"] if e["box"]), key=room)
    x1, y1, x2, y2 = entity["box"]
    width = gold.by_id[line["id"]].width
    dx = min(0.75 * (x2 - x1), width - x2) if width - x2 >= x1 else -min(0.75 * (x2 - x1), x1)
    entity["box"] = [x1 + dx, y1, x2 + dx, y2]
    entity["mask"] = encode_rle(np.roll(decode_rle(entity["mask"]), round(dx), axis=1))
    where["shifted box and mask"] = line["id"]

    line = next(ln for ln in lines[1:] if ln["entities"] and ln["id"] not in where.values())
    taken = {i for e in line["entities"] for i in range(e["start"], e["end"])}
    free = next(i for i in range(len(gold.by_id[line["id"]].tokens)) if i not in taken)
    text = gold.by_id[line["id"]].tokens[free]
    line["entities"].append({"start": free, "end": free + 1, "text": text, "type": "OTHER", "box": None, "mask": None})
    where["extra entity"] = line["id"]

    line = next(ln for ln in reversed(with_entities) if ln["id"] not in where.values())
    line["entities"].pop()
    where["missed entity"] = line["id"]
    return lines, where


def write_sample_predictions(sample_dir: str | Path, split: str = "test") -> tuple[Path, dict[str, str]]:
    lines, where = sample_predictions(sample_dir, split)
    path = Path(sample_dir) / f"predictions-{split}.jsonl"
    write_submission(path, lines)
    return path, where
