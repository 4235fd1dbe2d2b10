"""AP/AR over the predictions' scores (benchmark/ranking.py): hand-computed cases, equality with pycocotools'
COCOeval on seeded random cases (boxes and masks, text and span matching), and the no-score / partial-score paths."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from smner_bench.benchmark import gold_from_rows, parse_submission, score_lines
from smner_bench.benchmark.metrics import SWEEP
from smner_bench.benchmark.ranking import MAX_DETS, evaluate, summarize
from smner_bench.benchmark.regions import box_iou_pairs, encode_rle
from smner_bench.benchmark.scoring import Scorer, format_report

# --- a hand-computed case -------------------------------------------------------------------------------------
# Gold: Ann (tweet A, a large box, 100x100) and Cat (tweet B, a medium box, 50x50), both PER.
# Detections by score: Bob .95 (tweet A, a span with no gold entity: a false positive whatever its box),
# Ann .9 (IoU 1), Cat .8 (40x40 inside the gold 50x50: IoU .64, right up to the threshold .60).
HAND_GOLD = [
    {"id": "A", "tokens": ["Ann", "met", "Bob"], "width": 400, "height": 200,
     "entities": [{"start": 0, "end": 1, "text": "Ann", "type": "PER", "boxes": [[0, 0, 100, 100]]}]},
    {"id": "B", "tokens": ["Cat", "sings"], "width": 400, "height": 200,
     "entities": [{"start": 0, "end": 1, "text": "Cat", "type": "PER", "boxes": [[0, 0, 50, 50]]}]},
]  # fmt: skip
HAND_PREDICTIONS = [
    {"id": "A", "entities": [
        {"start": 0, "end": 1, "type": "PER", "box": [0, 0, 100, 100], "score": 0.9},
        {"start": 2, "end": 3, "type": "PER", "box": [200, 0, 300, 100], "score": 0.95}]},
    {"id": "B", "entities": [{"start": 0, "end": 1, "type": "PER", "box": [0, 0, 40, 40], "score": 0.8}]},
]  # fmt: skip
# At the 3 thresholds .50-.60: FP, TP, TP of 2 gold: the interpolated precision is 2/3 at every recall point.
# At the 7 thresholds .65-.95: FP, TP, FP: precision 1/2 up to recall .5 (51 of the 101 points), then 0.
LOW, HIGH = 2 / 3, 51 * 0.5 / 101
HAND = {
    "ap": (3 * LOW + 7 * HIGH) / 10,
    "ap50": LOW,
    "ap75": HIGH,
    "ap_small": None,  # no gold entity below 32^2
    "ap_medium": 3 / 10,  # Cat alone: found at .50-.60 (AP 1), a false positive above (AP 0)
    "ap_large": 0.5,  # Ann: Bob's large box before it; Cat's detection is medium, ignored there
    "ar_1": (3 * 0.5) / 10,  # one detection per tweet and type: tweet A keeps Bob (.95) and loses Ann
    "ar_3": (3 * 1 + 7 * 0.5) / 10,
    "ar_10": (3 * 1 + 7 * 0.5) / 10,
    "ar_small": None,
    "ar_medium": 3 / 10,
    "ar_large": 1.0,
}


def hand_gold():
    return gold_from_rows(HAND_GOLD, dataset="hand", split="test", has_boxes=True, has_masks=False)


def approx(figures: dict) -> dict:
    return {k: (None if v is None else pytest.approx(v)) for k, v in figures.items()}


def test_hand_computed_ap_ar():
    report = score_lines([json.dumps(x) for x in HAND_PREDICTIONS], hand_gold())
    ranking = report.ranking
    assert ranking.reason is None and list(ranking.results) == ["mner", "eeg", "gmner"]
    assert ranking.results["gmner"].model_dump() == approx(HAND)
    assert ranking.results["eeg"].model_dump() == approx(HAND)  # one type: pooling is the same here
    # MNER, entity level: Bob (FP), Ann, Cat: precision 2/3 at every recall point; one per tweet finds Cat only
    assert ranking.results["mner"].model_dump() == approx({"ap": LOW, "ar_1": 0.5, "ar_3": 1.0, "ar_10": 1.0})


def test_null_regions_and_ungroundable_entities():
    """A null box is not a detection (GMNER AP unchanged, MNER AP counts it); a box on an entity that is not in the
    image is a false positive; a groundable entity predicted with a null box is missed."""
    rows = [dict(r) for r in HAND_GOLD]
    rows[0] = {**rows[0], "entities": [*rows[0]["entities"],
                                       {"start": 2, "end": 3, "text": "Bob", "type": "PER", "boxes": []}]}  # fmt: skip
    gold = gold_from_rows(rows, dataset="hand", split="test", has_boxes=True, has_masks=False)
    ranking = score_lines([json.dumps(x) for x in HAND_PREDICTIONS], gold).ranking
    assert ranking.results["gmner"].model_dump() == approx(HAND)  # Bob is not in the image: his box stays wrong
    assert ranking.results["mner"].ap == pytest.approx(1.0)  # MNER: Bob is now right
    null_bob = json.loads(json.dumps(HAND_PREDICTIONS))
    null_bob[0]["entities"][1]["box"] = None  # right for GMNER's F1, and no detection for AP
    ranking = score_lines([json.dumps(x) for x in null_bob], gold).ranking
    assert ranking.results["gmner"].ap50 == pytest.approx(1.0) and ranking.results["gmner"].ar_10 == pytest.approx(
        (3 * 1 + 7 * 0.5) / 10
    )
    null_cat = json.loads(json.dumps(null_bob))
    null_cat[1]["entities"][0]["box"] = None  # Cat is in the image: missed
    assert score_lines([json.dumps(x) for x in null_cat], gold).ranking.results["gmner"].ar_10 == pytest.approx(0.5)


def test_a_detection_only_matches_what_the_mode_calls_the_same_entity():
    """Two gold "Ann" in one tweet; the prediction on the second span has the first one's box: span matching finds
    no match (other span), text matching does (same text); a wrong type never matches."""
    rows = [{"id": "A", "tokens": ["Ann", "and", "Ann"], "width": 400, "height": 200, "entities": [
        {"start": 0, "end": 1, "text": "Ann", "type": "PER", "boxes": [[0, 0, 100, 100]]},
        {"start": 2, "end": 3, "text": "Ann", "type": "PER", "boxes": [[200, 0, 300, 100]]}]}]  # fmt: skip
    gold = gold_from_rows(rows, dataset="hand", split="test", has_boxes=True, has_masks=False)
    line = {"id": "A", "entities": [{"start": 2, "end": 3, "type": "PER", "box": [0, 0, 100, 100], "score": 1.0}]}
    span = score_lines([json.dumps(line)], gold, match="span").ranking.results["gmner"]
    text = score_lines([json.dumps(line)], gold, match="text").ranking.results["gmner"]
    assert span.ap == 0.0 and span.ar_10 == 0.0
    assert text.ap == pytest.approx(51 / 101) and text.ar_10 == pytest.approx(0.5)  # precision 1 up to recall .5
    line["entities"][0]["type"] = "LOC"
    retyped = score_lines([json.dumps(line)], gold, match="text").ranking.results["gmner"]
    assert retyped.ap == 0.0 and retyped.ar_10 == 0.0  # PER: nothing found; LOC: no gold, not averaged


# --- no score, partial scores, entity-box ---------------------------------------------------------------------


def without(predictions, tweet, entity):
    out = json.loads(json.dumps(predictions))
    del out[tweet]["entities"][entity]["score"]
    return out


def test_without_scores_the_report_says_not_computed():
    lines = [json.dumps(x) for x in without(without(without(HAND_PREDICTIONS, 0, 0), 0, 1), 1, 0)]
    report = score_lines(lines, hand_gold())
    data = report.model_dump()
    assert data["ranking"]["results"] is None and data["ranking"]["reason"] == "predictions carry no score"
    assert "\nAP/AR: not computed (predictions carry no score)" in format_report(report)


def test_partial_scores_name_the_entity_that_lacks_one():
    lines = [json.dumps(x) for x in without(HAND_PREDICTIONS, 0, 1)]
    report = score_lines(lines, hand_gold(), name="p.jsonl")
    reason = (
        "p.jsonl:1: entities[1].score: missing (tweet 'A'); 1 of 3 predictions lack a score: give every prediction one"
    )
    assert report.ranking.results is None and report.ranking.reason == reason
    assert f"AP/AR: not computed ({reason})" in format_report(report)


def test_entity_box_matching_ranks_nothing():
    ranking = score_lines([json.dumps(x) for x in HAND_PREDICTIONS], hand_gold(), match="entity-box").ranking
    assert ranking.results is None and ranking.reason.startswith("entity-box matching counts entity-box rows")
    plain = [json.dumps(x) for x in without(without(without(HAND_PREDICTIONS, 0, 0), 0, 1), 1, 0)]
    assert score_lines(plain, hand_gold(), match="entity-box").ranking.reason == "predictions carry no score"


def test_terminal_table_and_json_round_trip():
    from smner_bench.benchmark import ScoreReport

    report = score_lines([json.dumps(x) for x in HAND_PREDICTIONS], hand_gold())
    table = format_report(report)
    assert "AP/AR over the predictions' scores" in table and "at most 10 detections per tweet and type" in table
    header = next(line for line in table.splitlines() if line.strip().startswith("AP "))
    assert header.split() == ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR3", "AR10", "ARs", "ARm", "ARl"]
    gmner = next(line for line in table.splitlines() if line.startswith("GMNER") and "n/a" in line)
    assert gmner.split()[1:] == [f"{100 * v:.2f}" if v is not None else "n/a" for v in HAND.values()]
    mner = next(line for line in table.splitlines() if line.startswith("MNER") and line.count(".") == 4)
    assert mner.split()[1:] == ["66.67", "50.00", "100.00", "100.00"]
    data = json.loads(json.dumps(report.model_dump()))
    assert data["ranking"]["results"]["gmner"]["ap_small"] is None  # explicit null: no small gold entity
    assert data["ranking"]["max_dets"] == list(MAX_DETS)
    assert ScoreReport.model_validate(data) == report


# --- equality with pycocotools' COCOeval -----------------------------------------------------------------------

TYPES = ("PER", "LOC", "ORG", "OTHER")
SIZE = 120  # image side: gold areas fall in all three COCO ranges


def random_box(rng):
    x, y = rng.uniform(0, SIZE - 12, 2)
    w, h = rng.uniform(4, SIZE - x), rng.uniform(4, SIZE - y)
    return [float(x), float(y), float(x + w), float(y + h)]


def near(rng, box):
    b = np.array(box)
    s = b[2:] - b[:2]
    b = b + rng.normal(0, 0.12, 4) * np.r_[s, s]
    b = np.clip(b, 0, SIZE)
    b[2:] = np.maximum(b[2:], b[:2] + 1)
    return b.tolist()


def mask_of(box):
    m = np.zeros((SIZE, SIZE), dtype=np.uint8)
    x1, y1, x2, y2 = (round(v) for v in box)
    m[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)] = 1
    return m


def random_case(rng, masks: bool):
    """Tweets of 8 tokens "x": every entity has the text "x", so text matching lets any detection of a tweet
    match any gold entity of its type, as COCOeval does within an image and category."""
    rows, lines = [], []
    for t in range(int(rng.integers(1, 6))):
        spans = rng.permutation(8)
        gold_spans, pred_spans = spans[: rng.integers(0, 5)], rng.permutation(8)[: rng.integers(0, 7)]
        entities = []
        for s in gold_spans:
            box = random_box(rng)
            e = {"start": int(s), "end": int(s) + 1, "text": "x", "type": str(rng.choice(TYPES)), "boxes": [box]}
            if masks:
                e["masks"] = [encode_rle(mask_of(box))]
            entities.append(e)
        rows.append({"id": f"t{t}", "tokens": ["x"] * 8, "width": SIZE, "height": SIZE, "entities": entities})
        preds = []
        for s in sorted(pred_spans.tolist()):
            if entities and rng.random() < 0.75:
                g = entities[int(rng.integers(len(entities)))]
                kind = g["type"] if rng.random() < 0.85 else str(rng.choice(TYPES))
                box = near(rng, g["boxes"][0])
            else:
                kind, box = str(rng.choice(TYPES)), random_box(rng)
            p = {"start": s, "end": s + 1, "type": kind, "box": box, "score": float(rng.random())}
            if masks:
                p["mask"] = encode_rle(mask_of(box))
            preds.append(p)
        lines.append({"id": f"t{t}", "entities": preds})
    return rows, lines


def coco_stats(rows, lines, masks: bool, image_of=lambda tweet, entity: tweet) -> np.ndarray:
    """COCOeval's summary (AP over the largest cap computed from its precision array, as stats[0] asks for 100
    detections) with images given by ``image_of(tweet index, entity)`` and categories the types."""
    images: dict = {}
    gts, dts = [], []
    for t, (row, line) in enumerate(zip(rows, lines, strict=True)):
        for e in row["entities"]:
            x1, y1, x2, y2 = e["boxes"][0]
            image = images.setdefault(image_of(t, e), len(images) + 1)
            ann = {"id": len(gts) + 1, "image_id": image, "category_id": TYPES.index(e["type"]) + 1, "iscrowd": 0,
                   "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)}  # fmt: skip
            if masks:
                from pycocotools import mask as mask_utils

                m = e["masks"][0]
                ann["segmentation"] = {"size": m["size"], "counts": m["counts"].encode()}
                ann["area"] = float(mask_utils.area(ann["segmentation"]))
            gts.append(ann)
        for p in line["entities"]:
            x1, y1, x2, y2 = p["box"]
            image = images.setdefault(image_of(t, p), len(images) + 1)
            d = {"image_id": image, "category_id": TYPES.index(p["type"]) + 1, "score": p["score"]}
            if masks:
                d["segmentation"] = {"size": p["mask"]["size"], "counts": p["mask"]["counts"].encode()}
            else:
                d["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            dts.append(d)
    order = sorted(images, key=lambda k: images[k])  # image ids in the order of the tweets
    dataset = {"images": [{"id": images[k], "height": SIZE, "width": SIZE} for k in order],
               "categories": [{"id": i + 1} for i in range(len(TYPES))], "annotations": gts}  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dts), "segm" if masks else "bbox")
        ev.params.iouThrs = np.array(SWEEP)
        ev.params.maxDets = list(MAX_DETS)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.eval["precision"][:, :, :, 0, -1]
    return np.r_[np.mean(p[p > -1]) if (p > -1).any() else -1, ev.stats[1:]]


def ours(report) -> np.ndarray:
    return np.array([-1 if v is None else v for v in report.ranking.results[report.task].model_dump().values()])


@pytest.mark.parametrize("masks", [False, True])
def test_equals_cocoeval_on_random_cases_text_matching(masks):
    rng = np.random.default_rng(21 + masks)
    compared = 0
    for _ in range(25 if masks else 60):
        rows, lines = random_case(rng, masks)
        if not any(line["entities"] for line in lines):
            continue
        gold = gold_from_rows(rows, dataset="r", split="test", has_boxes=True, has_masks=masks)
        report = score_lines([json.dumps(x) for x in lines], gold, match="text")
        assert report.task == ("smner" if masks else "gmner")
        np.testing.assert_allclose(ours(report), coco_stats(rows, lines, masks), atol=1e-12)
        compared += 1
    assert compared >= 20


def test_equals_cocoeval_on_random_cases_span_matching():
    """Span matching: COCOeval with one image per (tweet, span) gives the same AP and AR at the largest cap (no
    tweet has more than 10 detections of a type, so the caps never bite differently)."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        rows, lines = random_case(rng, False)
        if not any(line["entities"] for line in lines):
            continue
        gold = gold_from_rows(rows, dataset="r", split="test", has_boxes=True, has_masks=False)
        got = ours(score_lines([json.dumps(x) for x in lines], gold, match="span"))
        want = coco_stats(rows, lines, False, image_of=lambda t, e: (t, e["start"]))
        keep = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11]  # AR at caps 1 and 3 count per image: not comparable here
        np.testing.assert_allclose(got[keep], want[keep], atol=1e-12)


def test_evaluate_equals_cocoeval_with_many_detections_per_image():
    """The array kernel alone, several gold and up to 14 detections per image and category (the greedy matching,
    ignored gold sorted last, the caps), against COCOeval's precision and recall arrays."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        n_img, n_cat = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        gts = [(i, int(rng.integers(n_cat)), random_box(rng)) for i in range(n_img) for _ in range(rng.integers(0, 5))]
        dets = []
        for i in range(n_img):
            for _ in range(int(rng.integers(0, 14))):
                c = int(rng.integers(n_cat))
                same = [g[2] for g in gts if g[0] == i and g[1] == c]
                box = near(rng, same[int(rng.integers(len(same)))]) if same and rng.random() < 0.7 else random_box(rng)
                dets.append((i, c, box, float(rng.random())))
        if not dets:
            continue
        gi, gc = np.array([g[0] for g in gts], dtype=np.int64), np.array([g[1] for g in gts], dtype=np.int64)
        gb = np.array([g[2] for g in gts]).reshape(-1, 4)
        di, dc = np.array([d[0] for d in dets]), np.array([d[1] for d in dets])
        db, ds = np.array([d[2] for d in dets]), np.array([d[3] for d in dets])
        pd, pg = np.nonzero((di[:, None] == gi[None]) & (dc[:, None] == gc[None]))
        area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
        precision, recall = evaluate(ds, di, dc, area(db), gi, gc, area(gb), pd, pg, box_iou_pairs(db[pd], gb[pg]),
                                     n_cats=n_cat)  # fmt: skip
        annotations = [{"id": j + 1, "image_id": i + 1, "category_id": c + 1, "iscrowd": 0,
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])}
                       for j, (i, c, b) in enumerate(gts)]  # fmt: skip
        dataset = {"images": [{"id": i + 1} for i in range(n_img)], "categories": [{"id": c + 1} for c in range(n_cat)],
                   "annotations": annotations}  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO()
            coco.dataset = dataset
            coco.createIndex()
            results = [{"image_id": i + 1, "category_id": c + 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                        "score": s} for i, c, b, s in dets]  # fmt: skip
            ev = COCOeval(coco, coco.loadRes(results), "bbox")
            ev.params.iouThrs, ev.params.maxDets = np.array(SWEEP), list(MAX_DETS)
            ev.evaluate()
            ev.accumulate()
        np.testing.assert_allclose(precision, ev.eval["precision"], atol=1e-12)
        np.testing.assert_allclose(recall, ev.eval["recall"], atol=1e-12)
        assert summarize(precision, recall)["ap50"] == (None if (p := precision[0, :, :, 0, -1])[p > -1].size == 0
                                                        else pytest.approx(float(np.mean(p[p > -1]))))  # fmt: skip


def test_scorer_matches_once_for_every_report():
    """The ranking reads the scorer's pair table: a second report in another mode builds nothing new."""
    gold = hand_gold()
    scorer = Scorer.build(parse_submission([json.dumps(x) for x in HAND_PREDICTIONS], gold), gold)
    table = scorer.table
    assert scorer.report("gmner", "span").ranking.results["gmner"].ap50 == pytest.approx(LOW)
    assert scorer.report("gmner", "text").ranking.results["gmner"].ap50 == pytest.approx(LOW)
    assert scorer.table is table


def test_properties_on_random_cases():
    """The gold itself, with any scores, has every defined figure 1; AP/AR depend on the order of the scores only
    (a monotone map changes nothing); AR never falls when the cap grows."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        rows, lines = random_case(rng, False)
        gold = gold_from_rows(rows, dataset="r", split="test", has_boxes=True, has_masks=False)
        perfect = [{"id": r["id"], "entities": [{"start": e["start"], "end": e["end"], "type": e["type"],
                                                 "box": e["boxes"][0], "score": float(rng.random())}
                                                for e in r["entities"]]} for r in rows]  # fmt: skip
        if any(r["entities"] for r in rows):
            figures = score_lines([json.dumps(x) for x in perfect], gold).ranking.results["gmner"].model_dump()
            assert all(v == pytest.approx(1.0) for k, v in figures.items() if v is not None and k not in ("ar_1",
                                                                                                        "ar_3"))
        if not any(line["entities"] for line in lines):
            continue
        first = score_lines([json.dumps(x) for x in lines], gold, match="text").ranking.results["gmner"]
        for line in lines:
            for e in line["entities"]:
                e["score"] = float(np.exp(3 * e["score"]) - 7)  # increasing: the same order
        again = score_lines([json.dumps(x) for x in lines], gold, match="text").ranking.results["gmner"]
        assert again == first
        assert (first.ar_1 or 0) <= (first.ar_3 or 0) + 1e-12 <= (first.ar_10 or 0) + 2e-12
