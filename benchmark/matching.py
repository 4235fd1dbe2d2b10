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
- ``entity-box``: the pair counting of the UnCo evaluator (``evaluator.py`` and ``utils.py`` of
  github.com/tangjielong928/UnCo). Identity = (tweet, start, end), as ``span``; MNER is counted per entity,
  exactly as ``span``. EEG and GMNER count one gold row per entity-box pair (an entity with k boxes is k rows, an
  entity not in the image one row), and a prediction is one row, two when it gives a box, has a gold entity of its
  span (and type, for GMNER) and misses: that evaluator then adds the row "(span, type, not in the image)" to the
  predictions, which is right when the gold entity is not in the image (a box on such an entity is one right and one
  wrong row) and wrong otherwise. A predicted box is right when it reaches the threshold with a box of its span's
  entity (the first such pair; one prediction per span, so which one never changes a count). A tweet with no gold
  entity or no prediction is left out of EEG and GMNER on both sides. Masks are not counted this way (EES and SMNER
  are refused: :func:`check_task_mode`). :func:`tally` gives the rows each prediction and gold entity count for.

Texts are compared by :func:`~.tags.text_identity` (NFC) on both sides, so a precomposed and a decomposed
spelling of one word are one text; spans are compared as offsets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .arguments import arg
from .errors import UsageError
from .gold import Gold
from .regions import box_iou_pairs, mask_ious
from .registry import MATCH_MODES, TASKS
from .submission import Prediction
from .tags import TYPES, text_identity

MODES = MATCH_MODES
TYPED = {t.name: t.typed for t in TASKS.values()}
REGION = {t.name: t.region for t in TASKS.values()}


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
    pred_boxed: np.ndarray  # the prediction gives a box (entity-box)
    gold_boxes: np.ndarray  # how many boxes the gold entity has (entity-box)

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
    iou = box_iou_pairs(pred_boxes[pairs_pred][rows], flat[offsets[pairs_gold][rows] + within])
    best = np.full(pairs_pred.size, -np.inf)
    np.maximum.at(best, rows, iou)
    return best


@dataclass(frozen=True)
class Columns:
    """What matching and counting need of every prediction and gold entity, as arrays (one pass each)."""

    pred_tweet: np.ndarray
    pred_start: np.ndarray  # -1: no span
    pred_end: np.ndarray
    pred_type: np.ndarray  # index in TYPES
    pred_type_raw: np.ndarray  # index in TYPES of the type as written, -1 (MISC)
    pred_text: np.ndarray  # text id shared with gold_text, -1 when no gold entity has the text
    pred_has: dict[str, np.ndarray]  # "box" / "mask": a region is given
    gold_tweet: np.ndarray
    gold_start: np.ndarray
    gold_end: np.ndarray
    gold_type: np.ndarray  # -1: not one of TYPES
    gold_text: np.ndarray
    gold_regions: dict[str, np.ndarray]  # "box" / "mask": how many the entity has


def columns(predictions: list[Prediction], gold: Gold) -> Columns:
    codes = {t: i for i, t in enumerate(TYPES)}
    texts: dict[str, int] = {}
    golds, preds = gold.entities, predictions

    def ints(values) -> np.ndarray:
        return np.fromiter(values, dtype=np.int64)

    def flags(values) -> np.ndarray:
        return np.fromiter(values, dtype=bool)

    gold_text = ints(texts.setdefault(text_identity(e.text), len(texts)) for e in golds)
    return Columns(
        pred_tweet=ints(p.tweet for p in preds),
        pred_start=ints(-1 if p.start is None else p.start for p in preds),
        pred_end=ints(-1 if p.end is None else p.end for p in preds),
        pred_type=ints(codes[p.type] for p in preds),
        pred_type_raw=ints(codes.get(p.type_raw, -1) for p in preds),
        pred_text=ints(texts.get(text_identity(p.text), -1) for p in preds),
        pred_has={"box": flags(p.box is not None for p in preds), "mask": flags(p.mask is not None for p in preds)},
        gold_tweet=ints(e.tweet for e in golds),
        gold_start=ints(e.start for e in golds),
        gold_end=ints(e.end for e in golds),
        gold_type=ints(codes.get(e.type, -1) for e in golds),
        gold_text=gold_text,
        gold_regions={"box": ints(len(e.boxes) for e in golds), "mask": ints(len(e.masks) for e in golds)},
    )


def _join(cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs with the same (tweet, text), as a sorted join on integer keys: prediction rows (in file order),
    gold rows (in dataset order within a prediction), the group of each pair (a (tweet, text) key, numbered by
    first appearance among the predictions) and the number of gold entities of each group."""
    width = int(cols.gold_text.max(initial=-1)) + 2
    g_key = cols.gold_tweet * width + cols.gold_text
    known = cols.pred_text >= 0
    p_key = np.where(known, cols.pred_tweet * width + cols.pred_text, -1)
    by_key = np.argsort(g_key, kind="stable")  # gold rows grouped by key, dataset order within a key
    sorted_keys = g_key[by_key]
    lo = np.searchsorted(sorted_keys, p_key, side="left")
    counts = np.where(known, np.searchsorted(sorted_keys, p_key, side="right") - lo, 0)
    pp = np.repeat(np.arange(p_key.size, dtype=np.int64), counts)
    offsets = np.arange(pp.size) - np.repeat(np.cumsum(counts) - counts, counts)
    gg = by_key[np.repeat(lo, counts) + offsets].astype(np.int64)
    matched = counts > 0
    keys, first, inverse = np.unique(p_key[matched], return_index=True, return_inverse=True)
    number = np.empty(keys.size, dtype=np.int64)
    number[np.argsort(first, kind="stable")] = np.arange(keys.size)
    group = np.repeat(number[inverse.ravel()], counts[matched])
    golds_per_key = np.zeros(keys.size, dtype=np.int64)
    golds_per_key[number[inverse.ravel()]] = counts[matched]
    return pp, gg, group, golds_per_key


def pair_table(
    predictions: list[Prediction], gold: Gold, *, boxes: bool = True, masks: bool = True, cols: Columns | None = None
) -> PairTable:
    """Every (prediction, gold entity) pair with the same tweet and text, in (prediction, gold) order."""
    c = cols or columns(predictions, gold)
    pp, gg, group, golds_per_key = _join(c)
    same_span = (c.pred_start[pp] == c.gold_start[gg]) & (c.pred_end[pp] == c.gold_end[gg])
    type_ok = c.pred_type[pp] == c.gold_type[gg]
    type_raw_ok = (c.pred_type_raw[pp] >= 0) & (c.pred_type_raw[pp] == c.gold_type[gg])

    box = np.full(pp.size, -np.inf)
    if boxes and pp.size:
        box = _region_scores(pp, gg, c.pred_has["box"], c.gold_regions["box"])
        need = np.isnan(box)
        coords = np.array([p.box if p.box is not None else (0.0, 0.0, 0.0, 0.0) for p in predictions])
        box[need] = _best_box_ious(coords.reshape(-1, 4), gold, pp[need], gg[need])
    mask = np.full(pp.size, -np.inf)
    if masks and pp.size:
        mask = _region_scores(pp, gg, c.pred_has["mask"], c.gold_regions["mask"])
        for row in np.flatnonzero(np.isnan(mask)):
            mask[row] = float(np.max(mask_ious(predictions[pp[row]].mask, gold.entities[gg[row]].masks)))

    pairs_per_group = np.bincount(group, minlength=golds_per_key.size)
    trivial = (pairs_per_group[group] == golds_per_key[group]) & (golds_per_key[group] == 1)
    boxed = (c.pred_has["box"][pp], c.gold_regions["box"][gg])
    return PairTable(pp, gg, c.pred_tweet[pp], group, same_span, type_ok, type_raw_ok, box, mask, trivial, *boxed)


def correct(table: PairTable, task: str, mode: str, iou: float) -> np.ndarray:
    """Which pairs are correct for ``task`` at threshold ``iou`` (before the one-to-one selection)."""
    ok = np.ones(len(table), dtype=bool)
    if TYPED[task]:
        ok &= table.type_raw_ok if mode == "riveg" else table.type_ok
    if REGION[task] == "box":
        hit = table.box >= iou
        # entity-box: a box on an entity not in the image makes the evaluator add the right row "not in the image"
        ok &= hit | (table.pred_boxed & (table.gold_boxes == 0)) if mode == "entity-box" else hit
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
    if mode == "entity-box":
        return _entity_box_rows(table, task, iou)[0]
    ok = correct(table, task, mode, iou)
    if mode == "span":
        return ok & table.same_span
    chosen = ok & table.trivial
    rest = np.flatnonzero(ok & ~table.trivial)
    if rest.size == 0:
        return chosen
    if mode == "text":
        by_group: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for g, p, q, row in zip(
            table.group[rest].tolist(), table.pred[rest].tolist(), table.gold[rest].tolist(), rest.tolist(), strict=True
        ):
            by_group[g].append((p, q, row))
        for edges in by_group.values():
            chosen[_max_matching(edges)] = True
        return chosen
    used_pred: set[int] = set()
    used_gold: set[int] = set()
    # rows are in (prediction order, gold order): first fit
    for p, g, row in zip(table.pred[rest].tolist(), table.gold[rest].tolist(), rest.tolist(), strict=True):
        if p in used_pred or g in used_gold:
            continue
        used_pred.add(p)
        used_gold.add(g)
        chosen[row] = True
    return chosen


# --- entity-box: the UnCo evaluator's pair counting ---------------------------------------------------------


def check_task_mode(task: str, mode: str) -> None:
    """Refuse what a mode cannot count: entity-box counts entity-box pairs as the UnCo evaluator does, which
    scores boxes only (a mask per entity-mask pair would be a convention of this package's invention)."""
    if mode == "entity-box" and REGION[task] == "mask":
        raise UsageError(
            f"{arg('match', 'entity-box')} reproduces the UnCo evaluator, which counts boxes, not masks: it cannot "
            f"score {task.upper()}; score the masks with {arg('match', 'span')}, 'text' or 'riveg', or this file's "
            f"boxes with {arg('task', 'gmner')}"
        )


def _entity_box_rows(table: PairTable, task: str, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """(chosen, extra) over the pairs in entity-box mode. ``chosen``: a right row on the gold entity's span (see
    :func:`correct`). ``extra``: the prediction gives a box that misses the entity of its span (and type, for a
    typed task), so the evaluator counts one predicted row more, "(span, type, not in the image)"."""
    check_task_mode(task, "entity-box")
    chosen = correct(table, task, "entity-box", iou) & table.same_span
    if REGION[task] is None:  # MNER: one row per entity, as span
        return chosen, np.zeros(len(table), dtype=bool)
    on_span = table.same_span & table.type_ok if TYPED[task] else table.same_span
    return chosen, on_span & table.pred_boxed & ~(table.box >= iou)


@dataclass(frozen=True)
class Tally:
    """What one task, mode and threshold count: ``chosen``, the matched pairs (each a right prediction and one
    gold row found), and the rows each prediction (``pred_rows``) and gold entity (``gold_rows``) count for: one
    each, except in entity-box mode (see the module's docstring), where they may be 0, 1 or more."""

    chosen: np.ndarray  # bool over the pair table
    pred_rows: np.ndarray  # int per prediction (file order)
    gold_rows: np.ndarray  # int per gold entity (split order)


def entity_box_rows(table: PairTable, cols: Columns, task: str, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """The rows each prediction and each gold entity count for in entity-box mode: a gold entity max(1, its
    boxes) for EEG/GMNER, a prediction 1 or 2 (a wrong box on its entity's span); both 0 in a tweet without
    a gold entity or without a prediction (the evaluator leaves such tweets out of EEG/GMNER). MNER: 1 each."""
    n_pred, n_gold = cols.pred_type.size, cols.gold_type.size
    if REGION[task] is None:
        return np.ones(n_pred, dtype=np.int64), np.ones(n_gold, dtype=np.int64)
    _, extra = _entity_box_rows(table, task, iou)
    pred_rows = 1 + np.bincount(table.pred[extra], minlength=n_pred)
    gold_rows = np.maximum(1, cols.gold_regions["box"])
    pred_rows[~np.isin(cols.pred_tweet, cols.gold_tweet)] = 0
    gold_rows[~np.isin(cols.gold_tweet, cols.pred_tweet)] = 0
    return pred_rows, gold_rows


def tally(table: PairTable, cols: Columns, task: str, mode: str, iou: float = 0.5) -> Tally:
    """The :class:`Tally` of ``task`` in ``mode`` at threshold ``iou``: every count of a report derives from it."""
    chosen = select(table, task, mode, iou)
    if mode == "entity-box":
        return Tally(chosen, *entity_box_rows(table, cols, task, iou))
    return Tally(chosen, np.ones(cols.pred_type.size, dtype=np.int64), np.ones(cols.gold_type.size, dtype=np.int64))
