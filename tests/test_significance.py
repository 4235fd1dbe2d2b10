"""The bootstrap draws its resamples in chunks (bounded memory) with the random stream of one draw: the intervals
and p-values of a seed are those of the unchunked code; a p-value is said no finer than its resamples resolve."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from smner_bench.benchmark import significance
from smner_bench.benchmark.metrics import f1_from_counts
from smner_bench.benchmark.significance import bootstrap_interval, format_p, p_resolution, paired_bootstrap


def unchunked_interval(counts, *, resamples, seed, level=0.95):
    """The code before chunking (one (resamples, n) draw), kept here as the reference."""
    n = counts[0].size
    w = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    f1s = f1_from_counts(*(w @ c.astype(np.float64) for c in counts))
    low, high = np.quantile(f1s, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def unchunked_paired(a, b, *, resamples, seed, level=0.95):
    n = a[0].size
    w = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    diffs = f1_from_counts(*(w @ c.astype(np.float64) for c in a)) - f1_from_counts(
        *(w @ c.astype(np.float64) for c in b)
    )
    observed = float(f1_from_counts(*(np.array(c.sum()) for c in a)) - f1_from_counts(*(np.array(c.sum()) for c in b)))
    p = 2 * float(np.mean(diffs <= 0)) if observed > 0 else 2 * float(np.mean(diffs >= 0)) if observed < 0 else 1.0
    low, high = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high), min(1.0, p)


def system(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gold = rng.integers(0, 4, n)
    pred = rng.integers(0, 4, n)
    return np.minimum(gold, pred) - rng.integers(0, 2, n).clip(max=np.minimum(gold, pred)), pred, gold


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_chunked_draws_give_the_unchunked_intervals(seed):
    rng = np.random.default_rng(seed + 100)
    a, b = system(rng, 37), system(rng, 37)
    resamples = 53
    low, high = unchunked_interval(a, resamples=resamples, seed=seed)
    p_low, p_high, p = unchunked_paired(a, b, resamples=resamples, seed=seed)
    assert 0 < p < 1 and low < high  # not a degenerate case
    for chunk in (1, 7, resamples, None):
        r = bootstrap_interval(a, resamples=resamples, seed=seed, chunk=chunk)
        assert (r["low"], r["high"]) == (low, high), chunk
        r = paired_bootstrap(a, b, resamples=resamples, seed=seed, chunk=chunk)
        assert (r["low"], r["high"], r["p_value"]) == (p_low, p_high, p), chunk
        assert r["p_resolution"] == 2 / resamples


def test_the_default_chunk_changes_nothing_either(monkeypatch):
    rng = np.random.default_rng(7)
    a, b = system(rng, 500), system(rng, 500)
    monkeypatch.setattr(significance, "CHUNK_CELLS", 500 * 13)  # 13 resamples a chunk, the last one shorter
    r = paired_bootstrap(a, b, resamples=200, seed=5)
    assert (r["low"], r["high"], r["p_value"]) == unchunked_paired(a, b, resamples=200, seed=5)
    r = bootstrap_interval(a, resamples=200, seed=5)
    assert (r["low"], r["high"]) == unchunked_interval(a, resamples=200, seed=5)


def test_memory_is_bounded_by_the_chunk_not_the_resamples(monkeypatch):
    """3,000 resamples of 1,000 tweets drawn at once take 24 MB of weights (and as much again as floats);
    chunked, the traced peak stays near one chunk's size whatever the count."""
    rng = np.random.default_rng(0)
    a, b = system(rng, 1000), system(rng, 1000)
    monkeypatch.setattr(significance, "CHUNK_CELLS", 100_000)  # 100 resamples (0.8 MB) a chunk
    chunks = list(significance._weights(1000, 250, 0))
    assert [c.shape for c in chunks] == [(100, 1000), (100, 1000), (50, 1000)]
    peaks = {}
    for resamples in (300, 3000):
        tracemalloc.start()
        paired_bootstrap(a, b, resamples=resamples, seed=1)
        peaks[resamples] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert max(peaks.values()) < 4_000_000, peaks  # the unchunked draw alone: 2.4 and 24 MB


def test_p_values_are_printed_no_finer_than_the_resamples_resolve():
    assert p_resolution(10_000) == 0.0002 and p_resolution(1) == 1.0
    assert format_p(0.0, 10_000) == "p < 0.0002"
    assert format_p(0.0, 1000) == "p < 0.002"
    assert format_p(0.0, 3000) == "p < 0.0007"  # 2/3000 = 0.00067, rounded up: still true
    assert format_p(0.0, 100_000) == "p < 0.00002"
    assert format_p(0.046, 1000) == "p = 0.046"
    assert format_p(2 * 123 / 10_000, 10_000) == "p = 0.0246"
    assert format_p(1.0, 1000) == "p = 1.000" and format_p(0.4, 5) == "p = 0.4"
    assert format_p(0.0, 2) == "p < 1" and format_p(1.0, 1) == "p = 1"


def test_a_p_value_of_zero_is_below_the_resolution():
    rng = np.random.default_rng(3)
    b = system(rng, 200)
    a = (b[2], b[2], b[2])  # perfect against imperfect: no resample reverses the sign
    r = paired_bootstrap(a, b, resamples=500, seed=0)
    assert r["p_value"] == 0.0 and r["p_resolution"] == 0.004
    assert format_p(r["p_value"], r["resamples"]) == "p < 0.004"


def test_compare_prints_and_writes_the_p_value_at_its_resolution(capsys, tmp_path, sample_dir, smner_gold):
    from smner_bench.benchmark.submission import gold_as_submission, write_submission
    from smner_bench.cli import main

    perfect, emptied = tmp_path / "perfect.jsonl", tmp_path / "emptied.jsonl"
    lines = gold_as_submission(smner_gold, box=True, mask=True)
    write_submission(perfect, lines)
    write_submission(emptied, [{**line, "entities": line["entities"][1:]} for line in lines])
    gold = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]
    out_json = tmp_path / "compare.json"
    argv = ["compare", str(perfect), str(emptied), *gold, "--resamples", "500", "--json", str(out_json)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["difference"] > 0 and result["p_value"] == 0.0 and result["p_resolution"] == 0.004
    assert "p < 0.004 (paired bootstrap over tweets, 500 resamples" in out and "0.0000" not in out
    assert main([*argv[:-2], "--resamples", "10000"]) == 0
    assert "p < 0.0002 (paired bootstrap" in capsys.readouterr().out
    assert main(["compare", str(emptied), str(emptied), *gold, "--resamples", "1000"]) == 0
    assert "p = 1.000 (paired bootstrap" in capsys.readouterr().out  # the same file: no difference
