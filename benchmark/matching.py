"""Matching predictions to gold entities, once: the pair table, then one selection per task and threshold.

:func:`pair_table` lists every candidate pair (a prediction and a gold entity of the same tweet with the
same text) with its verdicts: same span, same type (canonical, and as written), and a region score per
modality such that the region is correct at threshold ``t`` iff ``score >= t`` (``inf`` when both say "not
in the image", ``-inf`` when only one does, else the best IoU with the entity's gold boxes or masks).
:func:`select` then picks the matched pairs for one task, mode and threshold; every figure, breakdown and
threshold sweep derives from those selections.

Modes:
- ``span``: identity = (tweet, start, end). Spans are unique on both sides, so a pair is matched iff it is
  correct.
- ``text``: identity = (tweet, text); each gold entity matched at most once, by a maximum matching among
  the correct pairs, so the order of lines and entities never changes the score.
- ``riveg``: the released RiVEG statistics script: for each prediction in file order, the first gold entity
  of the split (dataset order) not yet used with the same image id and ``text(TYPE)`` (types as written:
  ``MISC`` is not ``OTHER`` here) whose region is correct. Type-blind tasks (EEG, EES) drop the type from
  the key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .gold import Gold
from .rle import box_ious, mask_ious
from .submission import Prediction

MODES = ("span", "text", "riveg")
TYPED = {"mner": True, "eeg": False, "gmner": True, "ees": False, "smner": True}
REGION = {"mner": None, "eeg": "box", "gmner": "box", "ees": "mask", "smner": "mask"}


@dataclass
class PairTable:
    pred: np.ndarray  # prediction order index
    gold: np.ndarray  # gold entity index
    tweet: np.ndarray
    group: np.ndarray  # (tweet, text) group id
    same_span: np.ndarray
    type_ok: np.ndarray  # canonical types equal
    type_raw_ok: np.ndarray  # types equal as written (riveg)
    box: np.ndarray  # region score for boxes
    mask: np.ndarray  # region score for masks
    trivial: np.ndarray  # the pair's group has one prediction and one gold entity

    def __len__(self) -> int:
        return self.pred.size


def _region(pred_region, gold_regions, iou_fn) -> float:
    if pred_region is None:
        return np.inf if not len(gold_regions) else -np.inf
    if not len(gold_regions):
        return -np.inf
    return float(np.max(iou_fn(pred_region, gold_regions)))


def pair_table(predictions: list[Prediction], gold: Gold, *, boxes: bool = True, masks: bool = True) -> PairTable:
    """Every (prediction, gold entity) pair with the same tweet and text, in (prediction, gold) order."""
    index: dict[tuple[int, str], list[int]] = defaultdict(list)
    for e in gold.entities:
        index[(e.tweet, e.text)].append(e.index)
    group_of: dict[tuple[int, str], int] = {}
    rows = []
    for p in predictions:
        key = (p.tweet, p.text)
        for g in index.get(key, ()):
            e = gold.entities[g]
            rows.append(
                (
                    p.order,
                    g,
                    p.tweet,
                    group_of.setdefault(key, len(group_of)),
                    p.start == e.start and p.end == e.end,
                    p.type == e.type,
                    p.type_raw == e.type,
                    _region(p.box, e.boxes, box_ious) if boxes else -np.inf,
                    _region(p.mask, e.masks, mask_ious) if masks else -np.inf,
                )
            )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 9
    pred, gold_idx, tweet, group = (np.asarray(c, dtype=np.int64) for c in cols[:4])
    same_span, type_ok, type_raw_ok = (np.asarray(c, dtype=bool) for c in cols[4:7])
    box, mask = (np.asarray(c, dtype=np.float64) for c in cols[7:9])
    preds_per_group = np.bincount(group, minlength=len(group_of))
    golds_in_group = np.zeros(len(group_of), dtype=np.int64)
    for key, gid in group_of.items():
        golds_in_group[gid] = len(index[key])
    trivial = (preds_per_group[group] == 1) & (golds_in_group[group] == 1) if group.size else group.astype(bool)
    return PairTable(pred, gold_idx, tweet, group, same_span, type_ok, type_raw_ok, box, mask, trivial)


def correct(table: PairTable, task: str, mode: str, iou: float) -> np.ndarray:
    """Which pairs are correct for ``task`` at threshold ``iou`` (before the one-to-one selection)."""
    ok = np.ones(len(table), dtype=bool)
    if TYPED[task]:
        ok &= table.type_raw_ok if mode == "riveg" else table.type_ok
    if REGION[task] == "box":
        ok &= table.box >= iou
    elif REGION[task] == "mask":
        ok &= table.mask >= iou
    return ok


def _max_matching(edges: list[tuple[int, int, int]]) -> list[int]:
    """Kuhn's augmenting paths on a small bipartite graph; ``edges`` are (pred, gold, pair row)."""
    adjacency: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for p, g, row in edges:
        adjacency[p].append((g, row))
    owner: dict[int, tuple[int, int]] = {}  # gold -> (pred, row)

    def augment(p: int, seen: set[int]) -> bool:
        for g, row in adjacency[p]:
            if g in seen:
                continue
            seen.add(g)
            if g not in owner or augment(owner[g][0], seen):
                owner[g] = (p, row)
                return True
        return False

    for p in sorted(adjacency):
        augment(p, set())
    return sorted(row for _, row in owner.values())


def select(table: PairTable, task: str, mode: str, iou: float = 0.5) -> np.ndarray:
    """The matched pairs (a boolean mask over the table) for ``task`` in ``mode`` at threshold ``iou``."""
    if mode not in MODES:
        raise ValueError(f"unknown matching mode {mode!r}")
    ok = correct(table, task, mode, iou)
    if mode == "span":
        return ok & table.same_span
    chosen = ok & table.trivial
    rest = np.flatnonzero(ok & ~table.trivial)
    if rest.size == 0:
        return chosen
    if mode == "text":
        by_group: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for row in rest:
            by_group[int(table.group[row])].append((int(table.pred[row]), int(table.gold[row]), int(row)))
        for edges in by_group.values():
            chosen[_max_matching(edges)] = True
        return chosen
    used_pred: set[int] = set()
    used_gold: set[int] = set()
    for row in rest:  # rows are in (prediction order, gold order): first fit
        p, g = int(table.pred[row]), int(table.gold[row])
        if p in used_pred or g in used_gold:
            continue
        used_pred.add(p)
        used_gold.add(g)
        chosen[row] = True
    return chosen
