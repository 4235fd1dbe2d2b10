"""Bootstrap over tweets: an interval for one system, a paired test between two.

Tweets are the resampling unit (an entity's correctness depends on its tweet's other entities in the
``text`` and ``riveg`` modes). Each resample draws ``n`` tweets with replacement; micro F1 is recomputed
from the summed counts. Intervals are percentile intervals.
"""

from __future__ import annotations

import numpy as np

from .metrics import f1_from_counts


def _weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """How many times each tweet is drawn in each resample: (resamples, n)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


def _f1s(w: np.ndarray, counts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    tp, pred, gold = (w @ c.astype(np.float64) for c in counts)
    return f1_from_counts(tp, pred, gold)


def bootstrap_interval(
    counts: tuple[np.ndarray, np.ndarray, np.ndarray], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """F1 and its percentile interval from per-tweet (tp, pred, gold) counts.

    >>> ones = np.ones(50, dtype=int)
    >>> r = bootstrap_interval((ones, ones, ones), resamples=200)
    >>> r["f1"], r["low"], r["high"]
    (1.0, 1.0, 1.0)
    """
    tp, pred, gold = counts
    f1 = float(f1_from_counts(np.array(tp.sum()), np.array(pred.sum()), np.array(gold.sum())))
    f1s = _f1s(_weights(tp.size, resamples, seed), counts)
    alpha = (1 - level) / 2
    low, high = np.quantile(f1s, [alpha, 1 - alpha])
    return {"f1": f1, "low": float(low), "high": float(high), "level": level, "resamples": resamples, "seed": seed}


def paired_bootstrap(
    a: tuple[np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """F1(A) - F1(B) on the same tweets, its percentile interval and a two-sided p-value.

    Both systems are scored on the same resampled tweets. The p-value is twice the share of resamples whose
    difference has the other sign than the observed one (or is zero), capped at 1: the probability of the
    observed sign being an accident of the sample.
    """
    if a[0].size != b[0].size:
        raise ValueError("the two systems must be counted over the same tweets")
    f1_a = float(f1_from_counts(np.array(a[0].sum()), np.array(a[1].sum()), np.array(a[2].sum())))
    f1_b = float(f1_from_counts(np.array(b[0].sum()), np.array(b[1].sum()), np.array(b[2].sum())))
    w = _weights(a[0].size, resamples, seed)
    diffs = _f1s(w, a) - _f1s(w, b)
    observed = f1_a - f1_b
    if observed > 0:
        p = 2 * float(np.mean(diffs <= 0))
    elif observed < 0:
        p = 2 * float(np.mean(diffs >= 0))
    else:
        p = 1.0
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return {
        "f1_a": f1_a,
        "f1_b": f1_b,
        "difference": observed,
        "low": float(low),
        "high": float(high),
        "p_value": min(1.0, p),
        "level": level,
        "resamples": resamples,
        "seed": seed,
    }
