"""AP and AR over the predictions' optional ``score`` (confidence), COCO-style, as pure functions on arrays.

:func:`evaluate` is pycocotools' ``COCOeval.evaluateImg`` + ``accumulate`` (bbox/segm, ``useCats=1``) on IoUs
handed in, rather than computed from boxes: the scorer's pair table gives them, so a detection can only match a
gold entity that the chosen ``--match`` mode calls the same entity (its candidates), at the IoU the scorer uses
(the best over the entity's boxes or masks). Within one image (a tweet) and category, detections are taken by
decreasing score (ties: file order), each matched to the unmatched candidate of highest IoU at or above the
threshold, ignored gold (outside the area range) last; the precision of each category, area range and detection
cap is the 101-point interpolated precision; :func:`summarize` averages over the categories that have gold, as
``COCOeval.summarize`` does (a figure with no gold at all is None). ``tests/test_ranking.py`` checks equality with
``COCOeval`` itself on random cases.

:func:`task_ranking` builds the detections and gold of one task from the scorer's arrays (see docs/scoring.md,
"AP and AR over confidence", for what a detection is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .gold import Gold
from .matching import REGION, TYPED, Columns, PairTable
from .metrics import SWEEP
from .submission import Prediction
from .tags import TYPES

RECALL_POINTS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # COCO's 101
AREAS = {"all": (0.0, 1e5**2), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}
MAX_DETS = (1, 3, 10)
"""Detection caps per tweet and category (COCO: 1, 10, 100 per image): a tweet of the four datasets has at most 7
gold entities, at most 6 of one type, so 10 keeps every detection a system could need."""


def _ranks(score: np.ndarray, image: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Each detection's place in its (image, category) by decreasing score, ties in input order (COCO's
    mergesort)."""
    n = score.size
    order = np.lexsort((np.arange(n), -score, cat, image))
    key_image, key_cat = image[order], cat[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (key_image[1:] != key_image[:-1]) | (key_cat[1:] != key_cat[:-1])
    starts = np.maximum.accumulate(np.where(new, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts
    return rank


def _greedy(dets, gts, ious, gt_ignored, threshold) -> dict[int, bool]:
    """COCO's evaluateImg matching of one image and category at one threshold: ``dets`` in score order, ``gts`` in
    their order; returns each matched detection with its ignore flag (that of its gold)."""
    order = sorted(gts, key=lambda g: gt_ignored[g])  # stable: non-ignored first
    taken: set[int] = set()
    ignored = {}
    for d in dets:
        best, m = min(threshold, 1 - 1e-10), -1
        for g in order:
            if g in taken:
                continue
            if m > -1 and not gt_ignored[m] and gt_ignored[g]:
                break
            iou = ious.get((d, g), -np.inf)
            if iou < best:
                continue
            best, m = iou, g
        if m == -1:
            continue
        taken.add(m)
        ignored[d] = bool(gt_ignored[m])
    return ignored


def evaluate(
    det_score: np.ndarray,
    det_image: np.ndarray,
    det_cat: np.ndarray,
    det_area: np.ndarray,
    gt_image: np.ndarray,
    gt_cat: np.ndarray,
    gt_area: np.ndarray,
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_iou: np.ndarray,
    *,
    n_cats: int,
    thresholds: Sequence[float] = SWEEP,
    areas: Sequence[tuple[float, float]] = tuple(AREAS.values()),
    max_dets: Sequence[int] = MAX_DETS,
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval's ``precision`` [T, R, K, A, M] and ``recall`` [T, K, A, M] (-1 where a category has no gold in an
    area range) of detections (score, image, category, area) against gold (image, category, area), where detection
    ``pair_det[i]`` may match gold ``pair_gt[i]`` with IoU ``pair_iou[i]`` and no other pair may match (pairs across
    images or categories are dropped). Categories are 0 .. n_cats - 1."""
    thr = np.asarray(thresholds, dtype=np.float64)
    n_t, n_a, n_d, n_g = thr.size, len(areas), det_score.size, gt_image.size
    rank = _ranks(det_score, det_image, det_cat)
    kept = rank < max_dets[-1]  # COCO never sees the others
    keep_pair = kept[pair_det] & (det_image[pair_det] == gt_image[pair_gt]) & (det_cat[pair_det] == gt_cat[pair_gt])
    pd, pg, iou = pair_det[keep_pair], pair_gt[keep_pair], pair_iou[keep_pair]
    det_out = np.array([(det_area < lo) | (det_area > hi) for lo, hi in areas]).reshape(n_a, n_d)
    gt_out = np.array([(gt_area < lo) | (gt_area > hi) for lo, hi in areas]).reshape(n_a, n_g)
    matched = np.zeros((n_a, n_t, n_d), dtype=bool)
    ignored = np.repeat(det_out[:, None, :], n_t, axis=1)  # an unmatched detection: outside the area range

    trivial = (np.bincount(pd, minlength=n_d)[pd] == 1) & (np.bincount(pg, minlength=n_g)[pg] == 1)
    hit = iou[trivial][None, :] >= np.minimum(thr, 1 - 1e-10)[:, None]  # [T, pairs]
    d1, g1 = pd[trivial], pg[trivial]
    for a in range(n_a):
        matched[a][:, d1] = hit
        ignored[a][:, d1] = np.where(hit, gt_out[a][g1][None, :], det_out[a][d1][None, :])

    groups: dict[tuple[int, int], list[int]] = defaultdict(list)  # (image, category) -> its non-trivial pairs
    for i in np.flatnonzero(~trivial).tolist():
        groups[(int(det_image[pd[i]]), int(det_cat[pd[i]]))].append(i)
    for rows in groups.values():
        ious = {(int(pd[i]), int(pg[i])): float(iou[i]) for i in rows}
        dets = sorted({d for d, _ in ious}, key=lambda d: rank[d])
        gts = sorted({g for _, g in ious})
        for a in range(n_a):
            for t in range(n_t):
                for d, flag in _greedy(dets, gts, ious, gt_out[a], float(thr[t])).items():
                    matched[a, t, d], ignored[a, t, d] = True, flag

    precision = -np.ones((n_t, RECALL_POINTS.size, n_cats, n_a, len(max_dets)))
    recall = -np.ones((n_t, n_cats, n_a, len(max_dets)))
    for k in range(n_cats):
        gold_k = gt_cat == k
        for m, cap in enumerate(max_dets):
            sel = np.flatnonzero((det_cat == k) & (rank < cap))
            sel = sel[np.lexsort((rank[sel], det_image[sel], -det_score[sel]))]  # COCO: images in order, mergesort
            for a in range(n_a):
                npig = int(np.sum(gold_k & ~gt_out[a]))
                if npig == 0:
                    continue
                keep = ~ignored[a][:, sel]
                tp = np.cumsum(matched[a][:, sel] & keep, axis=1).astype(float)
                fp = np.cumsum(~matched[a][:, sel] & keep, axis=1).astype(float)
                if sel.size == 0:
                    recall[:, k, a, m] = 0
                    precision[:, :, k, a, m] = 0
                    continue
                rc = tp / npig
                pr = tp / (fp + tp + np.spacing(1))
                recall[:, k, a, m] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # precision made non-increasing
                for t in range(n_t):
                    inds = np.searchsorted(rc[t], RECALL_POINTS, side="left")
                    q = np.zeros(RECALL_POINTS.size)
                    valid = inds < sel.size
                    q[valid] = pr[t][inds[valid]]
                    precision[t, :, k, a, m] = q
    return precision, recall


def _mean(values: np.ndarray) -> float | None:
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else None


def summarize(
    precision: np.ndarray,
    recall: np.ndarray,
    *,
    thresholds: Sequence[float] = SWEEP,
    areas: Sequence[str] = tuple(AREAS),
    max_dets: Sequence[int] = MAX_DETS,
) -> dict[str, float | None]:
    """COCOeval.summarize's figures (None where COCO prints -1): ``ap`` (IoU over ``thresholds``, every area, the
    largest cap), ``ap50``, ``ap75``, ``ap_<area>``, ``ar_<cap>`` per cap, ``ar_<area>``; the ones that the given
    thresholds and areas allow."""
    thr, last = list(thresholds), len(max_dets) - 1
    out: dict[str, float | None] = {"ap": _mean(precision[:, :, :, 0, last])}
    for name, value in (("ap50", 0.5), ("ap75", 0.75)):
        if value in thr and len(thr) > 1:
            out[name] = _mean(precision[thr.index(value), :, :, 0, last])
    for a, name in enumerate(areas[1:], start=1):
        out[f"ap_{name}"] = _mean(precision[:, :, :, a, last])
    for m, cap in enumerate(max_dets):
        out[f"ar_{cap}"] = _mean(recall[:, :, 0, m])
    for a, name in enumerate(areas[1:], start=1):
        out[f"ar_{name}"] = _mean(recall[:, :, a, last])
    return out


# --- from the scorer's arrays ---------------------------------------------------------------------------------


def _largest(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The largest of each run of ``counts`` consecutive values (0 for an empty run)."""
    out = np.zeros(counts.size)
    np.maximum.at(out, np.repeat(np.arange(counts.size), counts), values)
    return out


def _areas(predictions: list[Prediction], gold: Gold, region: str) -> tuple[np.ndarray, np.ndarray]:
    """The area of each prediction's region (0 without one) and of each gold entity's largest box or mask."""
    if region == "box":
        boxes = np.array([p.box if p.box is not None else (0.0, 0.0, 0.0, 0.0) for p in predictions]).reshape(-1, 4)
        flat = np.concatenate([e.boxes for e in gold.entities]) if gold.entities else np.zeros((0, 4))
        counts = np.array([len(e.boxes) for e in gold.entities], dtype=np.int64)

        def area(b: np.ndarray) -> np.ndarray:
            return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

        return area(boxes), _largest(area(flat), counts)
    from pycocotools import mask as mask_utils

    def areas(rles: list) -> np.ndarray:
        plain = [{"size": r["size"], "counts": r["counts"]} for r in rles]
        return np.asarray(mask_utils.area(plain), dtype=np.float64).reshape(-1) if plain else np.zeros(0)

    given = [p.mask is not None for p in predictions]
    det = np.zeros(len(predictions))
    det[np.flatnonzero(given)] = areas([p.mask for p in predictions if p.mask is not None])
    counts = np.array([len(e.masks) for e in gold.entities], dtype=np.int64)
    return det, _largest(areas([m for e in gold.entities for m in e.masks]), counts)


def task_ranking(
    table: PairTable, cols: Columns, predictions: list[Prediction], gold: Gold, task: str, mode: str
) -> dict[str, float | None]:
    """The AP/AR figures of ``task`` under matching ``mode`` (span, text or riveg); every prediction has a score.

    A detection is a prediction that gives the task's region (a box or a mask; for MNER every prediction), the gold
    are the entities that have one (for MNER every entity); a detection may match a gold entity of its tweet that
    ``mode`` calls the same entity (span: same start and end; text and riveg: same text) and, for a typed task,
    of its type (riveg: as written), at the best IoU of its region with the entity's (MNER: IoU 1). Typed tasks
    average over the types (COCO's categories), type-blind tasks pool every entity (one category)."""
    region = REGION[task]
    score = np.array([p.score for p in predictions], dtype=np.float64)
    typed = TYPED[task]
    n_cats = len(TYPES) + 1 if typed else 1  # a hand-built gold's type outside TYPES: its own category
    pred_cat = cols.pred_type if typed else np.zeros(score.size, dtype=np.int64)
    gold_cat = np.where(cols.gold_type >= 0, cols.gold_type, len(TYPES)) if typed else np.zeros_like(cols.gold_type)
    ok = table.same_span.copy() if mode == "span" else np.ones(len(table), dtype=bool)
    if typed:
        ok &= table.type_raw_ok if mode == "riveg" else table.type_ok
    if region is None:
        dets, gts = np.arange(score.size), np.arange(cols.gold_type.size)
        det_area, gt_area, iou = np.zeros(score.size), np.zeros(gts.size), np.ones(len(table))
        options = {"thresholds": (0.5,), "areas": (AREAS["all"],)}
    else:
        dets, gts = np.flatnonzero(cols.pred_has[region]), np.flatnonzero(cols.gold_regions[region] > 0)
        det_area, gt_area = _areas(predictions, gold, region)
        iou = table.box if region == "box" else table.mask
        ok &= cols.pred_has[region][table.pred] & (cols.gold_regions[region][table.gold] > 0)
        options = {}
    det_index = np.full(score.size, -1)
    det_index[dets] = np.arange(dets.size)
    gt_index = np.full(cols.gold_type.size, -1)
    gt_index[gts] = np.arange(gts.size)
    precision, recall = evaluate(
        score[dets], cols.pred_tweet[dets], pred_cat[dets], det_area[dets],
        cols.gold_tweet[gts], gold_cat[gts], gt_area[gts],
        det_index[table.pred[ok]], gt_index[table.gold[ok]], iou[ok],
        n_cats=n_cats, **options,
    )  # fmt: skip
    if region is None:
        return summarize(precision, recall, thresholds=(0.5,), areas=("all",))
    return summarize(precision, recall)
