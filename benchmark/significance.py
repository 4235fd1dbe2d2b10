"""Bootstrap over tweets: an interval for one system, a paired test between two.

Tweets are the resampling unit (an entity's correctness depends on its tweet's other entities in the
``text`` and ``riveg`` modes). Each resample draws ``n`` tweets with replacement; micro F1 is recomputed
from the summed counts. Intervals are percentile intervals.

The draws are made in chunks of resamples from one generator, one chunk after the other, so that memory stays
bounded (about :data:`CHUNK_CELLS` weights at a time, whatever the number of resamples) and the random stream,
hence every interval and p-value of a seed, is the one of drawing all resamples at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .metrics import f1_from_counts

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]

CHUNK_CELLS = 2_000_000
"""Resampled weights drawn at a time (resamples x tweets): 16 MB of int64, twice that while summed."""


def _weights(n: int, resamples: int, seed: int, chunk: int | None = None) -> Iterator[np.ndarray]:
    """How many times each tweet is drawn in each resample, ``chunk`` resamples at a time ((chunk, n) arrays;
    by default as many as fit in :data:`CHUNK_CELLS`). One generator draws the chunks in turn: the rows are
    those of a single ``(resamples, n)`` draw of the same seed."""
    rng = np.random.default_rng(seed)
    pvals = np.full(n, 1.0 / n)
    step = chunk or max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, step):
        yield rng.multinomial(n, pvals, size=min(step, resamples - start))


def _f1s(weights: Iterator[np.ndarray], *systems: Counts) -> list[np.ndarray]:
    """Micro F1 of each system in each resample (one array of ``resamples`` values per system)."""
    matrix = np.stack([c.astype(np.float64) for counts in systems for c in counts], axis=1)  # (n, 3 per system)
    sums = np.concatenate([w @ matrix for w in weights])  # exact: integer sums far below 2**53
    return [f1_from_counts(sums[:, 3 * k], sums[:, 3 * k + 1], sums[:, 3 * k + 2]) for k in range(len(systems))]


def _f1(counts: Counts) -> float:
    return float(f1_from_counts(*(np.array(c.sum()) for c in counts)))


def bootstrap_interval(
    counts: Counts, *, resamples: int = 1000, seed: int = 0, level: float = 0.95, chunk: int | None = None
) -> dict:
    """F1 and its percentile interval from per-tweet (tp, pred, gold) counts (``chunk``: resamples drawn at a
    time, which changes nothing but the memory taken).

    >>> ones = np.ones(50, dtype=int)
    >>> r = bootstrap_interval((ones, ones, ones), resamples=200)
    >>> r["f1"], r["low"], r["high"]
    (1.0, 1.0, 1.0)
    """
    (f1s,) = _f1s(_weights(counts[0].size, resamples, seed, chunk), counts)
    alpha = (1 - level) / 2
    low, high = np.quantile(f1s, [alpha, 1 - alpha])
    return {"f1": _f1(counts), "low": float(low), "high": float(high), "level": level, "resamples": resamples,
            "seed": seed}  # fmt: skip


def paired_bootstrap(
    a: Counts, b: Counts, *, resamples: int = 1000, seed: int = 0, level: float = 0.95, chunk: int | None = None
) -> dict:
    """F1(A) - F1(B) on the same tweets, its percentile interval and a two-sided p-value.

    Both systems are scored on the same resampled tweets. The p-value is twice the share of resamples whose
    difference has the other sign than the observed one (or is zero), capped at 1: the probability of the
    observed sign being an accident of the sample. It moves in steps of ``p_resolution`` = 2 / resamples, so
    0 means "below that" (:func:`format_p` says so).
    """
    if a[0].size != b[0].size:
        raise ValueError("the two systems must be counted over the same tweets")
    f1_a, f1_b = _f1(a), _f1(b)
    f1s_a, f1s_b = _f1s(_weights(a[0].size, resamples, seed, chunk), a, b)
    diffs = f1s_a - f1s_b
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
        "p_resolution": p_resolution(resamples),
        "level": level,
        "resamples": resamples,
        "seed": seed,
    }


def p_resolution(resamples: int) -> float:
    """The step of a two-sided bootstrap p-value of ``resamples`` resamples (2 / resamples, at most 1): the
    smallest nonzero p-value it can give.

    >>> p_resolution(10_000)
    0.0002
    """
    return min(1.0, 2 / resamples)


def format_p(p: float, resamples: int) -> str:
    """A bootstrap p-value as its resamples resolve it: ``p < 2/R`` for 0 (the step 2/R rounded up to its first
    digit), else ``p = `` rounded to the decimal place of that step (a 1,000-resample p-value has three).

    >>> format_p(0.0, 10_000), format_p(0.0462, 1000), format_p(0.0, 3000), format_p(0.01333, 3000)
    ('p < 0.0002', 'p = 0.046', 'p < 0.0007', 'p = 0.0133')
    >>> format_p(1.0, 1000), format_p(0.0, 1), format_p(1.0, 1)
    ('p = 1.000', 'p < 1', 'p = 1')
    """
    step = min(Fraction(1), Fraction(2, resamples))
    digits = 0
    while Fraction(1, 10**digits) > step:  # the decimal place of the step's first digit
        digits += 1
    if p == 0:
        return f"p < {math.ceil(step * 10**digits) / 10**digits:.{digits}f}"
    return f"p = {p:.{digits}f}"
