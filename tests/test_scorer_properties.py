"""Property tests of the scorer on small random golds and predictions derived from them (hypothesis).

Each example builds a gold in memory (1-6 tweets, 3-12 tokens from a tiny vocabulary so that equal entity
texts within a tweet are common, 0-4 non-overlapping entities, 0-2 boxes each with one mask per box on an
8x8..16x16 image) and a valid submission derived from it: entities copied, dropped, retyped (``MISC``
included), boundaries shifted, boxes jittered, masks perturbed, regions nulled or invented, spurious
entities added, lines and entities shuffled. The submission goes through the real file path
(``write_submission`` -> ``read_submission``) and ``score``.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smner_bench.benchmark import registry
from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.gold import Gold, gold_from_rows
from smner_bench.benchmark.metrics import SWEEP
from smner_bench.benchmark.regions import (
    box_iou_pairs,
    box_ious,
    decode_rle,
    encode_rle,
    mask_ious,
    merge_rles,
    rle_problem,
)
from smner_bench.benchmark.submission import Submission, gold_as_submission, read_submission, write_submission

from .reports import report_json

TYPES = ("PER", "LOC", "ORG", "OTHER")
VOCAB = ("New", "York", "Park", "@ny")  # tiny on purpose: equal entity texts within a tweet are common
TASKS = registry.TASK_NAMES  # every task, in report order
BOX_TASKS = registry.tasks_with_region("box")
MASK_TASKS = registry.tasks_with_region("mask")
REGION_TASKS = BOX_TASKS + MASK_TASKS
TYPED_TASKS = tuple(t.name for t in registry.TASKS.values() if t.typed)
MODES = registry.MATCH_MODES
# entity-box (the UnCo evaluator's pair counting) counts rows, not entities: an entity with k boxes is k gold rows, a
# wrong box on a right span two predicted rows, and a tweet without gold or without predictions is left out of EEG
# and GMNER; it scores no masks (refused). The properties about entities (a perfect file scores 1, one more wrong
# prediction is one more predicted entity) hold for ENTITY_MODES; the others hold for it too, on its tasks.
PAIR_MODES = ("entity-box",)
ENTITY_MODES = tuple(m for m in MODES if m not in PAIR_MODES)
HEADLINE = ("precision", "recall", "f1", "tp", "pred", "gold")

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- RLE helpers ------------------------------------------------------------------------------------


def box_mask(box: list[float], h: int, w: int) -> np.ndarray:
    x1, y1, x2, y2 = box
    out = np.zeros((h, w), dtype=bool)
    out[math.floor(y1) : min(h, math.ceil(y2)), math.floor(x1) : min(w, math.ceil(x2))] = True
    return out


# --- strategies: gold -------------------------------------------------------------------------------


@st.composite
def boxes_in(draw, w: int, h: int) -> list[float]:
    """A gold box on half-pixel coordinates, inside the image."""
    x1 = draw(st.integers(0, 2 * w - 1))
    x2 = draw(st.integers(x1 + 1, 2 * w))
    y1 = draw(st.integers(0, 2 * h - 1))
    y2 = draw(st.integers(y1 + 1, 2 * h))
    return [x1 / 2, y1 / 2, x2 / 2, y2 / 2]


@st.composite
def gold_tweet(draw, tweet_id: str) -> dict[str, Any]:
    # a crowded tweet (one word, one-token entities) names one thing several times, with few objects
    crowded = draw(st.integers(0, 3)) == 0
    n = draw(st.integers(3, 12))
    vocab = VOCAB[: 1 if crowded else draw(st.integers(1, len(VOCAB)))]
    tokens = draw(st.lists(st.sampled_from(vocab), min_size=n, max_size=n))
    w, h = draw(st.integers(8, 16)), draw(st.integers(8, 16))
    spans: list[tuple[int, int]] = []
    taken: set[int] = set()
    lengths = st.just(1) if crowded else st.sampled_from([1, 1, 1, 2, 2, 3])
    for s, length in draw(st.lists(st.tuples(st.integers(0, n - 1), lengths), max_size=4)):
        e = min(n, s + length)
        if taken.isdisjoint(range(s, e)):
            taken.update(range(s, e))
            spans.append((s, e))
    spans.sort()
    # force equal texts: copy the tokens of one entity onto another of the same length
    if len(spans) >= 2:
        index = st.integers(0, len(spans) - 1)
        for i, j in draw(st.lists(st.tuples(index, index), max_size=2)):
            (si, ei), (sj, ej) = spans[i], spans[j]
            if i != j and ei - si == ej - sj:
                tokens[sj:ej] = tokens[si:ei]
    # the image holds 1-3 objects (a box and its mask); each entity shows 0-2 of them, so entities (of equal
    # text, too) often share a region and a prediction can be right for several gold entities: where text
    # matching must find a maximum matching and riveg's first fit may not
    objects = []
    for b in draw(st.lists(boxes_in(w, h), min_size=1, max_size=2 if crowded else 3)):
        m = box_mask(b, h, w)
        for r, c in draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)), max_size=3)):
            m[r, c] = True
        objects.append((b, encode_rle(m)))
    entities = []
    for s, e in spans:
        shown = draw(st.lists(st.integers(0, len(objects) - 1), max_size=2, unique=True))
        entities.append(
            {
                "start": s,
                "end": e,
                "text": " ".join(tokens[s:e]),
                "type": draw(st.sampled_from(TYPES)),
                "boxes": [list(objects[k][0]) for k in shown],
                "masks": [dict(objects[k][1]) for k in shown],
            }
        )
    return {"id": tweet_id, "tokens": tokens, "width": w, "height": h, "entities": entities}


@st.composite
def gold_rows(draw, min_entities: int = 0) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 6))
    rows = [draw(gold_tweet(f"t{i}")) for i in range(n)]
    assume(sum(len(r["entities"]) for r in rows) >= min_entities)
    return rows


def build_gold(rows: list[dict[str, Any]]) -> Gold:
    return gold_from_rows(rows, dataset="synthetic", split="test", has_boxes=True, has_masks=True)


# --- strategies: predictions ------------------------------------------------------------------------


def random_box(w: int, h: int):
    """Any valid predicted box: half-pixel coordinates, up to the 1-pixel tolerance past the image."""
    return boxes_in(w + 1, h + 1)


@st.composite
def pred_box(draw, gold_boxes: list[list[float]], w: int, h: int, image: tuple = ()) -> list[float] | None:
    """A box near one of ``gold_boxes`` (or of ``image``, every box of the tweet), null, or anywhere."""
    choice = draw(st.sampled_from(["gold", "gold", "jitter", "jitter", "image", "null", "random"]))
    if choice == "image" and image:
        gold_boxes, choice = list(image), draw(st.sampled_from(["gold", "jitter"]))
    if choice in ("gold", "jitter") and gold_boxes:
        box = list(draw(st.sampled_from(gold_boxes)))
        if choice == "jitter":
            reach = draw(st.sampled_from([2, 4, 12]))  # up to half a pixel, one pixel, three pixels
            deltas = draw(st.lists(st.integers(-reach, reach), min_size=4, max_size=4))
            limits = (w + 1, h + 1, w + 1, h + 1)
            moved = [min(max(v + d / 4, 0.0), lim) for v, d, lim in zip(box, deltas, limits, strict=True)]
            if moved[0] < moved[2] and moved[1] < moved[3]:
                box = moved
        return box
    if choice == "random":
        return draw(random_box(w, h))
    return None


@st.composite
def pred_mask(draw, gold_masks: list[dict[str, Any]], w: int, h: int, image: tuple = ()) -> dict[str, Any] | None:
    """A mask near one of ``gold_masks`` (or of ``image``, every mask of the tweet), null, or anywhere."""
    choice = draw(st.sampled_from(["gold", "gold", "perturb", "shift", "image", "null", "random"]))
    if choice == "image" and image:
        gold_masks, choice = list(image), draw(st.sampled_from(["gold", "perturb"]))
    if choice in ("gold", "perturb", "shift") and gold_masks:
        rle = draw(st.sampled_from(gold_masks))
        if choice == "gold":
            return dict(rle)
        m = decode_rle(rle)
        if choice == "perturb":
            for r, c in draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)), max_size=12)):
                m[r, c] = not m[r, c]
        else:
            m = np.roll(m, (draw(st.integers(-3, 3)), draw(st.integers(-3, 3))), axis=(0, 1))
        return encode_rle(m)
    if choice == "random":
        b = draw(boxes_in(w, h))
        m = box_mask(b, h, w) if draw(st.booleans()) else np.zeros((h, w), dtype=bool)  # empty masks too
        return encode_rle(m)
    return None


def pred_type(gold_type: str):
    alias = ["MISC"] if gold_type == "OTHER" else []
    return st.sampled_from([gold_type, gold_type, gold_type, *alias, *TYPES])


def entity(tokens, s, e, kind, box, mask, *, with_text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"start": s, "end": e}
    if with_text:
        out["text"] = " ".join(tokens[s:e])
    out.update(type=kind, box=box, mask=mask)
    return out


@st.composite
def predictions(draw, rows: list[dict[str, Any]], *, text_only: bool = False) -> list[dict[str, Any]]:
    """Valid submission lines derived from the gold rows. ``text_only`` lets some entities give only
    their text (and then the same text may be predicted twice)."""
    lines = []
    for row in rows:
        tokens, w, h = row["tokens"], row["width"], row["height"]
        n = len(tokens)
        used: set[tuple[int, int]] = set()
        image_boxes = tuple(b for x in row["entities"] for b in x["boxes"])
        image_masks = tuple(m for x in row["entities"] for m in x["masks"])
        ents = []
        for g in row["entities"]:
            action = draw(st.sampled_from(["copy", "copy", "copy", "drop", "shift", "elsewhere"]))
            if action == "drop":
                continue
            s, e = g["start"], g["end"]
            if action == "shift":
                s = draw(st.integers(max(0, s - 1), min(s + 1, n - 1)))
                e = draw(st.integers(max(s + 1, e - 1), min(n, e + 1)))
            elif action == "elsewhere":  # the same text at another place of the tweet: right text, wrong span
                others = [
                    (a, a + e - s)
                    for a in range(n - (e - s) + 1)
                    if a != s and tokens[a : a + e - s] == tokens[s:e] and (a, a + e - s) not in used
                ]
                if others:
                    s, e = draw(st.sampled_from(others))
            if any(s < b and a < e for a, b in used):  # spans of a tweet never overlap (flat datasets)
                continue
            used.add((s, e))
            # the region of this entity, or of another gold entity with the same text
            src = draw(st.sampled_from([g, g, *(x for x in row["entities"] if x["text"] == g["text"])]))
            box = draw(pred_box(src["boxes"], w, h, image_boxes))
            mask = draw(pred_mask(src["masks"], w, h, image_masks))
            ents.append(entity(tokens, s, e, draw(pred_type(g["type"])), box, mask, with_text=draw(st.booleans())))
        for _ in range(draw(st.integers(0, 2))):  # spurious entities: any unused span
            s = draw(st.integers(0, n - 1))
            e = draw(st.integers(s + 1, min(n, s + 3)))
            if any(s < b and a < e for a, b in used):  # spans of a tweet never overlap (flat datasets)
                continue
            used.add((s, e))
            box = draw(st.none() | random_box(w, h))
            mask = draw(pred_mask([], w, h))
            ents.append(entity(tokens, s, e, draw(st.sampled_from(TYPES)), box, mask, with_text=draw(st.booleans())))
        if text_only:
            extra = []
            for ent in ents:
                if draw(st.booleans()):
                    ent["text"] = " ".join(tokens[ent.pop("start") : ent.pop("end")])
                    if draw(st.integers(0, 4)) == 0:  # the same text predicted twice
                        same = [x for x in row["entities"] if x["text"] == ent["text"]]
                        box = draw(pred_box([b for x in same for b in x["boxes"]], w, h, image_boxes))
                        mask = draw(pred_mask([m for x in same for m in x["masks"]], w, h, image_masks))
                        extra.append({**ent, "box": box, "mask": mask})
            ents += extra
        lines.append({"id": row["id"], "entities": draw(st.permutations(ents))})
    return draw(st.permutations(lines))


@st.composite
def gold_and_predictions(draw, *, text_only: bool = False, min_entities: int = 0):
    rows = draw(gold_rows(min_entities))
    return rows, draw(predictions(rows, text_only=text_only))


@st.composite
def crowded_case(draw):
    """One tweet naming one thing 2-4 times, an image with two objects, each gold entity showing some of
    them, and 1-5 predictions of that text, each exactly on one object or null: dense bipartite graphs of
    correct pairs where a greedy matching depends on the order (the hard case for text matching)."""
    n = draw(st.integers(3, 6))
    w, h = draw(st.integers(8, 16)), draw(st.integers(8, 16))
    objects = []
    for b in draw(st.lists(boxes_in(w, h), min_size=2, max_size=2)):
        objects.append((b, encode_rle(box_mask(b, h, w))))
    positions = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=4, unique=True)))
    kind = draw(st.sampled_from(TYPES))
    entities = []
    for s in positions:
        shown = draw(st.sampled_from([[], [0], [1], [0, 1], [0, 1]]))
        entities.append(
            {
                "start": s,
                "end": s + 1,
                "text": "NYC",
                "type": kind if draw(st.integers(0, 3)) else draw(st.sampled_from(TYPES)),
                "boxes": [list(objects[k][0]) for k in shown],
                "masks": [dict(objects[k][1]) for k in shown],
            }
        )
    rows = [{"id": "c0", "tokens": ["NYC"] * n, "width": w, "height": h, "entities": entities}]
    with_spans = draw(st.booleans())
    starts = draw(st.permutations(range(n)))
    ents = []
    for k in range(draw(st.integers(2, 5 if not with_spans else n))):
        region = draw(st.sampled_from([0, 1, None]))
        box = None if region is None else list(objects[region][0])
        mask = None if region is None else dict(objects[region][1])
        item: dict[str, Any] = {"start": starts[k], "end": starts[k] + 1} if with_spans else {"text": "NYC"}
        item.update(type=kind if draw(st.integers(0, 3)) else draw(st.sampled_from(TYPES)), box=box, mask=mask)
        ents.append(item)
    return rows, [{"id": "c0", "entities": ents}]


# --- scoring helpers --------------------------------------------------------------------------------


def read_lines(gold: Gold, lines: list[dict[str, Any]]) -> Submission:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "sub.jsonl")
        write_submission(path, lines)
        return read_submission(path, gold, task="smner")


def tasks_of(mode: str) -> tuple[str, ...]:
    """The tasks a mode scores: every task, but no mask task in a pair mode."""
    return tuple(t for t in TASKS if mode not in PAIR_MODES or t not in MASK_TASKS)


def results(sub: Submission, gold: Gold, mode: str, iou: float = 0.5) -> dict[str, dict]:
    """Every task the mode scores (the report of smner, or of gmner in a pair mode)."""
    report = report_json(sub, gold, task="gmner" if mode in PAIR_MODES else "smner", match=mode, iou=iou)
    assert tuple(report["results"]) == tasks_of(mode)
    return report["results"]


def headline(r: dict) -> dict:
    out = {k: r[k] for k in HEADLINE}
    if "sweep" in r:
        out.update(sweep_tp=r["sweep"]["tp"], sweep_f1=r["sweep"]["f1"], mean_f1=r["sweep"]["mean_f1"])
    return out


def modes_for(sub: Submission) -> tuple[str, ...]:
    return MODES if sub.has_spans else ("text", "riveg")


def in_unit(x: float) -> bool:
    return 0.0 <= x <= 1.0 and math.isfinite(x)


def check_prf(r: dict, where: str) -> None:
    for k in ("precision", "recall", "f1"):
        assert in_unit(r[k]), f"{where}: {k} = {r[k]}"
    tp_pred = r.get("tp_pred", r["tp"])
    assert 0 <= r["tp"] <= r["gold"], f"{where}: tp {r['tp']} > gold {r['gold']}"
    assert 0 <= tp_pred <= r["pred"], f"{where}: tp {tp_pred} > pred {r['pred']}"


# --- 1. the gold is perfect ---------------------------------------------------------------------------


@SETTINGS
@given(rows=gold_rows(min_entities=1), shuffle=st.randoms(use_true_random=False))
def test_gold_scores_perfectly_on_every_task_and_mode(rows, shuffle):
    gold = build_gold(rows)
    lines = gold_as_submission(gold, box=True, mask=True)
    sub = read_lines(gold, lines)
    for mode in ENTITY_MODES:
        for task, r in results(sub, gold, mode).items():
            assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0), (mode, task, r)
            assert r["tp"] == r["pred"] == r["gold"] == len(gold.entities)
            if "sweep" in r:
                assert r["sweep"]["tp"] == [len(gold.entities)] * len(SWEEP), (mode, task)
                assert r["sweep"]["mean_f1"] == 1.0
    # entity-box: one box per entity finds one row of each (every tweet with gold has a prediction)
    n, rows = len(gold.entities), sum(max(1, len(e.boxes)) for e in gold.entities)
    for task, r in results(sub, gold, "entity-box").items():
        expected = (n, n, n) if task in registry.tasks_with_region(None) else (n, n, rows)
        assert (r["tp"], r["pred"], r["gold"]) == expected and r["precision"] == 1.0, ("entity-box", task, r)
        if "sweep" in r:
            assert r["sweep"]["tp"] == [n] * len(SWEEP), ("entity-box", task)
    # text only (no spans), lines and entities shuffled: text matching still finds every entity
    for line in lines:
        for e in line["entities"]:
            del e["start"], e["end"]
        shuffle.shuffle(line["entities"])
    shuffle.shuffle(lines)
    sub = read_lines(gold, lines)
    for task, r in results(sub, gold, "text").items():
        assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0), ("text, no spans", task, r)


# --- 2. ranges and counts -----------------------------------------------------------------------------


@SETTINGS
@given(data=gold_and_predictions(text_only=False) | gold_and_predictions(text_only=True))
def test_figures_are_in_range_and_counts_consistent(data):
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    n_pred = sum(len(line["entities"]) for line in lines)
    rows = sum(max(1, len(e.boxes)) for e in gold.entities)
    for mode in modes_for(sub):
        for task, r in results(sub, gold, mode).items():
            where = f"{mode}/{task}"
            check_prf(r, where)
            if mode in PAIR_MODES and task in BOX_TASKS:  # rows: at most two per prediction, one per gold box
                assert r["pred"] <= 2 * n_pred and r["gold"] <= rows, where
            else:
                assert (r["pred"], r["gold"]) == (n_pred, len(gold.entities)), where
            for kind, sub_r in r["per_type"].items():
                check_prf(sub_r, f"{where}/per_type/{kind}")
            assert sum(v["gold"] for v in r["per_type"].values()) == r["gold"]
            assert sum(v["pred"] for v in r["per_type"].values()) == r["pred"]
            assert sum(v["tp"] for v in r["per_type"].values()) == r["tp"]
            for name, sub_r in r.get("grounding", {}).items():
                check_prf(sub_r, f"{where}/grounding/{name}")
            if "sweep" in r:
                sweep = r["sweep"]
                assert sweep["thresholds"] == list(SWEEP)
                assert all(in_unit(v) for v in sweep["f1"]), (where, sweep)
                assert in_unit(sweep["mean_f1"])
                assert all(0 <= tp <= min(r["pred"], r["gold"]) for tp in sweep["tp"]), (where, sweep)
                assert sweep["tp"][0] == r["tp"], f"{where}: the sweep at 0.50 disagrees with the report at 0.5"


# --- 3. order never matters in span and text modes -----------------------------------------------------


@SETTINGS
@given(
    data=gold_and_predictions(text_only=False) | gold_and_predictions(text_only=True) | crowded_case(),
    shuffle=st.randoms(use_true_random=False),
)
def test_order_of_lines_and_entities_does_not_change_span_or_text_scores(data, shuffle):
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    shuffled = [
        {"id": line["id"], "entities": shuffle.sample(line["entities"], len(line["entities"]))} for line in lines
    ]
    shuffle.shuffle(shuffled)
    reversed_ = [{"id": line["id"], "entities": line["entities"][::-1]} for line in lines[::-1]]
    others = [read_lines(gold, shuffled), read_lines(gold, reversed_)]
    for mode in modes_for(sub):
        if mode == "riveg":
            continue  # first fit in file order: order may matter, by design
        before = results(sub, gold, mode)
        for which, sub2 in zip(("shuffled", "reversed"), others, strict=True):
            after = results(sub2, gold, mode)
            for task in before:
                assert headline(before[task]) == headline(after[task]), (which, mode, task)


# --- 4. one wrong prediction more ----------------------------------------------------------------------


@st.composite
def with_wrong_prediction(draw):
    """Gold, predictions, and one more prediction that cannot be correct: either a spurious entity whose
    span is new and whose text is no gold text of its tweet, or a gold entity's unpredicted span with a type
    that no gold entity of the same text has (then wrong only for the typed tasks)."""
    rows, lines = draw(gold_and_predictions(text_only=False))
    spurious, wrong_type = [], []
    for k, row in enumerate(rows):
        tokens, n = row["tokens"], len(row["tokens"])
        line = next(x for x in lines if x["id"] == row["id"])
        used = {(e["start"], e["end"]) for e in line["entities"]}
        gold_texts = {g["text"] for g in row["entities"]}
        spurious += [
            (k, s, e, TYPES)
            for s in range(n)
            for e in range(s + 1, n + 1)
            if all(e <= x or y <= s for x, y in used) and " ".join(tokens[s:e]) not in gold_texts  # flat: no overlap
        ]
        for g in row["entities"]:
            free = tuple(t for t in TYPES if all(x["type"] != t for x in row["entities"] if x["text"] == g["text"]))
            if all(g["end"] <= x or y <= g["start"] for x, y in used) and free:  # flat: no overlap
                wrong_type.append((k, g["start"], g["end"], free))
    kinds = [name for name, found in (("spurious", spurious), ("wrong_type", wrong_type)) if found]
    assume(kinds)
    kind = draw(st.sampled_from(kinds))
    k, s, e, types = draw(st.sampled_from(spurious if kind == "spurious" else wrong_type))
    row = rows[k]
    w, h = row["width"], row["height"]
    line = next(x for x in lines if x["id"] == row["id"])
    box = draw(pred_box([x for g in row["entities"] for x in g["boxes"]], w, h))
    mask = draw(pred_mask([x for g in row["entities"] for x in g["masks"]], w, h))
    wrong = entity(row["tokens"], s, e, draw(st.sampled_from(types)), box, mask, with_text=draw(st.booleans()))
    position = draw(st.integers(0, len(line["entities"])))
    return rows, lines, k, position, wrong, kind


@SETTINGS
@given(case=with_wrong_prediction())
def test_one_wrong_prediction_never_raises_precision_nor_changes_tp(case):
    rows, lines, k, position, wrong, kind = case
    gold = build_gold(rows)
    more = [{"id": x["id"], "entities": list(x["entities"])} for x in lines]
    target = next(x for x in more if x["id"] == rows[k]["id"])
    target["entities"].insert(position, wrong)
    sub, sub2 = read_lines(gold, lines), read_lines(gold, more)
    tasks = TASKS if kind == "spurious" else TYPED_TASKS
    # not entity-box: there a prediction in a tweet that had none brings that tweet's gold rows into EEG/GMNER, and
    # one in a tweet without gold counts nothing (test_entity_box.py covers both)
    for mode in ENTITY_MODES:
        for iou in (0.5, 0.8):
            before, after = results(sub, gold, mode, iou), results(sub2, gold, mode, iou)
            for task in tasks:
                b, a = before[task], after[task]
                where = (kind, mode, iou, task)
                assert a["pred"] == b["pred"] + 1, where
                assert a["tp"] == b["tp"], where
                assert a["recall"] == b["recall"], where
                assert a["precision"] <= b["precision"], where
                if "sweep" in b:
                    assert a["sweep"]["tp"] == b["sweep"]["tp"], where


# --- 5. a lower IoU threshold never lowers a score ------------------------------------------------------


@SETTINGS
@given(
    data=gold_and_predictions(text_only=False) | gold_and_predictions(text_only=True),
    thresholds=st.tuples(st.floats(0.01, 1.0), st.floats(0.01, 1.0)).map(sorted),
)
def test_lower_iou_threshold_never_lowers_a_score(data, thresholds):
    rows, lines = data
    low, high = thresholds
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    for mode in modes_for(sub):
        if mode == "riveg":
            continue  # greedy first fit is not monotone: see test_riveg_first_fit_is_not_monotone_in_the_threshold
        at_low, at_high = results(sub, gold, mode, low), results(sub, gold, mode, high)
        for task in (t for t in REGION_TASKS if t in at_low):
            lo, hi = at_low[task], at_high[task]
            for k in ("precision", "recall", "f1", "tp"):
                assert lo[k] >= hi[k], (mode, task, k, low, high, lo[k], hi[k])
            sweep = lo["sweep"]["tp"]
            assert all(a >= b for a, b in itertools.pairwise(sweep)), (mode, task, sweep)
        for task in registry.tasks_with_region(None):
            assert at_low[task] == at_high[task], (mode, task)  # no region: the threshold is irrelevant


# --- 6. span matching is stricter than text matching ----------------------------------------------------


@SETTINGS
@given(data=gold_and_predictions(text_only=False), iou=st.sampled_from([0.3, 0.5, 0.75, 1.0]))
def test_span_tp_never_exceeds_text_tp(data, iou):
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    assert sub.has_spans
    span, text = results(sub, gold, "span", iou), results(sub, gold, "text", iou)
    for task in TASKS:
        assert span[task]["tp"] <= text[task]["tp"], (task, span[task]["tp"], text[task]["tp"])
        if "sweep" in span[task]:
            pairs = zip(span[task]["sweep"]["tp"], text[task]["sweep"]["tp"], strict=True)
            assert all(s <= t for s, t in pairs), task


@SETTINGS
@given(data=gold_and_predictions(text_only=False), iou=st.sampled_from([0.3, 0.5, 0.75, 1.0]))
def test_entity_box_finds_what_span_finds_and_the_boxes_on_entities_not_in_the_image(data, iou):
    """entity-box and span agree on MNER; on EEG/GMNER entity-box finds every entity span finds (a tweet with a right
    prediction is never left out) plus one row per box given to a gold entity not in the image on its span (and
    type, GMNER), and counts one predicted row more per box that misses the entity of its span (and type)."""
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    span, pair = results(sub, gold, "span", iou), results(sub, gold, "entity-box", iou)
    assert pair["mner"] == span["mner"]
    gold_by = {(r["id"], g["start"], g["end"]): g for r in rows for g in r["entities"]}
    has_gold = {r["id"] for r in rows if r["entities"]}
    for task in BOX_TASKS:
        typed = task in TYPED_TASKS
        found = added = counted = 0
        for line in lines:
            if line["id"] not in has_gold or not line["entities"]:
                continue
            for p in line["entities"]:
                counted += 1
                g = gold_by.get((line["id"], p["start"], p["end"]))
                kind = {"MISC": "OTHER"}.get(p["type"], p["type"])
                if g is None or p["box"] is None or (typed and kind != g["type"]):
                    continue
                right = bool(g["boxes"]) and max(_box_iou(p["box"], b) for b in g["boxes"]) >= iou
                found += not g["boxes"]
                added += not right
        assert pair[task]["tp"] == span[task]["tp"] + found, (task, iou)
        assert pair[task]["pred"] == counted + added, (task, iou)


# --- extras: orderings between tasks and modes that follow from the definitions ------------------------


@SETTINGS
@given(data=gold_and_predictions(text_only=False) | gold_and_predictions(text_only=True) | crowded_case())
def test_text_matching_is_maximal_and_typed_tasks_are_stricter(data):
    """Text mode is a maximum matching over the correct pairs, so riveg's first fit (over a subset of them:
    types as written) never finds more; and a typed task's correct pairs are a subset of its type-blind
    counterpart's (gmner <= eeg, smner <= ees, gmner/smner <= mner) in span and text modes."""
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    text, riveg = results(sub, gold, "text"), results(sub, gold, "riveg")
    for task in TASKS:
        assert riveg[task]["tp"] <= text[task]["tp"], task
        if "sweep" in text[task]:
            pairs = zip(riveg[task]["sweep"]["tp"], text[task]["sweep"]["tp"], strict=True)
            assert all(r <= t for r, t in pairs), task
    for mode in modes_for(sub):
        if mode == "riveg":
            continue
        r = results(sub, gold, mode)
        for spec in registry.TASKS.values():  # a typed region task (gmner, smner) needs all its subtasks right
            if spec.typed and spec.region is not None and spec.name in r:
                assert r[spec.name]["tp"] <= min(r[part]["tp"] for part in spec.subtasks), (mode, spec.name)


def _box_iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _mask_iou(a, b) -> float:
    x, y = decode_rle(a), decode_rle(b)
    union = np.logical_or(x, y).sum()
    return float(np.logical_and(x, y).sum() / union) if union else 0.0


def _oracle_correct(p: dict, g: dict, task: str, iou: float) -> bool:
    """The docs/design.md definition, computed here independently of the package."""
    if task in TYPED_TASKS and p["type"] != g["type"]:
        return False
    if task in BOX_TASKS:
        if p["box"] is None or not g["boxes"]:
            return p["box"] is None and not g["boxes"]
        return max(_box_iou(p["box"], b) for b in g["boxes"]) >= iou
    if task in MASK_TASKS:
        if p["mask"] is None or not g["masks"]:
            return p["mask"] is None and not g["masks"]
        return max(_mask_iou(p["mask"], m) for m in g["masks"]) >= iou
    return True


def _maximum_matching(adjacency: list[set[int]]) -> int:
    """Brute force over the (few) predictions."""

    def best(i: int, used: frozenset) -> int:
        if i == len(adjacency):
            return 0
        return max([best(i + 1, used)] + [1 + best(i + 1, used | {g}) for g in adjacency[i] if g not in used])

    return best(0, frozenset())


def _first_fit(adjacency: list[set[int]]) -> int:
    used: set[int] = set()
    for neighbours in adjacency:  # predictions in file order, gold entities in dataset order
        free = sorted(neighbours - used)
        if free:
            used.add(free[0])
    return len(used)


def _riveg_first_fit(sub: Submission, gold: Gold, task: str, iou: float) -> int:
    """The released RiVEG script over a whole file, from docs/design.md: predictions in file order, each takes the
    first unused gold entity (dataset order) of its tweet with its text and, for typed tasks, its type as
    written (MISC is not OTHER), whose region is correct."""
    used: set[int] = set()
    for p in sorted(sub.predictions, key=lambda p: p.order):
        pred = {"type": p.type_raw, "box": p.box, "mask": p.mask}
        for g in gold.entities:
            if g.index in used or g.tweet != p.tweet or g.text != p.text:
                continue
            if _oracle_correct(pred, {"type": g.type, "boxes": g.boxes.tolist(), "masks": g.masks}, task, iou):
                used.add(g.index)
                break
    return len(used)


@SETTINGS
@given(data=crowded_case(), iou=st.sampled_from([0.25, 0.5, 0.75]))
def test_crowded_tweets_text_is_a_maximum_matching_and_riveg_a_first_fit(data, iou):
    """Against an oracle written from docs/design.md: text mode finds a maximum matching of the correct pairs,
    riveg the first fit in file order (gold entities in dataset order)."""
    rows, lines = data
    gold = build_gold(rows)
    sub = read_lines(gold, lines)
    golds, preds = rows[0]["entities"], lines[0]["entities"]
    for mode, oracle in (("text", _maximum_matching), ("riveg", _first_fit)):
        got = results(sub, gold, mode, iou)
        for task in TASKS:
            adjacency = [{k for k, g in enumerate(golds) if _oracle_correct(p, g, task, iou)} for p in preds]
            assert got[task]["tp"] == oracle(adjacency), (mode, task, adjacency)


@SETTINGS
@given(data=gold_and_predictions(text_only=False) | gold_and_predictions(text_only=True))
def test_misc_alias_only_matters_in_riveg(data):
    """Writing MISC for OTHER (and back) changes nothing in span and text modes. In riveg mode (types as
    written: MISC is not OTHER) the type-blind tasks do not change, and the typed tasks find, before and after,
    what the released script's first fit finds (an oracle over the whole file)."""
    rows, lines = data
    gold = build_gold(rows)
    flipped = [
        {
            "id": line["id"],
            "entities": [
                {**e, "type": {"MISC": "OTHER", "OTHER": "MISC"}.get(e["type"], e["type"])} for e in line["entities"]
            ],
        }
        for line in lines
    ]
    sub, sub2 = read_lines(gold, lines), read_lines(gold, flipped)
    for mode in modes_for(sub):
        before, after = results(sub, gold, mode), results(sub2, gold, mode)
        for task in before:
            if mode == "riveg" and task in TYPED_TASKS:
                assert before[task]["tp"] == _riveg_first_fit(sub, gold, task, 0.5), task
                assert after[task]["tp"] == _riveg_first_fit(sub2, gold, task, 0.5), task
            else:
                assert headline(before[task]) == headline(after[task]), (mode, task)


# --- riveg: first fit, as the released script ---------------------------------------------------------


def test_riveg_first_fit_is_not_monotone_in_the_threshold():
    """Why property 5 covers span and text modes only: riveg reproduces the RiVEG script's greedy first
    fit (in file order), which can lose a match when the threshold is lowered. Gold: two "A" LOC entities,
    g1 with boxes [0,0,4,4] and [10,10,14,14], then g2 with box [10,10,14,12]. p1 (first in the file) is
    g2's box: IoU 1 with g2, 0.5 with g1. p2 is [0,0,4,4]: IoU 1 with g1, 0 with g2. At 0.9 p1 can only
    take g2 and p2 takes g1 (tp 2); at 0.5 p1 takes g1 first and p2 is left without a match (tp 1). Text
    mode's maximum matching finds 2 at both thresholds."""
    rows = [
        {
            "id": "t0",
            "tokens": ["A", "x", "A"],
            "width": 16,
            "height": 16,
            "entities": [
                {"start": 0, "end": 1, "text": "A", "type": "LOC", "boxes": [[0, 0, 4, 4], [10, 10, 14, 14]]},
                {"start": 2, "end": 3, "text": "A", "type": "LOC", "boxes": [[10, 10, 14, 12]]},
            ],
        }
    ]
    gold = build_gold(rows)
    lines = [
        {
            "id": "t0",
            "entities": [
                {"text": "A", "type": "LOC", "box": [10, 10, 14, 12], "mask": None},
                {"text": "A", "type": "LOC", "box": [0, 0, 4, 4], "mask": None},
            ],
        }
    ]
    sub = read_lines(gold, lines)
    for task in BOX_TASKS:
        assert results(sub, gold, "riveg", 0.9)[task]["tp"] == 2
        assert results(sub, gold, "riveg", 0.5)[task]["tp"] == 1
        assert results(sub, gold, "text", 0.9)[task]["tp"] == 2
        assert results(sub, gold, "text", 0.5)[task]["tp"] == 2


# --- an empty submission ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", REGION_TASKS)
def test_empty_submission_validated_for_a_task_scores_zero_on_it(task):
    """A file with "entities": [] on every line passes read_submission(task=...) for the region tasks
    (every entity, vacuously, has the key); scoring it on that task should then give 0, not refuse."""
    rows = [
        {
            "id": "t0",
            "tokens": ["New", "York"],
            "width": 8,
            "height": 8,
            "entities": [
                {
                    "start": 0,
                    "end": 2,
                    "text": "New York",
                    "type": "LOC",
                    "boxes": [[0, 0, 4, 4]],
                    "masks": [encode_rle(box_mask([0, 0, 4, 4], 8, 8))],
                }
            ],
        }
    ]
    gold = build_gold(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "empty.jsonl")
        write_submission(path, [{"id": "t0", "entities": []}])
        sub = read_submission(path, gold, task=task)
    try:
        report = report_json(sub, gold, task=task)
    except UsageError as exc:
        pytest.fail(f"an empty submission accepted for {task} cannot be scored on it: {exc}")
    r = report["results"][task]
    assert (r["tp"], r["pred"], r["gold"], r["f1"]) == (0, 0, 1, 0.0)


# --- regions: the RLE codec and the box IoU kernel against plain numpy ---------------------------------


@settings(max_examples=50, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    seeds=st.lists(st.integers(0, 2**16), min_size=1, max_size=3),
)
def test_rle_codec_round_trip_merge_and_iou(shape, seeds):
    masks = [np.random.default_rng(seed).random(shape) < 0.4 for seed in seeds]
    rles = [encode_rle(m) for m in masks]
    for m, rle in zip(masks, rles, strict=True):
        assert rle_problem(rle) is None and rle["size"] == list(shape)
        assert (decode_rle(rle) == m).all()
    union = np.logical_or.reduce(masks)
    assert (decode_rle(merge_rles(rles)) == union).all() and rle_problem(merge_rles(rles)) is None
    for rle in rles:
        assert float(mask_ious(rle, [merge_rles(rles)])[0]) == pytest.approx(_mask_iou(rle, encode_rle(union)))


coordinate = st.floats(-20, 20, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(boxes=st.lists(st.tuples(coordinate, coordinate, coordinate, coordinate), min_size=2, max_size=6))
def test_box_iou_kernel_matches_the_definition(boxes):
    first, rest = boxes[0], np.array(boxes[1:])
    expected = [_box_iou(first, b) for b in boxes[1:]]
    assert box_ious(first, rest).tolist() == pytest.approx(expected)
    pairs = box_iou_pairs(np.array(boxes[:-1]), np.array(boxes[1:]))
    assert pairs.tolist() == pytest.approx([_box_iou(a, b) for a, b in itertools.pairwise(boxes)])
