"""The scorer on the real test splits, checked against independent implementations written here.

- MNER: seqeval (its default, conlleval-compatible mode; micro averages) on Twitter-2015 test, with
  perturbed BIO tag sequences turned into submissions by ``from_tags``.
- EEG / GMNER (and the MNER part of a GMNER file): a brute-force scorer on Twitter-GMNER v2.0 test, with
  a perturbed copy of the gold, in the three matching modes:
  ``span`` (same tweet/start/end), ``text`` (an exhaustive maximum matching per (tweet, text) group) and
  ``riveg`` (the released RiVEG statistics script, literally: predictions in file order, each takes the
  first unused gold entity of its tweet, in dataset order, with the same ``text(TYPE)`` key, types as
  written, whose region is correct; type-blind EEG drops the type from the key, as docs/design.md says).

Nothing on the expected side uses smner_bench's matching, metrics or tag-parsing code.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from types import SimpleNamespace

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission
from smner_bench.benchmark.tags import from_tags
from smner_bench.loaders import load

from .reports import report_json

pytestmark = pytest.mark.realdata

TYPES = ("PER", "LOC", "ORG", "OTHER")
SWEEP = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95]  # literals on purpose
GOLD_COLUMNS = ["id", "tokens", "width", "height", "entities"]
TOL = 1e-12


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def t15(data_root, hf_cache):
    ds = load("twitter2015", data_root / "twitter2015", cache_dir=hf_cache)["test"]
    names = ds.features["ner_tags"].feature.names
    rows = ds.select_columns(["id", "tokens", "ner_tags", "entities"]).to_list()
    gold = gold_from_rows(
        ds.select_columns(GOLD_COLUMNS), dataset="twitter2015", split="test", has_boxes=False, has_masks=False
    )
    for r in rows:
        r["tags"] = [names[i] for i in r["ner_tags"]]
    return SimpleNamespace(rows=rows, gold=gold)


@pytest.fixture(scope="module")
def gm(data_root, hf_cache):
    ds = load("gmner", data_root / "twitter-gmner" / "v2.0", cache_dir=hf_cache)["test"]
    cols = ds.select_columns(GOLD_COLUMNS)
    gold = gold_from_rows(cols, dataset="gmner", split="test", has_boxes=True, has_masks=False)
    rows = cols.to_list()
    golds = [
        {
            "tid": r["id"],
            "start": e["start"],
            "end": e["end"],
            "text": e["text"],
            "type": e["type"],
            "boxes": [tuple(float(v) for v in b) for b in e["boxes"]],
        }
        for r in rows
        for e in r["entities"]
    ]
    return SimpleNamespace(rows=rows, gold=gold, golds=golds)


# ---------------------------------------------------------------------------------------------------------
# 1. MNER against seqeval
# ---------------------------------------------------------------------------------------------------------

MNER_VARIANTS = {
    "gold": None,
    "mild": dict(seed=11, drop=0.05, retype=0.2, shift=0.15, spurious=0.1, i_start=0.05, stray=0.05, split=0.0),
    "heavy": dict(seed=12, drop=0.2, retype=0.3, shift=0.3, spurious=0.3, i_start=0.2, stray=0.2, split=0.1),
    # IO-style tagging: every entity starts with I-, so adjacent entities of one type merge (conlleval)
    "io": dict(seed=13, drop=0.05, retype=0.15, shift=0.1, spurious=0.1, i_start=1.0, stray=0.0, split=0.0),
}


def perturb_tags(entities: list[dict], n: int, rng: random.Random, cfg: dict) -> list[str]:
    spans = []
    for e in entities:
        s, t, kind = e["start"], e["end"], e["type"]
        if rng.random() < cfg["drop"]:
            continue
        if rng.random() < cfg["retype"]:
            kind = rng.choice([k for k in TYPES if k != kind])
        if rng.random() < cfg["shift"]:
            move = rng.choice(("left", "right", "grow_left", "grow_right", "shrink"))
            if move == "left" and s > 0:
                s, t = s - 1, t - 1
            elif move == "right" and t < n:
                s, t = s + 1, t + 1
            elif move == "grow_left" and s > 0:
                s -= 1
            elif move == "grow_right" and t < n:
                t += 1
            elif move == "shrink" and t - s > 1:
                t -= 1
        spans.append((s, t, kind))
    if rng.random() < cfg["spurious"]:
        free = [i for i in range(n) if not any(s <= i < t for s, t, _ in spans)]
        if free:
            i = rng.choice(free)
            spans.append((i, min(n, i + rng.choice((1, 2))), rng.choice(TYPES)))
    tags = ["O"] * n
    for s, t, kind in spans:  # later spans overwrite earlier ones where shifts made them overlap
        tags[s] = ("I-" if rng.random() < cfg["i_start"] else "B-") + kind
        for j in range(s + 1, t):
            tags[j] = "I-" + kind
        if t - s > 1 and rng.random() < cfg["split"]:  # a type change inside an entity
            tags[rng.randrange(s + 1, t)] = "I-" + rng.choice([k for k in TYPES if k != kind])
    if rng.random() < cfg["stray"]:
        outside = [i for i in range(n) if tags[i] == "O"]
        if outside:
            tags[rng.choice(outside)] = "I-" + rng.choice(TYPES)
    return tags


def conll_starts_with_i(tags: list[str]) -> int:
    """How many I-X tags start an entity under conlleval (after O, at the start, or after another type)."""
    count, previous = 0, "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            count += 1
        previous = tag
    return count


@pytest.mark.parametrize("variant", list(MNER_VARIANTS))
def test_mner_matches_seqeval(t15, tmp_path, variant):
    cfg = MNER_VARIANTS[variant]
    rng = random.Random(cfg["seed"]) if cfg else None
    y_true, y_pred, lines = [], [], []
    for r in t15.rows:
        pred = list(r["tags"]) if cfg is None else perturb_tags(r["entities"], len(r["tokens"]), rng, cfg)
        y_true.append(r["tags"])
        y_pred.append(pred)
        lines.append({"id": r["id"], "entities": from_tags(pred, r["tokens"])})
    repairs = sum(conll_starts_with_i(p) for p in y_pred)
    assert repairs >= (100 if variant != "mild" else 50), "the perturbation must exercise conlleval repairs"
    path = tmp_path / f"{variant}.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, t15.gold)
    got = report_json(sub, t15.gold, task="mner", match="span")["results"]["mner"]

    assert got["precision"] == pytest.approx(precision_score(y_true, y_pred), abs=TOL)
    assert got["recall"] == pytest.approx(recall_score(y_true, y_pred), abs=TOL)
    assert got["f1"] == pytest.approx(f1_score(y_true, y_pred), abs=TOL)
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    assert got["gold"] == report["micro avg"]["support"]
    if variant == "gold":
        assert got["f1"] == 1.0 and got["tp"] == got["pred"] == got["gold"]
    else:
        assert 0.3 < got["f1"] < 0.99
    for kind in TYPES:
        mine, theirs = got["per_type"][kind], report[kind]
        assert mine["gold"] == theirs["support"], kind
        assert mine["precision"] == pytest.approx(theirs["precision"], abs=TOL), kind
        assert mine["recall"] == pytest.approx(theirs["recall"], abs=TOL), kind
        assert mine["f1"] == pytest.approx(theirs["f1-score"], abs=TOL), kind


# ---------------------------------------------------------------------------------------------------------
# 2. GMNER / EEG against a brute-force scorer
# ---------------------------------------------------------------------------------------------------------


def canon(kind: str) -> str:
    return "OTHER" if kind == "MISC" else kind


def box_iou(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


class Brute:
    """The definitions of docs/design.md "Metrics", as loops over plain dicts."""

    def __init__(self, preds: list[dict], golds: list[dict]) -> None:
        self.preds, self.golds = preds, golds  # preds in file order, golds in dataset order
        self.by_tweet: dict[str, list[int]] = defaultdict(list)
        for j, g in enumerate(golds):
            self.by_tweet[g["tid"]].append(j)
        self.by_span = {(g["tid"], g["start"], g["end"]): j for j, g in enumerate(golds)}

    @staticmethod
    def region_ok(box, gold_boxes, t: float) -> bool:
        if box is None:
            return not gold_boxes
        return bool(gold_boxes) and max(box_iou(box, g) for g in gold_boxes) >= t

    def correct(self, i: int, j: int, task: str, t: float, *, raw_type: bool = False) -> bool:
        p, g = self.preds[i], self.golds[j]
        if p["tid"] != g["tid"] or p["text"] != g["text"]:
            return False
        if task in ("mner", "gmner") and (p["type"] if raw_type else canon(p["type"])) != g["type"]:
            return False
        return task == "mner" or self.region_ok(p["box"], g["boxes"], t)

    def matches(self, task: str, mode: str, t: float = 0.5) -> list[tuple[int, int]]:
        if mode == "span":
            out = []
            for i, p in enumerate(self.preds):
                j = self.by_span.get((p["tid"], p["start"], p["end"]))
                if j is not None and self.correct(i, j, task, t):
                    out.append((i, j))
            return out
        if mode == "riveg":
            used: set[int] = set()
            out = []
            for i, p in enumerate(self.preds):
                for j in self.by_tweet[p["tid"]]:  # all gold entities of this image, dataset order
                    if j not in used and self.correct(i, j, task, t, raw_type=True):
                        used.add(j)
                        out.append((i, j))
                        break
            return out
        assert mode == "text"
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, p in enumerate(self.preds):
            groups[(p["tid"], p["text"])].append(i)
        out = []
        for (tid, text), pis in groups.items():
            gjs = [j for j in self.by_tweet[tid] if self.golds[j]["text"] == text]
            edges = {i: [j for j in gjs if self.correct(i, j, task, t)] for i in pis}
            out += exhaustive_matching([i for i in pis if edges[i]], edges, frozenset())
        return out

    def figures(self, task: str, mode: str, t: float = 0.5) -> dict:
        m = self.matches(task, mode, t)
        tp, pred, gold = len(m), len(self.preds), len(self.golds)
        precision = tp / pred if pred else 0.0
        recall = tp / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"tp": tp, "pred": pred, "gold": gold, "precision": precision, "recall": recall, "f1": f1, "m": m}


def exhaustive_matching(pis: list[int], edges: dict[int, list[int]], used: frozenset) -> list[tuple[int, int]]:
    """A maximum matching by trying every assignment (groups are tiny)."""
    if not pis:
        return []
    i, rest = pis[0], pis[1:]
    best = exhaustive_matching(rest, edges, used)
    for j in edges[i]:
        if j not in used:
            candidate = [(i, j), *exhaustive_matching(rest, edges, used | {j})]
            if len(candidate) > len(best):
                best = candidate
    return best


def preds_of(lines: list[dict]) -> list[dict]:
    return [
        {
            "tid": line["id"],
            "start": e.get("start"),
            "end": e.get("end"),
            "text": e["text"],
            "type": e["type"],
            "box": None if e["box"] is None else tuple(e["box"]),
        }
        for line in lines
        for e in line["entities"]
    ]


def unannotated_repeats(row: dict) -> list[tuple[dict, int]]:
    """(gold entity, start) where the entity's text occurs again in the tweet at a span no gold entity has."""
    tokens, spans = row["tokens"], {(e["start"], e["end"]) for e in row["entities"]}
    out = []
    for e in row["entities"]:
        n = e["end"] - e["start"]
        for u in range(len(tokens) - n + 1):
            if (u, u + n) not in spans and " ".join(tokens[u : u + n]) == e["text"]:
                out.append((e, u))
    return out


def special_tweets(rows: list[dict]) -> tuple[dict, dict, dict, dict]:
    """D: a tweet whose gold has the same text twice (type OTHER), predicted exactly but typed MISC.
    R: a tweet where a gold entity's text occurs again, unannotated; predicted at that other occurrence
    only, with the right type (as written) and region. Per construction, for GMNER and MNER: span 2 (D),
    text 3 (D 2 + R 1), riveg 1 (R only: MISC is not OTHER there); for EEG: span 2, text 3, riveg 3."""
    dup = next(
        r
        for r in rows
        if any(k > 1 for k in Counter(e["text"] for e in r["entities"] if e["type"] == "OTHER").values())
    )
    text = next(t for t, k in Counter(e["text"] for e in dup["entities"] if e["type"] == "OTHER").items() if k > 1)
    d_ents = [
        {
            "start": e["start"],
            "end": e["end"],
            "text": e["text"],
            "type": "MISC",
            "box": [float(v) for v in e["boxes"][-1]] if e["boxes"] else None,  # the last box: "any gold box"
        }
        for e in dup["entities"]
        if e["text"] == text
    ]
    assert len(d_ents) == 2
    rep = next(r for r in rows if r["id"] != dup["id"] and unannotated_repeats(r))
    e, u = unannotated_repeats(rep)[0]
    r_ents = [
        {
            "start": u,
            "end": u + e["end"] - e["start"],
            "text": e["text"],
            "type": e["type"],
            "box": [float(v) for v in e["boxes"][0]] if e["boxes"] else None,
        }
    ]
    return dup, {"id": dup["id"], "entities": d_ents}, rep, {"id": rep["id"], "entities": r_ents}


def perturb_gmner(rows: list[dict], seed: int) -> tuple[list[dict], Counter]:
    rng = random.Random(seed)
    stats: Counter = Counter()
    lines = []
    for r in rows:
        tokens, n = r["tokens"], len(r["tokens"])
        width, height = r["width"], r["height"]
        gold_tokens = {i for e in r["entities"] for i in range(e["start"], e["end"])}
        used: set[tuple[int, int]] = set()
        ents = []

        def overlaps(s: int, t: int, used=used) -> bool:  # submissions are flat: no span crosses another
            return any(a < t and s < b for a, b in used)

        def clip(box, width=width, height=height):
            x1, y1, x2, y2 = box
            if width:
                x2 = min(x2, float(width))
            if height:
                y2 = min(y2, float(height))
            return [max(0.0, x1), max(0.0, y1), x2, y2]

        for e in r["entities"]:
            if rng.random() < 0.08:
                stats["dropped"] += 1
                continue
            s, t = e["start"], e["end"]
            if rng.random() < 0.05 and t < n and t not in gold_tokens:
                t += 1  # a span one token too long (over no other entity): a wrong text in every mode
                stats["extended"] += 1
            kind = e["type"]
            if rng.random() < 0.2:
                kind = rng.choice([k for k in TYPES if k != kind])
                stats["retyped"] += 1
            if kind == "OTHER" and rng.random() < 0.4:
                kind = "MISC"
                stats["misc"] += 1
            boxes = e["boxes"]
            if boxes:
                x1, y1, x2, y2 = (float(v) for v in boxes[rng.randrange(len(boxes))])
                w, h = x2 - x1, y2 - y1
                u = rng.random()
                if u < 0.10:
                    box = None
                    stats["null_for_groundable"] += 1
                elif u < 0.20:  # same x range, half the height: IoU exactly 0.5 (integer gold boxes)
                    box = [x1, y1, x2, y1 + h / 2] if rng.random() < 0.5 else [x1, y1, x1 + w / 2, y2]
                    stats["half"] += 1
                elif u < 0.26:  # IoU exactly 0.75
                    box = [x1, y1 + h / 4, x2, y2]
                    stats["three_quarters"] += 1
                elif u < 0.34:
                    box = [x1, y1, x2, y2]
                else:  # scaled and shifted: IoU on both sides of 0.5
                    cx = (x1 + x2) / 2 + rng.uniform(-0.3, 0.3) * w
                    cy = (y1 + y2) / 2 + rng.uniform(-0.3, 0.3) * h
                    sw, sh = w * rng.uniform(0.6, 1.5), h * rng.uniform(0.6, 1.5)
                    box = clip([cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2])
                    stats["jittered"] += 1
            elif rng.random() < 0.15:
                bx, by = rng.uniform(0, 100), rng.uniform(0, 100)
                box = clip([bx, by, bx + rng.uniform(10, 150), by + rng.uniform(10, 150)])
                stats["box_for_ungroundable"] += 1
            else:
                box = None
            used.add((s, t))
            ents.append({"start": s, "end": t, "text": " ".join(tokens[s:t]), "type": kind, "box": box})
        # the same text elsewhere in the tweet, unannotated: matches in text/riveg modes, never by span
        for e, u in unannotated_repeats(r):
            span = (u, u + e["end"] - e["start"])
            if not overlaps(*span) and rng.random() < 0.6:
                used.add(span)
                box = [float(v) for v in e["boxes"][0]] if e["boxes"] else None
                item = {"start": span[0], "end": span[1], "text": e["text"], "type": e["type"], "box": box}
                ents.insert(rng.randrange(len(ents) + 1), item)
                stats["repeat"] += 1
        if rng.random() < 0.15:  # a spurious entity over tokens outside every gold entity
            free = [i for i in range(n) if i not in gold_tokens]
            if free:
                i = rng.choice(free)
                j = i + 2 if i + 1 in free and rng.random() < 0.3 else i + 1
                if not overlaps(i, j):
                    used.add((i, j))
                    box = None
                    if rng.random() < 0.5:
                        bx, by = rng.uniform(0, 50), rng.uniform(0, 50)
                        box = clip([bx, by, bx + 40.0, by + 60.0])
                    kind = rng.choice((*TYPES, "MISC"))
                    ents.append({"start": i, "end": j, "text": " ".join(tokens[i:j]), "type": kind, "box": box})
                    stats["spurious"] += 1
        if rng.random() < 0.3:
            rng.shuffle(ents)  # file order matters to riveg only
        lines.append({"id": r["id"], "entities": ents})
    return lines, stats


@pytest.fixture(scope="module")
def perturbed(gm, tmp_path_factory):
    lines, stats = perturb_gmner(gm.rows, seed=2024)
    dup, d_line, rep, r_line = special_tweets(gm.rows)
    for k, line in enumerate(lines):
        if line["id"] == dup["id"]:
            lines[k] = d_line
        elif line["id"] == rep["id"]:
            lines[k] = r_line
    path = tmp_path_factory.mktemp("gmner-sub") / "perturbed.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, gm.gold, task="gmner")
    return SimpleNamespace(lines=lines, stats=stats, sub=sub, brute=Brute(preds_of(lines), gm.golds))


def check_task(got: dict, want: dict, where: str) -> None:
    for key in ("tp", "pred", "gold"):
        assert got[key] == want[key], f"{where}: {key} {got[key]} != brute force {want[key]}"
    for key in ("precision", "recall", "f1"):
        assert got[key] == pytest.approx(want[key], abs=TOL), f"{where}: {key}"


def check_per_type(got: dict, brute: Brute, matched: list[tuple[int, int]], where: str) -> None:
    tp = Counter(brute.golds[j]["type"] for _, j in matched)
    pred = Counter(canon(p["type"]) for p in brute.preds)
    gold = Counter(g["type"] for g in brute.golds)
    for kind in TYPES:
        r = got["per_type"][kind]
        assert (r["tp"], r["pred"], r["gold"]) == (tp[kind], pred[kind], gold[kind]), f"{where}: per type {kind}"


def test_perturbation_covers_the_cases(perturbed):
    s = perturbed.stats
    for key, least in (
        ("dropped", 100),
        ("retyped", 300),
        ("misc", 40),
        ("null_for_groundable", 80),
        ("half", 80),
        ("three_quarters", 40),
        ("jittered", 400),
        ("box_for_ungroundable", 50),
        ("spurious", 100),
        ("repeat", 5),
        ("extended", 50),
    ):
        assert s[key] >= least, (key, s[key])
    b = perturbed.brute
    # boundary cases that really are at IoU 0.5 exactly, and jitter on both sides of 0.5
    ious = [
        max(box_iou(p["box"], g) for g in b.golds[j]["boxes"])
        for p in b.preds
        if p["box"] is not None
        and (j := b.by_span.get((p["tid"], p["start"], p["end"]))) is not None
        and b.golds[j]["boxes"]
    ]
    assert sum(v == 0.5 for v in ious) >= 50
    assert sum(v == 0.75 for v in ious) >= 30
    assert sum(0.3 < v < 0.5 for v in ious) >= 100 and sum(0.5 < v < 0.7 for v in ious) >= 100


IOUS = [0.5, math.nextafter(0.5, 1.0), 0.75]


@pytest.mark.parametrize("iou", IOUS, ids=["0.5", "0.5+ulp", "0.75"])
@pytest.mark.parametrize("mode", ["span", "text", "riveg"])
def test_gmner_matches_brute_force(gm, perturbed, mode, iou):
    report = report_json(perturbed.sub, gm.gold, task="gmner", match=mode, iou=iou)
    assert set(report["results"]) == {"mner", "eeg", "gmner"}
    for task in ("mner", "eeg", "gmner"):
        want = perturbed.brute.figures(task, mode, iou)
        got = report["results"][task]
        check_task(got, want, f"{task}/{mode}@{iou}")
        if task != "eeg":  # a typed task's per-type counts are the same for every maximum matching
            check_per_type(got, perturbed.brute, want["m"], f"{task}/{mode}@{iou}")
        if task != "mner":
            sweep = got["sweep"]
            assert sweep["thresholds"] == pytest.approx(SWEEP, abs=1e-12)
            expected = [perturbed.brute.figures(task, mode, t) for t in SWEEP]
            assert sweep["tp"] == [w["tp"] for w in expected], f"{task}/{mode} sweep"
            assert sweep["f1"] == pytest.approx([w["f1"] for w in expected], abs=TOL)
            assert sweep["mean_f1"] == pytest.approx(sum(w["f1"] for w in expected) / len(SWEEP), abs=TOL)


def test_threshold_is_inclusive(gm, perturbed):
    """IoU exactly 0.5 counts at 0.5 and not one ulp above; the perturbed file has many such boxes."""
    for mode in ("span", "text", "riveg"):
        at = report_json(perturbed.sub, gm.gold, task="gmner", match=mode, iou=0.5)["results"]["gmner"]["tp"]
        above = report_json(perturbed.sub, gm.gold, task="gmner", match=mode, iou=IOUS[1])["results"]["gmner"]["tp"]
        assert at - above >= 20, mode
        assert (at, above) == (
            perturbed.brute.figures("gmner", mode, 0.5)["tp"],
            perturbed.brute.figures("gmner", mode, IOUS[1])["tp"],
        )


def test_modes_differ_on_repeated_text(gm, tmp_path):
    """A file with only the two crafted tweets: the three modes give three different counts, as built."""
    dup, d_line, rep, r_line = special_tweets(gm.rows)
    lines = [{"id": r["id"], "entities": []} for r in gm.rows]
    for k, r in enumerate(gm.rows):
        if r["id"] == dup["id"]:
            lines[k] = d_line
        elif r["id"] == rep["id"]:
            lines[k] = r_line
    path = tmp_path / "special.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, gm.gold, task="gmner")
    brute = Brute(preds_of(lines), gm.golds)
    got = {mode: report_json(sub, gm.gold, task="gmner", match=mode)["results"] for mode in ("span", "text", "riveg")}
    for task in ("mner", "eeg", "gmner"):
        package = {mode: got[mode][task]["tp"] for mode in got}
        expected = {mode: brute.figures(task, mode)["tp"] for mode in got}
        assert package == expected, f"{task}: tweets {dup['id']} / {rep['id']}: package {package} != brute {expected}"
    assert {m: got[m]["gmner"]["tp"] for m in got} == {"span": 2, "text": 3, "riveg": 1}
    assert {m: got[m]["mner"]["tp"] for m in got} == {"span": 2, "text": 3, "riveg": 1}
    assert {m: got[m]["eeg"]["tp"] for m in got} == {"span": 2, "text": 3, "riveg": 3}
    assert len({got[m]["gmner"]["tp"] for m in got}) == 3


def test_misc_is_other_except_in_riveg(gm, tmp_path):
    lines = gold_as_submission(gm.gold, box=True)
    misc = 0
    for line in lines:
        for e in line["entities"]:
            if e["type"] == "OTHER":
                e["type"] = "MISC"
                misc += 1
    assert misc == sum(g["type"] == "OTHER" for g in gm.golds) > 300
    path = tmp_path / "misc.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, gm.gold, task="gmner")
    brute = Brute(preds_of(lines), gm.golds)
    total = len(gm.golds)
    for mode in ("span", "text", "riveg"):
        results = report_json(sub, gm.gold, task="gmner", match=mode)["results"]
        for task in ("mner", "eeg", "gmner"):
            check_task(results[task], brute.figures(task, mode), f"{task}/{mode} (MISC)")
        typed_tp = total - misc if mode == "riveg" else total
        assert results["gmner"]["tp"] == results["mner"]["tp"] == typed_tp, mode
        assert results["eeg"]["tp"] == total, mode
        assert results["gmner"]["per_type"]["OTHER"]["tp"] == (0 if mode == "riveg" else misc)


# ---------------------------------------------------------------------------------------------------------
# 3. Text-only predictions
# ---------------------------------------------------------------------------------------------------------


def test_text_only_predictions(gm, perturbed, tmp_path):
    lines = [
        {
            "id": line["id"],
            "entities": [{k: v for k, v in e.items() if k not in ("start", "end")} for e in line["entities"]],
        }
        for line in perturbed.lines
    ]
    path = tmp_path / "text-only.jsonl"
    write_submission(path, lines)
    sub = read_submission(path, gm.gold, task="gmner")
    assert not sub.has_spans
    brute = Brute(preds_of(lines), gm.golds)
    for mode in ("text", "riveg"):
        results = report_json(sub, gm.gold, task="gmner", match=mode)["results"]
        for task in ("mner", "eeg", "gmner"):
            want = brute.figures(task, mode)
            check_task(results[task], want, f"text-only {task}/{mode}")
            # dropping the spans changes nothing in these modes
            assert want["tp"] == perturbed.brute.figures(task, mode)["tp"]
    default = report_json(sub, gm.gold, task="gmner")
    assert default["match"] == "text"
    assert default["results"]["gmner"]["tp"] == brute.figures("gmner", "text")["tp"]
    with pytest.raises(UsageError, match="span"):
        report_json(sub, gm.gold, task="gmner", match="span")
