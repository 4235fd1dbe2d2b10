"""Precision, recall and F1 from counts, as plain functions.

>>> prf(3, 4, 6)
{'precision': 0.75, 'recall': 0.5, 'f1': 0.6, 'tp': 3, 'pred': 4, 'gold': 6}
"""

from __future__ import annotations

import numpy as np

SWEEP = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50:0.05:0.95


def f1_score(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def prf(tp: int, pred: int, gold: int, *, tp_pred: int | None = None) -> dict:
    """P/R/F1 with their counts. ``tp_pred`` (correct predictions counted on the prediction side) defaults
    to ``tp``; breakdowns by type of a type-blind task need both sides."""
    tp_p = tp if tp_pred is None else tp_pred
    precision = tp_p / pred if pred else 0.0
    recall = tp / gold if gold else 0.0
    out = {"precision": precision, "recall": recall, "f1": f1_score(precision, recall), "tp": int(tp)}
    if tp_pred is not None and tp_pred != tp:
        out["tp_pred"] = int(tp_pred)
    out.update(pred=int(pred), gold=int(gold))
    return out


def f1_from_counts(tp: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Vectorised micro F1 = 2 tp / (pred + gold) (0 where both are 0): for bootstrap resamples."""
    denominator = pred + gold
    return np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)
