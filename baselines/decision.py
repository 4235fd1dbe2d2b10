"""Binary decisions from scores (visual entailment: is the entity in the image?): the dev-accuracy threshold and
the figures reported for it. Pure functions over numpy arrays."""

from __future__ import annotations

import numpy as np


def best_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The threshold with the highest accuracy (ties: the lowest), among the midpoints of the sorted scores."""
    values = np.unique(np.concatenate(([0.0, 1.0], probs)))
    candidates = np.concatenate(([0.5], (values[:-1] + values[1:]) / 2))
    accuracy = [(np.mean((probs >= t) == labels.astype(bool)), -t) for t in candidates]
    return float(-max(accuracy)[1])


def evaluate(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    pred = probs >= threshold
    gold = labels.astype(bool)
    tp = int(np.sum(pred & gold))
    return {
        "accuracy": float(np.mean(pred == gold)),
        "groundable_precision": tp / max(1, int(pred.sum())),
        "groundable_recall": tp / max(1, int(gold.sum())),
        "examples": len(labels),
        "groundable_gold": int(gold.sum()),
        "groundable_predicted": int(pred.sum()),
    }
