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
from .rle import mask_ious
from .submission import Prediction
from .tags import TYPES

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


def _region_scores(
    pairs_pred: np.ndarray, pairs_gold: np.ndarray, pred_has: np.ndarray, gold_count: np.ndarray
) -> np.ndarray:
    """inf where both say "not in the image", -inf where only one does, nan where an IoU is needed."""
    p_has, g_has = pred_has[pairs_pred], gold_count[pairs_gold] > 0
    out = np.full(pairs_pred.size, np.nan)
    out[~p_has & ~g_has] = np.inf
    out[p_has != g_has] = -np.inf
    return out


def _best_box_ious(pred_boxes: np.ndarray, gold: Gold, pairs_pred: np.ndarray, pairs_gold: np.ndarray) -> np.ndarray:
    """For each pair, the best IoU of the predicted box with the gold entity's boxes (all pairs at once)."""
    counts = np.array([len(e.boxes) for e in gold.entities], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    flat = np.concatenate([e.boxes for e in gold.entities]) if counts.sum() else np.zeros((0, 4))
    per_pair = counts[pairs_gold]
    rows = np.repeat(np.arange(pairs_pred.size), per_pair)
    within = np.arange(rows.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    g = flat[offsets[pairs_gold][rows] + within]
    p = pred_boxes[pairs_pred][rows]
    iw = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
    ih = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
    inter = iw * ih
    union = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    best = np.full(pairs_pred.size, -np.inf)
    np.maximum.at(best, rows, iou)
    return best


def pair_table(predictions: list[Prediction], gold: Gold, *, boxes: bool = True, masks: bool = True) -> PairTable:
    """Every (prediction, gold entity) pair with the same tweet and text, in (prediction, gold) order."""
    index: dict[tuple[int, str], list[int]] = defaultdict(list)
    for e in gold.entities:
        index[(e.tweet, e.text)].append(e.index)
    group_of: dict[tuple[int, str], int] = {}
    pairs_pred: list[int] = []
    pairs_gold: list[int] = []
    groups: list[int] = []
    for p in predictions:
        key = (p.tweet, p.text)
        candidates = index.get(key)
        if candidates:
            gid = group_of.setdefault(key, len(group_of))
            pairs_pred.extend([p.order] * len(candidates))
            pairs_gold.extend(candidates)
            groups.extend([gid] * len(candidates))
    pp, gg = np.asarray(pairs_pred, dtype=np.int64), np.asarray(pairs_gold, dtype=np.int64)
    group = np.asarray(groups, dtype=np.int64)
    codes = {t: i for i, t in enumerate(TYPES)}
    p_start = np.array([-1 if p.start is None else p.start for p in predictions], dtype=np.int64)
    p_end = np.array([-1 if p.end is None else p.end for p in predictions], dtype=np.int64)
    p_type = np.array([codes[p.type] for p in predictions], dtype=np.int64)
    p_raw = np.array([codes.get(p.type_raw, -1) for p in predictions], dtype=np.int64)
    g_start = np.array([e.start for e in gold.entities], dtype=np.int64)
    g_end = np.array([e.end for e in gold.entities], dtype=np.int64)
    g_type = np.array([codes.get(e.type, -2) for e in gold.entities], dtype=np.int64)
    same_span = (p_start[pp] == g_start[gg]) & (p_end[pp] == g_end[gg]) if pp.size else pp.astype(bool)
    type_ok = p_type[pp] == g_type[gg] if pp.size else pp.astype(bool)
    type_raw_ok = p_raw[pp] == g_type[gg] if pp.size else pp.astype(bool)

    box = np.full(pp.size, -np.inf)
    if boxes and pp.size:
        has = np.array([p.box is not None for p in predictions], dtype=bool)
        n_boxes = np.array([len(e.boxes) for e in gold.entities], dtype=np.int64)
        box = _region_scores(pp, gg, has, n_boxes)
        need = np.isnan(box)
        coords = np.array([p.box if p.box is not None else (0.0, 0.0, 0.0, 0.0) for p in predictions])
        box[need] = _best_box_ious(coords.reshape(-1, 4), gold, pp[need], gg[need])
    mask = np.full(pp.size, -np.inf)
    if masks and pp.size:
        has = np.array([p.mask is not None for p in predictions], dtype=bool)
        n_masks = np.array([len(e.masks) for e in gold.entities], dtype=np.int64)
        mask = _region_scores(pp, gg, has, n_masks)
        for row in np.flatnonzero(np.isnan(mask)):
            mask[row] = float(np.max(mask_ious(predictions[pp[row]].mask, gold.entities[gg[row]].masks)))

    preds_per_group = np.bincount(group, minlength=len(group_of))
    golds_in_group = np.zeros(len(group_of), dtype=np.int64)
    for key, gid in group_of.items():
        golds_in_group[gid] = len(index[key])
    trivial = (
        (preds_per_group[group] == golds_in_group[group]) & (golds_in_group[group] == 1) if pp.size else pp.astype(bool)
    )
    tweet = np.array([p.tweet for p in predictions], dtype=np.int64)[pp] if pp.size else pp
    return PairTable(pp, gg, tweet, group, same_span, type_ok, type_raw_ok, box, mask, trivial)


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
