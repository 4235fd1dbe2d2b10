"""What AP/AR over the predictions' scores adds to scoring (issue 21). Prints each figure, median of several runs:

  file       Twitter-GMNER v2.0 test, a prediction file made from the gold (seeded): every entity with a random
             score, boxes moved by up to 25% of their size, some types swapped, some boxes nulled, some entities
             dropped, spurious entities with boxes added.
  report     Scorer.report('gmner', 'span') on the scored file (MNER, EEG, GMNER P/R/F1, sweep and AP/AR) against
             the same predictions without their scores (AP/AR then "not computed"): the extra time and the ratio.
  score      the whole in-process score (read + validate + match + report), with and without scores.
  ranking    Scorer.ranking alone (three tasks), and pycocotools' COCOeval (evaluate + accumulate) on the same
             detections of GMNER, one image per (tweet, span), for scale; with the first gold box of each entity
             only (what COCO can hold), the GMNER figures must equal COCOeval's (printed: the largest difference).
  command    smner-bench score as a process, with and without scores (imports included).

Run: .venv/bin/python tests/perf/ranking_perf.py [--data-dir ../shared/data/twitter-gmner/v2.0] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scorer_perf import DEFAULT, median_time  # the sibling script (this folder is on sys.path when run)

from smner_bench.benchmark.gold import Gold, GoldEntity, GoldTweet
from smner_bench.benchmark.metrics import SWEEP
from smner_bench.benchmark.ranking import MAX_DETS
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission
from smner_bench.loaders import load_gold

TYPES = ("PER", "LOC", "ORG", "OTHER")


def scored_predictions(gold, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for line in gold_as_submission(gold, box=True):
        tweet = gold.by_id[line["id"]]
        width, height = tweet.width or 1000, tweet.height or 1000
        entities = []
        for e in line["entities"]:
            if rng.random() < 0.08:
                continue
            e = dict(e, score=rng.random())
            if rng.random() < 0.1:
                e["type"] = rng.choice(TYPES)
            if e["box"] is not None:
                x1, y1, x2, y2 = e["box"]
                dx, dy = rng.uniform(-0.25, 0.25) * (x2 - x1), rng.uniform(-0.25, 0.25) * (y2 - y1)
                x1, x2 = min(max(x1 + dx, 0), width - 1), min(max(x2 + dx, 1), width)
                y1, y2 = min(max(y1 + dy, 0), height - 1), min(max(y2 + dy, 1), height)
                e["box"] = [x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)] if rng.random() > 0.05 else None
            entities.append(e)
        used = {i for e in entities for i in range(e["start"], e["end"])}
        free = [i for i in range(len(tweet.tokens)) if i not in used]
        if free and rng.random() < 0.3:  # a spurious one-token entity with a box
            i = rng.choice(free)
            x, y = rng.uniform(0, width / 2), rng.uniform(0, height / 2)
            entities.append({"start": i, "end": i + 1, "type": rng.choice(TYPES),
                             "box": [x, y, x + rng.uniform(10, width / 2), y + rng.uniform(10, height / 2)],
                             "score": rng.random()})  # fmt: skip
        entities.sort(key=lambda e: e["start"])
        out.append({"id": line["id"], "entities": entities})
    return out


def cocoeval(scorer: Scorer, runs: int) -> tuple[float, np.ndarray]:
    """pycocotools on GMNER's detections, one image per (tweet, span), the first gold box of each entity: its time
    and its summary (AP over the largest cap from its precision array: stats[0] asks for 100 detections)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: dict = {}
    gts = []
    for e in scorer.gold.entities:
        if len(e.boxes):
            x1, y1, x2, y2 = e.boxes[0]
            image = images.setdefault((e.tweet, e.start, e.end), len(images) + 1)
            gts.append({"id": len(gts) + 1, "image_id": image, "category_id": TYPES.index(e.type) + 1, "iscrowd": 0,
                        "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})  # fmt: skip
    dts = []
    for p in scorer.submission.predictions:
        if p.box is not None:
            x1, y1, x2, y2 = p.box
            image = images.setdefault((p.tweet, p.start, p.end), len(images) + 1)
            dts.append({"image_id": image, "category_id": TYPES.index(p.type) + 1, "score": p.score,
                        "bbox": [x1, y1, x2 - x1, y2 - y1]})  # fmt: skip
    dataset = {"images": [{"id": i} for i in images.values()], "categories": [{"id": i + 1} for i in range(4)],
               "annotations": gts}  # fmt: skip

    def run() -> COCOeval:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO()
            coco.dataset = dataset
            coco.createIndex()
            ev = COCOeval(coco, coco.loadRes(dts), "bbox")
            ev.params.iouThrs, ev.params.maxDets = np.array(SWEEP), list(MAX_DETS)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev

    ev = run()
    p = ev.eval["precision"][:, :, :, 0, -1]
    return median_time(run, runs), np.r_[np.mean(p[p > -1]), ev.stats[1:]]


def first_boxes(gold: Gold) -> Gold:
    """The gold with each entity's first box only (what COCO's one annotation per object can hold)."""
    tweets = []
    for t in gold.tweets:
        copy = GoldTweet(t.index, t.id, t.tokens, t.width, t.height)
        copy.entities = [GoldEntity(e.index, e.tweet, e.start, e.end, e.text, e.type, e.boxes[:1], e.masks)
                         for e in t.entities]  # fmt: skip
        tweets.append(copy)
    return Gold(gold.dataset, gold.split, tweets, gold.has_boxes, gold.has_masks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(DEFAULT))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    gold = load_gold("gmner", "test", data_dir=args.data_dir)
    lines = scored_predictions(gold)
    plain_lines = [{"id": x["id"], "entities": [{k: v for k, v in e.items() if k != "score"} for e in x["entities"]]}
                   for x in lines]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        scored_path, plain_path = Path(tmp) / "scored.jsonl", Path(tmp) / "plain.jsonl"
        write_submission(scored_path, lines)
        write_submission(plain_path, plain_lines)
        scored = Scorer.build(read_submission(scored_path, gold), gold)
        plain = Scorer.build(read_submission(plain_path, gold), gold)
        report = scored.report("gmner", "span")
        assert report.ranking.results is not None and plain.report("gmner", "span").ranking.results is None
        n = len(scored.submission.predictions)
        boxes = sum(p.box is not None for p in scored.submission.predictions)
        print(f"{gold.name}: {n} predicted entities ({boxes} with a box), {len(gold.entities)} gold entities")
        g, mner = report.ranking.results["gmner"], report.ranking.results["mner"]
        print(f"GMNER F1 {100 * report.main.f1:.2f}; AP {100 * g.ap:.2f}, AP50 {100 * g.ap50:.2f}, "
              f"AP75 {100 * g.ap75:.2f}, AR10 {100 * g.ar_10:.2f}; MNER AP {100 * mner.ap:.2f}")  # fmt: skip

        with_ap = median_time(lambda: scored.report("gmner", "span"), args.runs)
        without = median_time(lambda: plain.report("gmner", "span"), args.runs)
        print(f"report (gold loaded, matched once): {1000 * with_ap:.1f} ms with AP/AR, {1000 * without:.1f} ms "
              f"without: +{1000 * (with_ap - without):.1f} ms, ratio {with_ap / without:.2f}")  # fmt: skip

        def whole(path: Path) -> None:
            Scorer.build(read_submission(path, gold), gold).report("gmner", "span")

        whole_with, whole_without = median_time(lambda: whole(scored_path), args.runs), median_time(
            lambda: whole(plain_path), args.runs
        )
        print(f"score in process (read, validate, match, report): {1000 * whole_with:.1f} ms with scores, "
              f"{1000 * whole_without:.1f} ms without: +{1000 * (whole_with - whole_without):.1f} ms, "
              f"ratio {whole_with / whole_without:.2f}")  # fmt: skip
        tasks = scored.tasks("gmner")
        alone = median_time(lambda: scored.ranking(tasks, "span"), args.runs)
        first = first_boxes(gold)
        one_box = Scorer.build(read_submission(scored_path, first), first)
        seconds, stats = cocoeval(one_box, args.runs)
        ours = one_box.report("gmner", "span").ranking.results["gmner"].model_dump()
        ours = np.array([-1 if v is None else v for v in ours.values()])
        comparable = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11]  # AR at caps 1 and 3 count per image (here a span): not these
        diff = float(np.max(np.abs(ours[comparable] - stats[comparable])))
        print(f"ranking alone ({', '.join(tasks)}): {1000 * alone:.1f} ms; pycocotools COCOeval (evaluate, "
              f"accumulate, summarize), GMNER only: {1000 * seconds:.1f} ms")
        print(f"first box of each gold entity only: GMNER AP/AR equal COCOeval's to {diff:.1e} (AP "
              f"{100 * ours[0]:.2f}, AP50 {100 * ours[1]:.2f}, APs/m/l {100 * ours[3]:.2f}/{100 * ours[4]:.2f}/"
              f"{100 * ours[5]:.2f})")  # fmt: skip

        def command(path: Path) -> None:
            argv = [sys.executable, "-m", "smner_bench.cli", "score", str(path), "--dataset", "gmner", "--split",
                    "test", "--data-dir", args.data_dir]  # fmt: skip
            subprocess.run(argv, check=True, capture_output=True)

        command(scored_path)  # the gold cache is written once
        cli_with = median_time(lambda: command(scored_path), 5)
        cli_without = median_time(lambda: command(plain_path), 5)
        print(f"smner-bench score (a process, gold cached): {cli_with:.2f} s with scores, {cli_without:.2f} s "
              f"without: +{1000 * (cli_with - cli_without):.0f} ms, ratio {cli_with / cli_without:.2f}")


if __name__ == "__main__":
    main()
