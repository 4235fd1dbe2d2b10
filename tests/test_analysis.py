"""The error analysis (benchmark/analysis.py, ``score --analysis``): nervaluate's categories, each entity counted
once; the type confusion; macro and weighted averages; region errors; consistency with the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smner_bench.benchmark.analysis import BOTH, BOUNDARY, NONE, RIGHT, TYPE, analyze, categories, format_analysis
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.scoring import Scorer, ScoreReport
from smner_bench.benchmark.submission import parse_submission

from .test_cli_scoring import gold_args, preds, run  # noqa: F401  (preds: the sample's fixture)
from .test_scorer import tweet

B1, B2, B3 = [0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 60]
GOLD_ROWS = [
    tweet("1", "Ann met Bob in New York City today", (0, 1, "PER"), (2, 3, "PER"), (4, 7, "LOC")),
    tweet("2", "Apple and Google hire", (0, 1, "ORG"), (2, 3, "ORG")),
    tweet("3", "Kobe LA Shaq Lakers Bulls", (0, 1, "PER", [B1]), (1, 2, "LOC"), (2, 3, "PER", [B2]),
          (3, 4, "ORG", [B3]), (4, 5, "ORG")),
]  # fmt: skip


def e(start, end, text, kind, box=None):
    return {"start": start, "end": end, "text": text, "type": kind, "box": box}


PREDICTIONS = [
    {"id": "1", "entities": [
        e(0, 1, "Ann", "PER"),  # right
        e(2, 3, "Bob", "LOC"),  # type: same span, another type
        e(4, 6, "New York", "LOC"),  # boundary: overlapping span, same type
    ]},
    {"id": "2", "entities": [
        e(0, 2, "Apple and", "PER"),  # both: overlapping span, another type (Google: missed)
        e(3, 4, "hire", "OTHER"),  # spurious
    ]},
    {"id": "3", "entities": [
        e(0, 1, "Kobe", "PER", B1),  # right entity, right box
        e(1, 2, "LA", "LOC", [0, 0, 5, 5]),  # a box for an ungroundable entity
        e(2, 3, "Shaq", "PER"),  # null for a groundable entity
        e(3, 4, "Lakers", "ORG", [80, 80, 90, 90]),  # a wrong box
        e(4, 5, "Bulls", "ORG"),  # both null: right
    ]},
]  # fmt: skip


@pytest.fixture
def gold():
    return gold_from_rows(GOLD_ROWS, dataset="hand", split="test", has_boxes=True, has_masks=False)


def scored(gold, lines=PREDICTIONS, task=None, mode=None):
    scorer = Scorer.build(parse_submission(lines, gold, task=task), gold)
    report = scorer.report(task, mode)
    return scorer, report, analyze(scorer, report)


def test_every_category_once_on_the_hand_made_case(gold):
    scorer, report, a = scored(gold)
    g, p, partner = categories(scorer, "span")
    assert g.tolist() == [RIGHT, TYPE, BOUNDARY, BOTH, NONE, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT]
    assert p.tolist() == [RIGHT, TYPE, BOUNDARY, BOTH, NONE, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT]
    assert partner.tolist() == [0, 1, -1, -1, -1, 5, 6, 7, 8, 9]
    assert a.gold.model_dump() == {"right": 6, "type": 1, "boundary": 1, "both": 1, "missed": 1}
    assert a.pred.model_dump() == {"right": 6, "type": 1, "boundary": 1, "both": 1, "spurious": 1}
    mner = report.results["mner"]
    assert sum(a.gold.model_dump().values()) == mner.gold == 10 and sum(a.pred.model_dump().values()) == mner.pred
    assert a.gold.right == a.pred.right == mner.tp


def test_type_confusion_on_the_hand_made_case(gold):
    _, _, a = scored(gold)
    cm = a.confusion
    assert cm.types == ["PER", "LOC", "ORG", "OTHER"]
    # PER: Ann, Kobe, Shaq right, Bob predicted LOC; LOC: LA right; ORG: Lakers, Bulls right
    assert cm.matrix == [[3, 1, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    assert cm.missed == [0, 0, 1, 0] and cm.spurious == [0, 0, 0, 1]  # Google; "hire"


def test_macro_and_weighted_averages_by_hand(gold):
    _, report, a = scored(gold, task="mner")
    # MNER per type (tp, pred, gold): PER (3, 4: Ann Apple-and Kobe Shaq, 4), LOC (1, 3, 2), ORG (2, 2, 4),
    # OTHER (0, 1, 0)
    p = {"PER": 3 / 4, "LOC": 1 / 3, "ORG": 1.0, "OTHER": 0.0}
    r = {"PER": 3 / 4, "LOC": 1 / 2, "ORG": 1 / 2, "OTHER": 0.0}
    f = {k: 2 * p[k] * r[k] / (p[k] + r[k]) if p[k] + r[k] else 0.0 for k in p}
    support = {"PER": 4, "LOC": 2, "ORG": 4, "OTHER": 0}
    assert {k: (v.tp, v.pred, v.gold) for k, v in report.main.per_type.items()} == {
        "PER": (3, 4, 4), "LOC": (1, 3, 2), "ORG": (2, 2, 4), "OTHER": (0, 1, 0)}  # fmt: skip
    avg = a.averages
    assert avg.types == ["PER", "LOC", "ORG", "OTHER"]  # OTHER: a prediction, no gold
    for fig, want in (("precision", p), ("recall", r), ("f1", f)):
        assert getattr(avg.macro, fig) == pytest.approx(sum(want.values()) / 4, abs=1e-12)
        assert getattr(avg.weighted, fig) == pytest.approx(sum(support[k] * want[k] for k in want) / 10, abs=1e-12)


def test_box_errors_on_the_hand_made_case(gold):
    _, report, a = scored(gold)
    assert report.task == "gmner" and a.task == "gmner"
    r = a.regions
    assert (r.region, r.pairs, r.right, r.wrong, r.on_ungroundable, r.null_for_groundable) == ("box", 6, 3, 1, 1, 1)
    assert r.right == report.results["gmner"].tp  # span mode: the right boxes are GMNER's true positives
    _, _, plain = scored(gold, task="mner")
    assert plain.regions is None


def test_text_only_file_counts_types_by_text(gold):
    lines = [
        {"id": "1", "entities": [{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "ORG"}]},
        {"id": "2", "entities": [{"text": "Apple", "type": "ORG"}, {"text": "hire", "type": "OTHER"}]},
        {"id": "3", "entities": []},
    ]
    _, report, a = scored(gold, lines, task="mner", mode="text")
    assert a.gold.model_dump() == {"right": 2, "type": 1, "boundary": 0, "both": 0, "missed": 7}
    assert a.pred.model_dump() == {"right": 2, "type": 1, "boundary": 0, "both": 0, "spurious": 1}
    assert a.gold.right == report.results["mner"].tp == 2
    assert a.confusion.matrix[0][2] == 1  # Bob: gold PER, predicted ORG


def test_riveg_compares_types_as_written(gold):
    lines = [{"id": "1", "entities": [e(0, 1, "Ann", "PER")]}, {"id": "2", "entities": [e(3, 4, "hire", "MISC")]},
             {"id": "3", "entities": []}]  # fmt: skip
    _, _, a = scored(gold, lines, task="mner", mode="riveg")
    assert a.pred.right == 1 and a.pred.spurious == 1 and a.confusion.spurious == [0, 0, 0, 1]


def test_a_duplicate_in_text_mode_is_spurious_and_counted_once():
    g = gold_from_rows([tweet("1", "Paris or Paris", (0, 1, "LOC"))], dataset="hand", split="test",
                       has_boxes=False, has_masks=False)  # fmt: skip
    lines = [{"id": "1", "entities": [e(0, 1, "Paris", "LOC"), e(2, 3, "Paris", "LOC")]}]
    for mode, right in (("span", 1), ("text", 1)):
        _, report, a = scored(g, [{k: v for k, v in line.items()} for line in lines], task="mner", mode=mode)
        assert a.pred.right == right == report.main.tp and a.pred.spurious == 1 and a.gold.right == 1
        assert sum(a.pred.model_dump().values()) == 2 and sum(a.gold.model_dump().values()) == 1


def test_empty_submission_and_gold_give_zeros():
    g = gold_from_rows([tweet("1", "hello world")], dataset="hand", split="test", has_boxes=False, has_masks=False)
    _, _, a = scored(g, [{"id": "1", "entities": []}])
    assert sum(a.gold.model_dump().values()) == sum(a.pred.model_dump().values()) == 0
    assert a.averages.types == [] and a.averages.macro.f1 == a.averages.weighted.f1 == 0.0
    assert "no type" in format_analysis(a)


def test_report_json_reads_back_with_and_without_the_analysis(gold):
    _, report, a = scored(gold)
    assert "analysis" not in report.model_dump()  # absent by default: schema 1 unchanged for readers
    full = report.model_copy(update={"analysis": a})
    back = ScoreReport.model_validate(json.loads(json.dumps(full.model_dump())))
    assert back.analysis == a and back.schema_version == 1
    text = format_analysis(a)
    assert "boxes of the 6 right entities: 3 right, 1 wrong, 1 on an ungroundable entity, 1 null" in text


def test_score_analysis_option(capsys, tmp_path, sample_dir, preds):  # noqa: F811
    plain = tmp_path / "plain.json"
    code, out, _ = run(capsys, "score", preds[0], *gold_args(sample_dir), "--json", plain)
    assert code == 0 and "errors (" not in out and "analysis" not in json.loads(plain.read_text())
    path = tmp_path / "report.json"
    code, out2, _ = run(capsys, "score", preds[0], *gold_args(sample_dir), "--json", path, "--analysis")
    assert code == 0 and out2.startswith(out) and "errors (SMNER" in out2 and "type confusion" in out2
    report = json.loads(path.read_text())
    a, mner = report["analysis"], report["results"]["mner"]
    assert a["gold"]["right"] == mner["tp"] and sum(a["gold"].values()) == mner["gold"]
    assert sum(a["pred"].values()) == mner["pred"] and a["regions"]["region"] == "mask"


@pytest.mark.realdata
def test_real_gmner_test_with_a_seeded_perturbation(data_root, hf_cache, tmp_path):
    from smner_bench.benchmark.submission import read_submission, write_submission
    from smner_bench.loaders import load

    from .test_scorer_realdata import GOLD_COLUMNS, perturb_gmner

    ds = load("gmner", data_root / "twitter-gmner" / "v2.0", cache_dir=hf_cache)["test"].select_columns(GOLD_COLUMNS)
    g = gold_from_rows(ds, dataset="gmner", split="test", has_boxes=True, has_masks=False)
    lines, stats = perturb_gmner(ds.to_list(), seed=2121)
    write_submission(tmp_path / "p.jsonl", lines)
    scorer = Scorer.build(read_submission(tmp_path / "p.jsonl", g, task="gmner"), g)
    for mode in ("span", "text", "riveg", "entity-box"):
        report = scorer.report("gmner", mode)
        a, mner = analyze(scorer, report), report.results["mner"]
        gold_sum, pred_sum = sum(a.gold.model_dump().values()), sum(a.pred.model_dump().values())
        assert gold_sum == len(g.entities) and pred_sum == len(scorer.submission.predictions), mode
        if mode != "entity-box":  # entity-box counts rows, MNER's are one per entity
            assert (gold_sum, pred_sum) == (mner.gold, mner.pred), mode
        assert a.gold.right == a.pred.right == mner.tp, mode
        cm = np.array(a.confusion.matrix)
        assert cm.sum() == a.pred.right + a.pred.type, mode
        if mode != "riveg":  # riveg: MISC on an OTHER entity is a type error, its column the canonical OTHER
            assert np.trace(cm) == a.pred.right, mode
        assert sum(a.confusion.missed) == a.gold.missed and sum(a.confusion.spurious) == a.pred.spurious, mode
        r = a.regions
        assert r.pairs == mner.tp == r.right + r.wrong + r.on_ungroundable + r.null_for_groundable, mode
        if mode == "span":
            assert r.right == report.results["gmner"].tp
            # the perturbation's planted mistakes show up (each kind at least once)
            assert a.gold.type > 0 and a.gold.missed >= stats["dropped"] - a.gold.boundary - a.gold.both
            assert r.null_for_groundable > 0 and r.on_ungroundable > 0 and r.wrong > 0
            assert a.pred.spurious > 0 and a.gold.boundary + a.gold.both > 0


def test_overlaps_with_several_entities_and_tweets_without_gold():
    g = gold_from_rows([tweet("1", "a b c d e f", (0, 2, "PER"), (2, 4, "LOC")), tweet("2", "x y z"),
                        tweet("3", "p q r", (0, 1, "ORG"), (2, 3, "ORG"))],
                       dataset="hand", split="test", has_boxes=False, has_masks=False)  # fmt: skip
    lines = [{"id": "1", "entities": [e(1, 3, "b c", "PER")]},  # overlaps its PER (boundary) and a LOC (both)
             {"id": "2", "entities": [e(0, 1, "x", "PER")]},  # a tweet without gold: spurious
             {"id": "3", "entities": [e(0, 2, "p q", "LOC")]}]  # fmt: skip
    scorer, _, a = scored(g, lines)
    gold, pred, _ = categories(scorer, "span")
    assert gold.tolist() == [BOUNDARY, BOTH, BOTH, NONE] and pred.tolist() == [BOUNDARY, NONE, BOTH]
    assert (a.gold.boundary, a.gold.both, a.gold.missed, a.pred.spurious) == (1, 2, 1, 1)
    assert "P    n/a" not in format_analysis(a)


def test_misuse_is_a_usage_error_and_figures_of_nothing_are_na(gold):
    from smner_bench.benchmark.errors import UsageError

    scorer, report, _ = scored(gold)
    for mode, iou in (("bogus", 0.5), ("span", 0.0), ("span", 2.0)):
        with pytest.raises(UsageError):
            categories(scorer, mode, iou)
    other = gold_from_rows([tweet("1", "a b")], dataset="other", split="test", has_boxes=False, has_masks=False)
    with pytest.raises(UsageError, match="pass the report that scorer"):
        analyze(Scorer.build(parse_submission([{"id": "1", "entities": []}], other), other), report)
    empty = Scorer.build(parse_submission([{"id": t, "entities": []} for t in "123"], gold), gold)
    text = format_analysis(analyze(empty, empty.report(task="mner")))
    assert "macro     P    n/a  R   0.00  F1   0.00" in text  # no prediction: no precision, as in the report
