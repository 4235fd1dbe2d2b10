"""``--match entity-box``: the pair counting of the UnCo evaluator (github.com/tangjielong928/UnCo, ``evaluator.py``
and ``utils.py``), each of its rules on a hand-made case, then equality with an independent re-implementation of
that evaluator (:func:`unco_counts`, loops over plain tuples as their code does) on the real Twitter-GMNER v2.0
test gold and on their own gold file, with perturbed predictions drawn with fixed seeds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from smner_bench.benchmark import gold_from_rows, score_lines
from smner_bench.benchmark.errors import SmnerError, UsageError
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.registry import EVALUATORS, MATCH_MODES
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.submission import gold_as_submission, parse_submission

TYPES = ("PER", "LOC", "ORG", "OTHER")
BOX_A, BOX_B, BOX_C = [0, 0, 10, 10], [50, 50, 70, 70], [20, 0, 40, 30]
FAR = [80, 80, 95, 95]  # IoU 0 with every box above


def gold_of(*tweets: tuple[str, str, list]) -> Gold:
    """``(id, text, [(start, end, type, boxes), ...])`` per tweet, on 100 x 100 images."""
    rows = []
    for tid, text, entities in tweets:
        tokens = text.split()
        rows.append({
            "id": tid, "tokens": tokens, "width": 100, "height": 100,
            "entities": [{"start": s, "end": e, "text": " ".join(tokens[s:e]), "type": t, "boxes": boxes}
                         for s, e, t, boxes in entities],
        })  # fmt: skip
    return gold_from_rows(rows, dataset="hand", split="test", has_boxes=True, has_masks=False)


def counts(gold: Gold, lines: list[dict], match: str = "entity-box", iou: float = 0.5) -> dict[str, tuple]:
    report = score_lines(lines, gold, task="gmner", match=match, iou=iou)
    return {task: (r.tp, r.pred, r.gold) for task, r in report.results.items()}


def line(tid: str, *entities: tuple) -> dict:
    return {"id": tid, "entities": [{"start": s, "end": e, "type": t, "box": box} for s, e, t, box in entities]}


# --- 1. each rule on a hand-made case -------------------------------------------------------------------------


def test_the_registry_names_the_mode_and_the_convention_it_reproduces():
    assert "entity-box" in MATCH_MODES
    unco = EVALUATORS["unco-pairs"]
    assert unco.match == "entity-box" and unco.unit == "entity-box pair" and unco.identity == "span"


def test_a_multi_box_entity_is_one_gold_row_per_box_and_a_prediction_finds_one():
    """Three boxes: three gold rows; a box on the second is one right row of three (span: one right entity)."""
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A, BOX_B, BOX_C])]))
    pred = [line("t", (0, 1, "PER", [51, 50, 70, 70]))]
    assert counts(gold, pred) == {"mner": (1, 1, 1), "eeg": (1, 1, 3), "gmner": (1, 1, 3)}
    assert counts(gold, pred, "span") == {"mner": (1, 1, 1), "eeg": (1, 1, 1), "gmner": (1, 1, 1)}
    # a box that reaches 0.5 with two boxes of the entity takes the first pair only: still one right row
    twin = gold_of(("t", "Ann", [(0, 1, "PER", [BOX_A, [0, 0, 10, 9]])]))
    assert counts(twin, [line("t", (0, 1, "PER", [0, 0, 10, 9.5]))])["gmner"] == (1, 1, 2)


def test_an_unboxed_gold_entity_is_one_row_and_a_box_on_it_is_one_right_and_one_wrong_row():
    """Their utils.collect adds "(span, type, not in the image)" to the predictions when a prediction's region is
    wrong for a gold row of its span and type: for an entity not in the image that added row is the gold row."""
    gold = gold_of(("t", "Paris is nice", [(0, 1, "LOC", [])]))
    assert counts(gold, [line("t", (0, 1, "LOC", None))])["gmner"] == (1, 1, 1)
    assert counts(gold, [line("t", (0, 1, "LOC", BOX_A))]) == {"mner": (1, 1, 1), "eeg": (1, 2, 1), "gmner": (1, 2, 1)}
    assert counts(gold, [line("t", (0, 1, "LOC", BOX_A))], "span")["gmner"] == (0, 1, 1)


def test_a_wrong_box_on_a_right_span_counts_two_predicted_rows():
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A])]))
    assert counts(gold, [line("t", (0, 1, "PER", FAR))]) == {"mner": (1, 1, 1), "eeg": (0, 2, 1), "gmner": (0, 2, 1)}
    # "not in the image" for an entity in it: the added row is the prediction itself, one wrong row
    assert counts(gold, [line("t", (0, 1, "PER", None))]) == {"mner": (1, 1, 1), "eeg": (0, 1, 1), "gmner": (0, 1, 1)}
    # the threshold decides what misses: IoU 0.64 is right at 0.5 and a miss (two rows) at 0.7
    near = [line("t", (0, 1, "PER", [0, 0, 8, 8]))]
    assert counts(gold, near, iou=0.5)["gmner"] == (1, 1, 1)
    assert counts(gold, near, iou=0.7)["gmner"] == (0, 2, 1)
    report = score_lines(near, gold, task="gmner", match="entity-box")
    assert report.main.sweep.tp == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert report.main.sweep.f1[3] == 0.0 and report.main.sweep.f1[0] == 1.0


def test_a_wrong_type_is_one_wrong_gmner_row_and_no_added_row():
    """GMNER keys rows by (span, type): a wrong type shares no gold row's key, so nothing is added; EEG drops the
    type, so the same prediction is right there (right box) or two rows (wrong box)."""
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A])]))
    assert counts(gold, [line("t", (0, 1, "ORG", BOX_A))]) == {"mner": (0, 1, 1), "eeg": (1, 1, 1), "gmner": (0, 1, 1)}
    assert counts(gold, [line("t", (0, 1, "ORG", FAR))]) == {"mner": (0, 1, 1), "eeg": (0, 2, 1), "gmner": (0, 1, 1)}
    unboxed = gold_of(("t", "Paris is nice", [(0, 1, "LOC", [])]))
    assert counts(unboxed, [line("t", (0, 1, "ORG", BOX_A))]) == {
        "mner": (0, 1, 1), "eeg": (1, 2, 1), "gmner": (0, 1, 1)}  # fmt: skip
    # MISC is OTHER, as in their label set (MISC) and this package's (OTHER)
    other = gold_of(("t", "Ann and Bob", [(0, 1, "OTHER", [BOX_A])]))
    assert counts(other, [line("t", (0, 1, "MISC", BOX_A))])["gmner"] == (1, 1, 1)


def test_a_box_on_a_span_without_gold_is_one_wrong_row():
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A])]))
    assert counts(gold, [line("t", (0, 1, "PER", BOX_A), (2, 3, "PER", BOX_A))])["gmner"] == (1, 2, 1)
    assert counts(gold, [line("t", (0, 1, "PER", BOX_A), (1, 3, "PER", FAR))])["gmner"] == (1, 2, 1)


def test_tweets_without_gold_or_without_predictions_are_left_out_of_eeg_and_gmner():
    """Their convert_for_bbox returns no rows at all for a tweet whose gold or prediction list is empty: its gold
    rows are not missed and its predictions are not wrong in GMNER and EEG; MNER counts them."""
    gold = gold_of(
        ("a", "Ann and Bob", [(0, 1, "PER", [BOX_A, BOX_B]), (2, 3, "PER", [])]),
        ("b", "hello world", []),
        ("c", "Paris is nice", [(0, 1, "LOC", [BOX_C])]),
    )
    lines = [line("a"), line("b", (0, 1, "ORG", None)), line("c", (0, 1, "LOC", BOX_C))]
    assert counts(gold, lines) == {"mner": (1, 2, 3), "eeg": (1, 1, 1), "gmner": (1, 1, 1)}
    assert counts(gold, lines, "span") == {"mner": (1, 2, 3), "eeg": (1, 2, 3), "gmner": (1, 2, 3)}
    # missing tweets (--allow-missing) are empty tweets
    report = score_lines(lines[2:], gold, task="gmner", match="entity-box", allow_missing=True)
    assert (report.main.tp, report.main.pred, report.main.gold) == (1, 1, 1)
    # per tweet (the bootstrap's unit) the same rows
    scorer = Scorer.build(parse_submission(lines, gold, task="gmner"), gold)
    tp, pred, golds = scorer.per_tweet("gmner", "entity-box", 0.5)
    assert (tp.tolist(), pred.tolist(), golds.tolist()) == ([0, 0, 1], [0, 0, 1], [0, 0, 1])


def test_duplicate_predictions_of_one_span_cannot_reach_the_mode():
    """Their evaluator keeps predictions in a set (an exact duplicate counts once, the same span with two boxes
    can find two rows of one entity); a submission gives each span once, so neither happens here: a duplicate
    span is refused, naming it, before anything is counted."""
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A, BOX_B])]))
    twice = [line("t", (0, 1, "PER", BOX_A), (0, 1, "PER", BOX_B))]
    with pytest.raises(SmnerError, match=r"duplicate span \[0, 1\)"):
        score_lines(twice, gold, task="gmner", match="entity-box")
    # the oracle below, fed the duplicates directly, shows what their set semantics would give
    rows = [[(0, 0, "PER", BOX_A), (0, 0, "PER", BOX_B)]]
    assert unco_counts(rows, [[(0, 0, "PER", BOX_A), (0, 0, "PER", BOX_B)]])["gmner"] == (2, 2, 2)
    assert unco_counts(rows, [[(0, 0, "PER", BOX_A), (0, 0, "PER", BOX_A)]])["gmner"] == (1, 1, 2)


def test_mner_is_counted_per_entity_exactly_as_span():
    gold = gold_of(
        ("a", "Ann and Bob", [(0, 1, "PER", [BOX_A, BOX_B]), (2, 3, "PER", [])]),
        ("b", "hello world", []),
    )
    lines = [line("a", (0, 1, "PER", FAR), (2, 3, "LOC", BOX_A)), line("b", (0, 2, "ORG", None))]
    box = score_lines(lines, gold, task="gmner", match="entity-box").results["mner"]
    assert box == score_lines(lines, gold, task="gmner", match="span").results["mner"]
    assert score_lines(lines, gold, task="mner", match="entity-box").results["mner"] == box


def test_report_counts_stay_consistent_by_type_and_grounding():
    gold = gold_of(
        ("a", "Ann and Bob in Paris", [(0, 1, "PER", [BOX_A, BOX_B]), (2, 3, "PER", [BOX_C]), (4, 5, "LOC", [])]),
        ("b", "NBA wins", [(0, 1, "ORG", [])]),
    )
    lines = [line("a", (0, 1, "PER", BOX_B), (2, 3, "PER", FAR), (4, 5, "LOC", BOX_A)), line("b", (0, 1, "LOC", None))]
    report = score_lines(lines, gold, task="gmner", match="entity-box")
    for task, r in report.results.items():
        assert r.tp <= r.pred and r.tp <= r.gold, task
        assert r.f1 == pytest.approx(2 * r.precision * r.recall / (r.precision + r.recall)) if r.tp else r.f1 == 0
        assert sum(v.pred for v in r.per_type.values()) == r.pred, task
        assert sum(v.gold for v in r.per_type.values()) == r.gold, task
        assert sum(v.tp for v in r.per_type.values()) == r.tp, task
        assert sum(v.gold for v in r.grounding.values()) == r.gold, task
        assert sum(v.pred for v in r.grounding.values()) == r.pred, task
    g = report.main
    assert (g.tp, g.pred, g.gold) == (2, 6, 5)  # B right; FAR two rows; a box on Paris one right, one wrong; NBA
    assert (g.per_type["PER"].gold, g.per_type["LOC"].gold, g.per_type["ORG"].gold) == (3, 1, 1)
    assert g.grounding["groundable"].gold == 3 and g.grounding["ungroundable"].tp == 1
    table = Scorer.build(parse_submission(lines, gold), gold).matches("gmner", "entity-box")
    assert table.pairs() == [(0, 0), (2, 2)] and bool((table.matched <= table.correct).all())


def test_refused_where_it_cannot_count():
    gold = gold_of(("t", "Ann and Bob", [(0, 1, "PER", [BOX_A])]))
    with pytest.raises(UsageError, match="entity-box matching needs start/end"):
        score_lines([{"id": "t", "entities": [{"text": "Ann", "type": "PER", "box": None}]}], gold,
                    match="entity-box")  # fmt: skip


def test_masks_are_refused_with_a_usage_error(smner_gold):
    lines = gold_as_submission(smner_gold, box=True, mask=True)
    for task in ("smner", "ees"):
        with pytest.raises(UsageError, match=r"^match='entity-box' reproduces .* score (SMNER|EES).*task='gmner'$"):
            score_lines(lines, smner_gold, task=task, match="entity-box")
    scorer = Scorer.build(parse_submission(lines, smner_gold), smner_gold)
    with pytest.raises(UsageError, match="counts boxes, not masks"):
        scorer.per_tweet("smner", "entity-box", 0.5)  # what compare calls
    assert score_lines(lines, smner_gold, task="gmner", match="entity-box").task == "gmner"
    # no task given: the most specific one the mode counts (show has no --task; it drew nothing before)
    assert score_lines(lines, smner_gold, match="entity-box").task == "gmner"
    assert Scorer.build(parse_submission(lines, smner_gold), smner_gold).matches(None, "entity-box").task == "gmner"


def test_the_command_scores_with_entity_box(sample_dir, tmp_path, capsys):
    from smner_bench.cli import main
    from smner_bench.loaders import load_gold

    gold = load_gold("gmner", "test", data_dir=sample_dir)
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in gold_as_submission(gold, box=True)), encoding="utf-8")
    out = tmp_path / "report.json"
    args = ["score", str(path), "--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir)]
    assert main([*args, "--match", "entity-box", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["match"] == "entity-box" and "match entity-box" in capsys.readouterr().out
    rows = sum(max(1, len(e.boxes)) for e in gold.entities if gold.tweets[e.tweet].entities)
    assert report["results"]["gmner"]["gold"] == rows
    assert main([*args, "--match", "entity-box", "--task", "gmner", "--ci", "--resamples", "20"]) == 0


# --- 2. an independent re-implementation of their evaluator ------------------------------------------------------


def _iou(a: list, b: list) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def unco_counts(gold: list[list[tuple]], pred: list[list[tuple]], iou: float = 0.5) -> dict[str, tuple]:
    """(tp, pred, gold) of GMNER, EEG and MNER as the UnCo evaluator counts them, per tweet from their rows
    ``(start, end, type, region_box)`` (``[]``: not in the image): gold rows and predicted rows as given."""
    out = {}
    for task in ("gmner", "eeg", "mner"):
        tp = n_pred = n_gold = 0
        for g_rows, p_rows in zip(gold, pred, strict=True):
            if task == "mner":  # (start, end, type) sets: no region, no tweet left out
                g = {(s, e, t) for s, e, t, _ in g_rows}
                p = {(s, e, t) for s, e, t, _ in p_rows}
            else:
                if not g_rows or not p_rows:  # convert_for_bbox: nothing of this tweet is counted
                    continue
                kind = (lambda t: t) if task == "gmner" else (lambda t: "None-type")
                g_list, boxed = [], []
                for index, (s, e, t, box) in enumerate(g_rows, start=1):
                    g_list.append((s, e, kind(t), index if box else 0))
                    if box:
                        boxed.append((index, s, e, box))
                p_list = []
                for s, e, t, box in p_rows:
                    region = 0
                    if box:  # the first gold row of the same span whose box reaches the threshold, else -100
                        region = next((i for i, gs, ge, b in boxed if (gs, ge) == (s, e) and _iou(box, b) >= iou), -100)
                    p_list.append((s, e, kind(t), region))
                g, p = set(g_list), set(p_list)
                for row in p_list:  # utils.collect
                    if row not in g and any(x[:3] == row[:3] and x[3] != row[3] for x in g_list):
                        p.add((*row[:3], 0))
            tp, n_pred, n_gold = tp + len(g & p), n_pred + len(p), n_gold + len(g)
        out[task] = (tp, n_pred, n_gold)
    return out


def unco_prf(tp: int, pred: int, gold: int) -> tuple[float, float, float]:
    """sklearn's micro average over the labels, as their _compute_metrics (0 where undefined)."""
    p, r = (tp / pred if pred else 0.0), (tp / gold if gold else 0.0)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def their_rows(lines: list[dict], gold: Gold) -> list[list[tuple]]:
    """Submission lines as their prediction rows, in the gold's tweet order: inclusive end, MISC, [] for null."""
    by_id = {x["id"]: x["entities"] for x in lines}
    kind = {"OTHER": "MISC"}
    return [
        [(e["start"], e["end"] - 1, kind.get(e["type"], e["type"]), list(e["box"] or [])) for e in by_id.get(t.id, [])]
        for t in gold.tweets
    ]


def gold_rows_of(gold: Gold) -> list[list[tuple]]:
    """The v2.0 gold expanded as they expand theirs: one row per entity-box pair, one [] row for an unboxed entity."""
    kind = {"OTHER": "MISC"}
    return [
        [(e.start, e.end - 1, kind.get(e.type, e.type), list(map(float, b)))
         for e in t.entities for b in (e.boxes.tolist() or [[]])]
        for t in gold.tweets
    ]  # fmt: skip


def unco_gold(path: Path) -> tuple[Gold, list[list[tuple]]]:
    """Their gold file as this package's Gold (end exclusive, MISC -> OTHER, one entity per span with all its
    boxes, image size unknown) and as their own rows (read as their evaluator reads it)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows, theirs = [], []
    for item in data:
        tokens, entities = item["tokens"], {}
        for g in item["gt_entities"]:
            s, e = g["start"], g["end"] + 1
            entity = entities.setdefault((s, e), {"start": s, "end": e, "text": " ".join(tokens[s:e]),
                                                  "type": {"MISC": "OTHER"}.get(g["entity_type"], g["entity_type"]),
                                                  "boxes": []})  # fmt: skip
            if g["region_box"]:
                entity["boxes"].append(g["region_box"])
        rows.append({"id": item["image_id"].removesuffix(".jpg"), "tokens": tokens, "width": None, "height": None,
                     "entities": list(entities.values())})  # fmt: skip
        theirs.append([(g["start"], g["end"], g["entity_type"], g["region_box"]) for g in item["gt_entities"]])
    return gold_from_rows(rows, dataset="unco-gold", split="test", has_boxes=True, has_masks=False), theirs


def perturbed(gold: Gold, seed: int, rate: float) -> list[dict]:
    """Predictions drawn from the gold with a fixed seed: a tweet left empty, an entity dropped, retyped (MISC
    too), its span shifted, its box moved, nulled, another of its boxes taken, a box invented for an unboxed
    entity, spurious entities (in tweets without gold too). Spans of a tweet never overlap (a submission's rule)."""
    rng = random.Random(seed)
    return [{"id": t.id, "entities": _perturbed_tweet(t, rng, rate)} for t in gold.tweets]


def _perturbed_tweet(t, rng: random.Random, rate: float) -> list[dict]:
    n, w, h = len(t.tokens), t.width or 500, t.height or 500
    if rng.random() < rate / 3:
        return []
    taken: list[tuple[int, int]] = []
    entities: list[dict] = []

    def add(s: int, e: int, kind: str, box: list | None) -> None:
        if 0 <= s < e <= n and all(e <= a or b <= s for a, b in taken):
            taken.append((s, e))
            entities.append({"start": s, "end": e, "type": kind, "box": box})

    def random_box() -> list[float]:
        x1, y1 = rng.uniform(0, w - 2), rng.uniform(0, h - 2)
        return [x1, y1, rng.uniform(x1 + 1, w), rng.uniform(y1 + 1, h)]

    for g in t.entities:
        if rng.random() < rate / 2:
            continue
        s, e, kind = g.start, g.end, g.type
        if rng.random() < rate / 2:
            s, e = max(0, s + rng.choice((-1, 0, 1))), min(n, e + rng.choice((-1, 0, 1)))
        if rng.random() < rate / 2:
            kind = rng.choice(("PER", "LOC", "ORG", "OTHER", "MISC"))
        boxes = g.boxes.tolist()
        box = list(rng.choice(boxes)) if boxes else None
        if box is not None and rng.random() < rate:
            dx, dy = rng.uniform(-0.6, 0.6) * (box[2] - box[0]), rng.uniform(-0.6, 0.6) * (box[3] - box[1])
            moved = [max(0.0, box[0] + dx), max(0.0, box[1] + dy), min(w, box[2] + dx), min(h, box[3] + dy)]
            box = moved if moved[0] < moved[2] and moved[1] < moved[3] else box
        if rng.random() < rate / 3:
            box = None if box is not None else random_box()
        add(s, e, kind, box)
    for _ in range(rng.choice((0, 0, 0, 1, 2)) if rng.random() < rate else 0):
        s = rng.randrange(n)
        add(s, min(n, s + rng.choice((1, 1, 2, 3))), rng.choice(TYPES), rng.choice((None, random_box())))
    return entities


SEEDS = ((0, 0.1), (1, 0.25), (2, 0.5), (3, 0.9))  # (seed, rate of each perturbation)


def assert_equal_to_their_evaluator(gold: Gold, gold_rows: list[list[tuple]], lines: list[dict], where: str) -> None:
    for iou in (0.5, 0.75):
        theirs = unco_counts(gold_rows, their_rows(lines, gold), iou)
        report = score_lines(lines, gold, task="gmner", match="entity-box", iou=iou)
        for task, (tp, pred, n_gold) in theirs.items():
            r = report.results[task]
            assert (r.tp, r.pred, r.gold) == (tp, pred, n_gold), (where, iou, task)
            assert (r.precision, r.recall, r.f1) == pytest.approx(unco_prf(tp, pred, n_gold), abs=1e-12), (where, task)


def test_equal_to_their_evaluator_on_the_v2_test_gold(data_root):
    from smner_bench.loaders import load_gold

    gold = load_gold("gmner", "test", data_dir=data_root / "twitter-gmner" / "v2.0")
    rows = gold_rows_of(gold)
    assert sum(map(len, rows)) == 2751 and len(gold.entities) == 2543
    perfect = gold_as_submission(gold, box=True)
    assert_equal_to_their_evaluator(gold, rows, perfect, "gold, one box per entity")
    g = score_lines(perfect, gold, task="gmner", match="entity-box").main
    assert (g.tp, g.pred, g.gold) == (2543, 2543, 2751)  # the 82 tweets without entities have no rows either way
    for seed, rate in SEEDS:
        assert_equal_to_their_evaluator(gold, rows, perturbed(gold, seed, rate), f"seed {seed}")


def test_equal_to_their_evaluator_on_their_gold_file(data_root):
    gold, rows = unco_gold(data_root / "peer-gold" / "unco_twitter_gmner_gt.json")
    assert len(gold.tweets) == 1500 and sum(map(len, rows)) == 2703
    assert sum(max(1, len(e.boxes)) for e in gold.entities) == 2703  # one entity per span: no row lost
    perfect = gold_as_submission(gold, box=True)
    assert_equal_to_their_evaluator(gold, rows, perfect, "their gold, one box per entity")
    for seed, rate in SEEDS:
        assert_equal_to_their_evaluator(gold, rows, perturbed(gold, seed, rate), f"their gold, seed {seed}")


def test_the_perturbed_sets_exercise_every_rule(data_root):
    """The sets compared above hold, each, every case where the rules matter (counted from the lines, not by the
    scorer): tweets with gold and no prediction, predictions in tweets without gold, a multi-box entity found, a
    box on an entity not in the image, a wrong box or a null on a right span, a wrong type on a right span."""
    from smner_bench.loaders import load_gold

    gold = load_gold("gmner", "test", data_dir=data_root / "twitter-gmner" / "v2.0")
    by_id = {t.id: t for t in gold.tweets}
    for seed, rate in SEEDS:
        found = dict.fromkeys(("no prediction", "no gold", "multi-box", "box on unboxed", "wrong box", "null on boxed",
                               "wrong type"), 0)  # fmt: skip
        for x in perturbed(gold, seed, rate):
            tweet = by_id[x["id"]]
            found["no prediction"] += bool(tweet.entities) and not x["entities"]
            found["no gold"] += bool(x["entities"]) and not tweet.entities
            spans = {(e.start, e.end): e for e in tweet.entities}
            for p in x["entities"]:
                g = spans.get((p["start"], p["end"]))
                if g is None:
                    continue
                boxes = g.boxes.tolist()
                hit = p["box"] is not None and any(_iou(p["box"], b) >= 0.5 for b in boxes)
                found["multi-box"] += len(boxes) > 1 and hit
                found["box on unboxed"] += p["box"] is not None and not boxes
                found["wrong box"] += bool(boxes) and p["box"] is not None and not hit
                found["null on boxed"] += bool(boxes) and p["box"] is None
                found["wrong type"] += {"MISC": "OTHER"}.get(p["type"], p["type"]) != g.type
        assert min(found.values()) >= 3, (seed, found)
