"""Scorer performance. Prints each figure (median of several runs) beside its target (issue 3):

  gmner      Twitter-GMNER v2.0 test, a ~2,500-entity submission (the gold, perturbed): all tasks
             (MNER, EEG, GMNER), the three matching modes and the threshold sweep, gold already loaded:
             target <= 0.3 s. Reading + validating the file is printed apart.
  linear     the same split replicated 100 times (150,000 tweets): target <= 100x the time above.
  smner      1,300 gold masks and 2,500 predicted masks at 640x640: all tasks, three modes, sweep: <= 1 s.
  compare    paired bootstrap, 1,000 resamples, on the gmner case: <= 5 s (matching included).

Run: .venv/bin/python tests/perf/scorer_perf.py [--data-dir ../shared/data/twitter-gmner/v2.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets
import numpy as np

from smner_bench.benchmark.gold import Gold, GoldEntity, GoldTweet, gold_from_rows
from smner_bench.benchmark.regions import encode_rle
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.significance import paired_bootstrap
from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission
from smner_bench.loaders import load_split

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data")) / "twitter-gmner" / "v2.0"
MODES = ("span", "text", "riveg")


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def perturb(lines: list[dict], gold: Gold, seed: int = 0) -> list[dict]:
    """Swap some types, jitter boxes, null some regions, drop some entities."""
    rng = random.Random(seed)
    types = ["PER", "LOC", "ORG", "OTHER"]
    out = []
    for line in lines:
        entities = []
        for e in line["entities"]:
            if rng.random() < 0.05:
                continue
            e = dict(e)
            if rng.random() < 0.15:
                e["type"] = rng.choice(types)
            if e.get("box") and rng.random() < 0.3:
                x1, y1, x2, y2 = e["box"]
                width = gold.by_id[line["id"]].width or x2
                d = rng.uniform(-0.4, 0.4) * (x2 - x1)
                d = min(max(d, -x1), width - x2)  # stay inside the image
                e["box"] = [x1 + d, y1, x2 + d, y2]
            if "box" in e and rng.random() < 0.05:
                e["box"] = None
            entities.append(e)
        out.append({"id": line["id"], "entities": entities})
    return out


def score_all(scorer: Scorer) -> None:
    for mode in MODES:
        scorer.report(None, mode, 0.5)


def replicate(gold: Gold, times: int) -> Gold:
    tweets = []
    n = 0
    for r in range(times):
        for t in gold.tweets:
            copy = GoldTweet(len(tweets), f"{t.id}#{r}", t.tokens, t.width, t.height)
            for e in t.entities:
                copy.entities.append(GoldEntity(n, copy.index, e.start, e.end, e.text, e.type, e.boxes, e.masks))
                n += 1
            tweets.append(copy)
    return Gold(gold.dataset, f"{gold.split}x{times}", tweets, gold.has_boxes, gold.has_masks)


def mask_case(tmp: Path, runs: int) -> tuple[float, int, int]:
    rng = np.random.default_rng(0)
    size = 640
    yy, xx = np.mgrid[:size, :size]

    def blob() -> tuple[dict, list[float]]:
        cx, cy, rx, ry = rng.uniform(100, 540), rng.uniform(100, 540), rng.uniform(20, 90), rng.uniform(20, 90)
        m = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        return encode_rle(m), [cx - rx, cy - ry, cx + rx, cy + ry]

    rows, n_gold = [], 0
    for i in range(1000):
        entities = []
        for k in range(2):
            grounded = n_gold < 1300 and rng.random() < 0.66
            rle, box = blob() if grounded else (None, None)
            n_gold += grounded
            entities.append(
                {
                    "start": k,
                    "end": k + 1,
                    "text": f"w{k}",
                    "type": "PER",
                    "boxes": [box] if grounded else [],
                    "masks": [rle] if grounded else [],
                }
            )
        rows.append({"id": str(i), "tokens": ["w0", "w1", "w2"], "width": size, "height": size, "entities": entities})
    gold = gold_from_rows(rows, dataset="masks", split="test", has_boxes=True, has_masks=True)
    lines = gold_as_submission(gold, box=True, mask=True)
    n_pred = 0
    for line in lines:
        for e in line["entities"]:
            if e["mask"] is None:
                e["mask"], e["box"] = blob()  # a predicted mask for an ungroundable entity
            n_pred += 1
        line["entities"].append({"start": 2, "end": 3, "text": "w2", "type": "ORG", "box": None, "mask": None})
        n_pred += 1
    # 2,000 masked entities above; add masks on the extra entities until 2,500 predicted masks
    for line in lines[:500]:
        e = line["entities"][-1]
        e["mask"], e["box"] = blob()
    path = tmp / "masks.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, gold)
    n_masks = sum(p.mask is not None for p in sub.predictions)
    t = median_time(lambda: score_all(Scorer.build(sub, gold)), runs)
    return t, sum(len(e.masks) for e in gold.entities), n_masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    datasets.disable_progress_bars()
    logging.getLogger("smner_bench").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = load_split("gmner", args.data_dir.resolve(), "test", cache_dir=tmp / "cache")
        gold = gold_from_rows(rows, dataset="gmner", split="test", has_boxes=True, has_masks=False)
        lines = perturb(gold_as_submission(gold, box=True), gold)
        path = tmp / "gmner.jsonl"
        write_submission(path, lines)
        t_read = median_time(lambda: read_submission(path, gold), args.runs)
        sub = read_submission(path, gold)
        t_gmner = median_time(lambda: score_all(Scorer.build(sub, gold)), args.runs)

        big = replicate(gold, 100)
        big_lines = [{"id": f"{line['id']}#{r}", "entities": line["entities"]} for r in range(100) for line in lines]
        big_path = tmp / "big.jsonl"
        write_submission(big_path, big_lines)
        big_sub = read_submission(big_path, big)
        t_big = median_time(lambda: score_all(Scorer.build(big_sub, big)), args.runs)

        t_masks, n_gold_masks, n_pred_masks = mask_case(tmp, args.runs)

        write_submission(tmp / "b.jsonl", perturb(gold_as_submission(gold, box=True), gold, seed=1))
        other = read_submission(tmp / "b.jsonl", gold)

        def compare() -> None:
            a, b = Scorer.build(sub, gold), Scorer.build(other, gold)
            paired_bootstrap(a.per_tweet("gmner", "span", 0.5), b.per_tweet("gmner", "span", 0.5), resamples=1000)

        t_compare = median_time(compare, args.runs)

    print(f"gmner/test: {len(sub.predictions)} predicted entities, {len(gold.entities)} gold; median of {args.runs}")
    print(f"read + validate the file               {t_read:7.3f} s")
    print(f"score: 3 tasks x 3 modes + sweep        {t_gmner:7.3f} s   target <= 0.3 s")
    print(f"100x split ({len(big.tweets)} tweets)        {t_big:7.3f} s   {t_big / t_gmner:5.1f}x   target <= 100x")
    print(
        f"smner: {n_gold_masks} gold / {n_pred_masks} predicted masks at 640x640, 5 tasks x 3 modes + sweep "
        f"{t_masks:7.3f} s   target <= 1 s"
    )
    print(f"compare, 1000 resamples                  {t_compare:7.3f} s   target <= 5 s")


if __name__ == "__main__":
    main()
