"""The same prediction files under every ruler: span, text, riveg and entity-box on two golds of Twitter-GMNER test.

The golds: the v2.0 test release (``load_gold``) and the MQSPN/UnCo authors' gold file
(``peer-gold/unco_twitter_gmner_gt.json``: end inclusive -> exclusive, MISC -> OTHER, one entity per span with all
its boxes; the image sizes of v2.0, the same tweets and tokens). The prediction files, all derived from the v2.0
gold and scored on both: the gold as predictions with its first box per entity (types as written here, and with
OTHER written MISC as the field's systems write it), the UnCo gold the same way, and perturbed sets drawn with fixed
seeds (:func:`perturb`). No GMNER output of this package's baselines is at hand (the RiVEG release import is
MNER-only), so none is scored. The table of docs/scoring.md ("Rulers") is what this prints:

    .venv/bin/python baselines/experiments/rulers_table.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from smner_bench.benchmark import Scorer, gold_from_rows, parse_submission
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.submission import gold_as_submission
from smner_bench.loaders import load_gold

MODES = ("span", "text", "riveg", "entity-box")
SEEDS = ((1, 0.1), (2, 0.25), (3, 0.5))  # (seed, rate of each perturbation)
TYPES = ("PER", "LOC", "ORG", "OTHER")


def unco_gold(path: Path, sizes: Gold) -> Gold:
    """Their gold file as a Gold: end exclusive, MISC -> OTHER, one entity per span with its boxes (their file has
    one row per entity-box pair), the image sizes of ``sizes`` (the same tweets)."""
    size = {t.id: (t.width, t.height) for t in sizes.tweets}
    rows = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        tid, tokens, entities = item["image_id"].removesuffix(".jpg"), item["tokens"], {}
        for g in item["gt_entities"]:
            s, e = g["start"], g["end"] + 1
            kind = "OTHER" if g["entity_type"] == "MISC" else g["entity_type"]
            entity = entities.setdefault((s, e), {"start": s, "end": e, "text": " ".join(tokens[s:e]), "type": kind})
            entity.setdefault("boxes", []).extend([g["region_box"]] if g["region_box"] else [])
        width, height = size.get(tid, (None, None))
        rows.append({"id": tid, "tokens": tokens, "width": width, "height": height, "entities": [*entities.values()]})
    return gold_from_rows(rows, dataset="unco-gold", split="test", has_boxes=True, has_masks=False)


def perturb(gold: Gold, seed: int, rate: float) -> list[dict]:
    """Predictions drawn from ``gold``: each tweet left empty with probability rate/4; each entity dropped (rate/3),
    its span shifted by a token at one end (rate/3), retyped (rate/3, MISC among the types), its box taken at random
    among its boxes and moved by up to half its size (rate), or nulled (rate/4); a box invented for an entity not in
    the image (rate/4); a spurious entity (rate/2). Spans of a tweet never overlap."""
    rng = random.Random(seed)
    return [{"id": t.id, "entities": _perturb_tweet(t, rng, rate)} for t in gold.tweets]


def _perturb_tweet(t, rng: random.Random, rate: float) -> list[dict]:
    n, w, h = len(t.tokens), t.width or 500, t.height or 500
    if rng.random() < rate / 4:
        return []
    taken: list[tuple[int, int]] = []
    out: list[dict] = []

    def add(s: int, e: int, kind: str, box: list | None) -> None:
        if 0 <= s < e <= n and all(e <= a or b <= s for a, b in taken):
            taken.append((s, e))
            out.append({"start": s, "end": e, "type": kind, "box": box})

    def some_box() -> list[float]:
        x1, y1 = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
        return [round(x1, 1), round(y1, 1), round(rng.uniform(x1 + 1, w), 1), round(rng.uniform(y1 + 1, h), 1)]

    for g in t.entities:
        if rng.random() < rate / 3:
            continue
        s, e, kind = g.start, g.end, g.type
        if rng.random() < rate / 3:
            s, e = (s + rng.choice((-1, 1)), e) if rng.random() < 0.5 else (s, e + rng.choice((-1, 1)))
        if rng.random() < rate / 3:
            kind = rng.choice(("PER", "LOC", "ORG", "OTHER", "MISC"))
        boxes = g.boxes.tolist()
        box = list(rng.choice(boxes)) if boxes else None
        if box is not None and rng.random() < rate:
            dx, dy = rng.uniform(-0.5, 0.5) * (box[2] - box[0]), rng.uniform(-0.5, 0.5) * (box[3] - box[1])
            moved = [max(0.0, box[0] + dx), max(0.0, box[1] + dy), min(w, box[2] + dx), min(h, box[3] + dy)]
            box = [round(v, 1) for v in moved] if moved[0] < moved[2] and moved[1] < moved[3] else box
        if rng.random() < rate / 4:
            box = None if box is not None else some_box()
        add(s, e, kind, box)
    if rng.random() < rate / 2:
        s = rng.randrange(n)
        add(s, min(n, s + rng.choice((1, 1, 2))), rng.choice(TYPES), rng.choice((None, some_box())))
    return out


def as_misc(lines: list[dict]) -> list[dict]:
    return [{"id": x["id"], "entities": [{**e, "type": "MISC" if e["type"] == "OTHER" else e["type"]}
                                         for e in x["entities"]]} for x in lines]  # fmt: skip


def spans_only(lines: list[dict]) -> list[dict]:
    """Spans, types and boxes only (no text): the same file is then valid on both golds."""
    return [{"id": x["id"], "entities": [{k: e[k] for k in ("start", "end", "type", "box")} for e in x["entities"]]}
            for x in lines]  # fmt: skip


def why_entity_box(scorer: Scorer) -> dict[str, int]:
    """What moves GMNER from span to entity-box, counted on the data: gold rows of the boxes after an entity's
    first, gold entities of tweets without a prediction, predictions in tweets without gold, predicted rows added
    for a wrong box on a right span and type, right rows of boxes given to an entity not in the image."""
    sub, gold = scorer.submission, scorer.gold
    predicted = {p.tweet for p in sub.predictions}
    has_gold = {t.index for t in gold.tweets if t.entities}
    span = {(p.tweet, p.start, p.end): p for p in sub.predictions}
    out = dict.fromkeys(("more boxes", "gold left out", "pred left out", "added rows", "box on unboxed"), 0)
    for e in gold.entities:
        if e.tweet not in predicted:
            out["gold left out"] += 1
            continue
        out["more boxes"] += max(0, len(e.boxes) - 1)
        p = span.get((e.tweet, e.start, e.end))
        if p is None or p.box is None or p.type != e.type:
            continue
        if not len(e.boxes):
            out["box on unboxed"] += 1
    out["pred left out"] = sum(1 for p in sub.predictions if p.tweet not in has_gold)
    t = scorer.tally("gmner", "entity-box", 0.5)
    out["added rows"] = int((t.pred_rows > 1).sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    args = parser.parse_args()
    data = Path(args.data)
    v2 = load_gold("gmner", "test", data_dir=data / "twitter-gmner" / "v2.0")
    unco = unco_gold(data / "peer-gold" / "unco_twitter_gmner_gt.json", v2)
    golds = (("v2.0 test", v2), ("UnCo gold", unco))
    perfect = spans_only(gold_as_submission(v2, box=True))
    sets = [
        ("v2.0 gold, first box", perfect),
        ("v2.0 gold, first box, OTHER as MISC", as_misc(perfect)),
        ("UnCo gold, first box", spans_only(gold_as_submission(unco, box=True))),
        *((f"perturbed, seed {seed}, rate {rate}", perturb(v2, seed, rate)) for seed, rate in SEEDS),
    ]
    print("GMNER F1 (%) under each ruler; MNER F1 under span (entity-box counts MNER as span does)\n")
    print("| predictions | scored on | span | text | riveg | entity-box | MNER |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    explain = []
    for name, lines in sets:
        for gold_name, gold in golds:
            scorer = Scorer.build(parse_submission(lines, gold, task="gmner", name=name), gold)
            reports = {mode: scorer.report("gmner", mode) for mode in MODES}
            figures = [reports[m].main.f1 for m in MODES] + [reports["span"].results["mner"].f1]
            cells = [f"{100 * f:.2f}" for f in figures]
            print(f"| {name} | {gold_name} | " + " | ".join(cells) + " |")
            span, pair = reports["span"].main, reports["entity-box"].main
            why = why_entity_box(scorer)
            assert pair.tp == span.tp + why["box on unboxed"], name  # the decomposition accounts for every count
            assert pair.pred == span.pred - why["pred left out"] + why["added rows"], name
            assert pair.gold == span.gold - why["gold left out"] + why["more boxes"], name
            explain.append((name, gold_name, span, pair, why))
    print("\nGMNER counts (tp / pred / gold), span -> entity-box, and what the difference comes from\n")
    print("| predictions | scored on | span | entity-box | more boxes | gold left out | pred left out | added rows "
          "| box on unboxed |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, gold_name, span, pair, why in explain:
        counts = f"| {span.tp} / {span.pred} / {span.gold} | {pair.tp} / {pair.pred} / {pair.gold} |"
        print(f"| {name} | {gold_name} {counts} " + " | ".join(str(v) for v in why.values()) + " |")


if __name__ == "__main__":
    main()
