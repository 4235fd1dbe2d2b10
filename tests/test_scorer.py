"""The scorer on hand-computed cases: every task and matching mode, and their corner cases."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from smner_bench.benchmark.errors import SmnerError, UsageError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.regions import box_ious, encode_rle
from smner_bench.benchmark.scoring import Scorer, format_report
from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission

from .reports import report_json


def ent(tokens, start, end, kind, boxes=(), masks=()):
    return {
        "start": start,
        "end": end,
        "text": " ".join(tokens[start:end]),
        "type": kind,
        "boxes": list(boxes),
        "masks": list(masks),
    }


def tweet(tid, text, *entities, size=(100, 100)):
    tokens = text.split()
    return {
        "id": tid,
        "tokens": tokens,
        "width": size[0],
        "height": size[1],
        "entities": [ent(tokens, *e) for e in entities],
    }


B1, B2, B3 = [0, 0, 10, 10], [2, 0, 12, 10], [0, 0, 10, 10]
GOLD_ROWS = [
    # A: two "Trump" with overlapping boxes: first fit (riveg) loses one that a maximum matching keeps
    tweet("A", "Trump and Trump", (0, 1, "PER", [B1]), (2, 3, "PER", [B2])),
    # B: two "Paris", one in the image: spans say the regions are swapped, text matching pairs them well
    tweet("B", "Paris loves Paris", (0, 1, "LOC", [B3]), (2, 3, "LOC")),
    # C: a type error (MISC for ORG), an entity with two gold boxes
    tweet("C", "NBA in New York", (0, 1, "ORG"), (2, 4, "LOC", [[0, 0, 10, 10], [50, 50, 70, 70]])),
    # D: a missed entity, a spurious prediction
    tweet("D", "Hello Kobe Bryant", (1, 3, "PER", [[10, 10, 30, 30]])),
]
PREDICTIONS = [
    {
        "id": "A",
        "entities": [
            {"start": 2, "end": 3, "type": "PER", "box": [1, 0, 11, 10]},  # IoU .818 with B1 and with B2
            {"start": 0, "end": 1, "type": "PER", "box": [0, 0, 7, 10]},  # IoU .7 with B1, .417 with B2
        ],
    },
    {
        "id": "B",
        "entities": [
            {"start": 0, "end": 1, "type": "LOC", "box": None},
            {"start": 2, "end": 3, "type": "LOC", "box": [0, 0, 10, 10]},
        ],
    },
    {
        "id": "C",
        "entities": [
            {"start": 0, "end": 1, "type": "MISC", "box": None},
            {"start": 2, "end": 4, "type": "LOC", "box": [50, 50, 70, 70]},
        ],
    },
    {"id": "D", "entities": [{"start": 0, "end": 1, "type": "OTHER", "box": None}]},
]
# hand-computed true positives, 7 predictions and 7 gold entities each
EXPECTED_TP = {
    "span": {"mner": 5, "eeg": 4, "gmner": 3},
    "text": {"mner": 5, "eeg": 6, "gmner": 5},
    "riveg": {"mner": 5, "eeg": 5, "gmner": 4},
}


@pytest.fixture
def gold():
    return gold_from_rows(GOLD_ROWS, dataset="hand", split="test", has_boxes=True, has_masks=False)


def submit(tmp_path, gold, lines, name="pred.jsonl", **kwargs):
    path = tmp_path / name
    write_submission(path, lines)
    return read_submission(path, gold, **kwargs)


@pytest.mark.parametrize("mode", ["span", "text", "riveg"])
def test_hand_computed_modes_differ(tmp_path, gold, mode):
    report = report_json(submit(tmp_path, gold, PREDICTIONS), gold, task="gmner", match=mode)
    for task, tp in EXPECTED_TP[mode].items():
        r = report["results"][task]
        assert (r["tp"], r["pred"], r["gold"]) == (tp, 7, 7), (mode, task)
        assert r["precision"] == r["recall"] == pytest.approx(tp / 7)
        assert r["f1"] == pytest.approx(tp / 7)


def test_entity_box_counts_rows_on_the_hand_computed_case(tmp_path, gold):
    """The UnCo evaluator's pair counting on the same file: New York's two boxes are two gold rows (8 in all); B's box
    on the second Paris (not in the image) is one right and one wrong row, so 8 predicted rows for EEG and GMNER and
    one right row more than span; MNER is span's."""
    report = report_json(submit(tmp_path, gold, PREDICTIONS), gold, task="gmner", match="entity-box")
    got = {task: (r["tp"], r["pred"], r["gold"]) for task, r in report["results"].items()}
    assert got == {"mner": (5, 7, 7), "eeg": (5, 8, 8), "gmner": (4, 8, 8)}
    assert report["results"]["gmner"]["sweep"]["tp"][0] == 4


def test_the_three_modes_on_duplicate_texts(tmp_path, gold):
    sub = submit(tmp_path, gold, PREDICTIONS)
    tps = {mode: report_json(sub, gold, task="gmner", match=mode)["results"]["gmner"]["tp"] for mode in EXPECTED_TP}
    assert len(set(tps.values())) == 3  # span 3, text 5, riveg 4: the duplicate texts make them disagree


def test_box_iou_definition():
    assert box_ious([1, 0, 11, 10], np.array([B1, B2])).tolist() == pytest.approx([90 / 110, 90 / 110])
    assert box_ious([0, 0, 7, 10], np.array([B1, B2])).tolist() == pytest.approx([0.7, 50 / 120])
    assert box_ious([0.5, 0.5, 1.5, 1.5], np.array([[0, 0, 1, 1]]))[0] == pytest.approx(0.25 / 1.75)


def test_threshold_exactly_at_the_boundary(tmp_path):
    g = gold_from_rows(
        [tweet("t", "Kobe", (0, 1, "PER", [[0, 0, 2, 2]]))], dataset="b", split="test", has_boxes=True, has_masks=False
    )
    sub = submit(tmp_path, g, [{"id": "t", "entities": [{"start": 0, "end": 1, "type": "PER", "box": [0, 0, 2, 1]}]}])
    assert report_json(sub, g, task="gmner", iou=0.5)["results"]["gmner"]["tp"] == 1  # IoU is exactly 0.5: correct
    assert report_json(sub, g, task="gmner", iou=0.5000001)["results"]["gmner"]["tp"] == 0
    sweep = report_json(sub, g, task="gmner")["results"]["gmner"]["sweep"]
    assert sweep["thresholds"][:2] == [0.5, 0.55] and sweep["tp"] == [1] + [0] * 9
    assert sweep["mean_f1"] == pytest.approx(0.1)


def test_region_corner_cases(tmp_path, gold):
    lines = [
        {
            "id": "B",
            "entities": [
                {"start": 2, "end": 3, "type": "LOC", "box": [0, 0, 10, 10]},  # a box for an ungroundable entity
                {"start": 0, "end": 1, "type": "LOC", "box": None},  # "none" for a groundable one
            ],
        },
        {"id": "C", "entities": [{"start": 2, "end": 4, "type": "LOC", "box": [0, 0, 10, 10]}]},  # first of two
    ]
    report = report_json(submit(tmp_path, gold, lines, allow_missing=True), gold, task="gmner", match="span")
    r = report["results"]["gmner"]
    assert (r["tp"], r["pred"], r["gold"]) == (1, 3, 7)
    grounding = r["grounding"]
    assert grounding["groundable"]["gold"] == 5 and grounding["groundable"]["tp"] == 1
    assert grounding["ungroundable"]["gold"] == 2 and grounding["ungroundable"]["tp"] == 0
    assert grounding["groundable"]["pred"] == 2 and grounding["ungroundable"]["pred"] == 1  # predicted regions
    assert report["submission"]["missing_tweets"] == 2
    assert report["results"]["mner"]["tp"] == 3


def test_per_type_breakdown(tmp_path, gold):
    results = report_json(submit(tmp_path, gold, PREDICTIONS), gold, task="gmner", match="span")["results"]
    mner = results["mner"]["per_type"]
    assert (mner["ORG"]["tp"], mner["ORG"]["pred"], mner["ORG"]["gold"]) == (0, 0, 1)
    assert (mner["OTHER"]["tp"], mner["OTHER"]["pred"], mner["OTHER"]["gold"]) == (0, 2, 0)
    assert (mner["PER"]["tp"], mner["PER"]["pred"], mner["PER"]["gold"]) == (2, 2, 3)
    eeg = results["eeg"]["per_type"]  # type-blind: precision counts by predicted type, recall by gold type
    assert eeg["ORG"]["tp"] == 1 and eeg["ORG"]["recall"] == 1.0
    assert eeg["OTHER"]["tp_pred"] == 1 and eeg["OTHER"]["precision"] == 0.5


def test_misc_is_other_except_in_riveg(tmp_path):
    g = gold_from_rows(
        [tweet("t", "Star Wars", (0, 2, "OTHER"))], dataset="m", split="test", has_boxes=True, has_masks=False
    )
    sub = submit(tmp_path, g, [{"id": "t", "entities": [{"start": 0, "end": 2, "type": "MISC", "box": None}]}])
    for mode, tp in (("span", 1), ("text", 1), ("riveg", 0)):
        assert report_json(sub, g, task="gmner", match=mode)["results"]["gmner"]["tp"] == tp
    assert report_json(sub, g, task="gmner", match="riveg")["results"]["eeg"]["tp"] == 1  # EEG ignores the type


def test_text_only_submissions(tmp_path, gold):
    lines = [
        {
            "id": "A",
            "entities": [
                {"text": "Trump", "type": "PER", "box": [0, 0, 10, 10]},
                {"text": "Trump", "type": "PER", "box": [2, 0, 12, 10]},
                {"text": "Trump", "type": "PER", "box": None},
            ],
        }
    ]
    sub = submit(tmp_path, gold, lines, allow_missing=True)
    assert not sub.has_spans
    report = report_json(sub, gold, task="gmner")
    assert report["match"] == "text" and report["results"]["gmner"]["tp"] == 2
    with pytest.raises(UsageError, match="span matching needs start/end"):
        report_json(sub, gold, task="gmner", match="span")


def test_masks_smner_and_ees(tmp_path):
    def square(x0, y0, x1, y1, size=8):
        m = np.zeros((size, size), dtype=bool)
        m[y0:y1, x0:x1] = True
        return encode_rle(m)

    rows = [
        tweet(
            "m",
            "Kobe and Shaq",
            (0, 1, "PER", [[0, 0, 4, 4]], [square(0, 0, 4, 4)]),
            (2, 3, "PER", [[4, 4, 8, 8]], [square(4, 4, 8, 8), square(0, 4, 2, 8)]),
            size=(8, 8),
        )
    ]
    g = gold_from_rows(rows, dataset="s", split="test", has_boxes=True, has_masks=True)
    lines = [
        {
            "id": "m",
            "entities": [
                {
                    "start": 0,
                    "end": 1,
                    "type": "PER",
                    "box": [0, 0, 4, 4],
                    "mask": square(0, 0, 4, 2),
                },  # IoU 0.5 exactly
                {
                    "start": 2,
                    "end": 3,
                    "type": "ORG",
                    "box": None,
                    "mask": square(0, 4, 2, 8),
                },  # 2nd gold mask, bad type
            ],
        }
    ]
    sub = submit(tmp_path, g, lines)
    assert sub.tasks() == ("mner", "eeg", "gmner", "ees", "smner")
    report = report_json(sub, g)
    assert report["task"] == "smner"
    results = report["results"]
    assert list(results) == ["mner", "eeg", "gmner", "ees", "smner"]
    assert [results[t]["tp"] for t in results] == [1, 1, 1, 2, 1]
    assert results["smner"]["sweep"]["tp"] == [1] + [0] * 9
    assert results["ees"]["sweep"]["tp"] == [2] + [1] * 9


def test_gold_scores_one_and_report_shape(tmp_path, gold):
    sub = submit(tmp_path, gold, gold_as_submission(gold, box=True))
    report = Scorer.build(sub, gold).report()
    assert report.schema_version == 1 and report.task == "gmner" and report.match == "span"
    assert all(r.f1 == 1.0 for r in report.results.values())
    assert report.submission.sha256 and report.gold.model_dump() == {"dataset": "hand/test", "tweets": 4, "entities": 7}
    assert json.loads(json.dumps(report.model_dump())) == report_json(sub, gold)  # serialisable, the JSON form
    table = format_report(report)
    assert "\nGMNER           100.00  100.00  100.00       7       7       7            100.00\n" in table
    assert "\n  groundable    100.00" in table and "\n  ungroundable  " in table  # row labels whole, not "groundab"


def test_task_must_be_supported(tmp_path, gold):
    lines = [{"id": t["id"], "entities": []} for t in GOLD_ROWS]
    scorer = Scorer.build(submit(tmp_path, gold, lines), gold)
    with pytest.raises(UsageError, match="has no masks"):
        scorer.report("smner")
    mner_only = gold_from_rows(GOLD_ROWS, dataset="t", split="test", has_boxes=False, has_masks=False)
    sub = submit(tmp_path, mner_only, gold_as_submission(gold, box=True), name="b.jsonl")
    assert report_json(sub, mner_only)["task"] == "mner"
    with pytest.raises(UsageError, match="has no boxes"):
        report_json(sub, mner_only, task="gmner")
    with pytest.raises(UsageError, match=r"^iou= must be in \(0, 1\], got 0$"):  # the Python argument, not --iou
        report_json(sub, mner_only, iou=0)


# --- in memory: score_lines, ScoreReport, MatchTable ----------------------------------------------------


@pytest.mark.parametrize("mode", ["span", "text", "riveg"])
def test_score_lines_equals_scoring_the_file(tmp_path, gold, mode):
    from smner_bench.benchmark import ScoreReport, score_lines

    path = tmp_path / "pred.jsonl"
    write_submission(path, PREDICTIONS)
    from_file = Scorer.build(read_submission(path, gold), gold).report("gmner", mode)
    lines = [json.dumps(x, ensure_ascii=False) for x in PREDICTIONS]
    in_memory = score_lines(lines, gold, task="gmner", match=mode, name=str(path))
    assert isinstance(in_memory, ScoreReport) and in_memory == from_file
    assert in_memory.model_dump() == report_json(read_submission(path, gold), gold, task="gmner", match=mode)
    assert {t: r.tp for t, r in in_memory.results.items()} == EXPECTED_TP[mode]


def test_score_report_json_keeps_the_schema_and_reads_back(gold):
    from smner_bench.benchmark import ScoreReport, score_lines

    report = score_lines(map(json.dumps, PREDICTIONS), gold, match="text")
    data = report.model_dump()
    assert list(data) == [
        "schema_version", "smner_bench_version", "submission", "gold", "task", "match", "iou", "results", "ranking"
    ]  # fmt: skip
    assert data["ranking"]["results"] is None and data["ranking"]["reason"] == "predictions carry no score"
    assert data["submission"] == {
        "file": "<lines>",
        "sha256": report.submission.sha256,
        "tweets": 4,
        "entities": 7,
        "missing_tweets": 0,
    }
    gmner = data["results"]["gmner"]
    assert list(gmner) == ["precision", "recall", "f1", "tp", "pred", "gold", "per_type", "grounding", "sweep"]
    assert list(data["results"]["mner"]) == ["precision", "recall", "f1", "tp", "pred", "gold", "per_type", "grounding"]
    assert list(gmner["sweep"]) == ["thresholds", "tp", "f1", "mean_f1"]
    assert "tp_pred" not in gmner["per_type"]["PER"]  # only a type-blind task's breakdown gives it
    eeg_types = data["results"]["eeg"]["per_type"]
    assert any("tp_pred" in r for r in eeg_types.values())
    assert all(r.tp_pred is None or r.tp_pred != r.tp for r in report.results["eeg"].per_type.values())
    assert ScoreReport.model_validate(json.loads(json.dumps(data))) == report
    assert report.main is report.results["gmner"] and report.ci is None and "ci" not in data
    with pytest.raises(Exception, match="frozen"):
        report.task = "mner"


def test_score_lines_validates_like_a_file_and_checks_the_options(gold):
    from smner_bench.benchmark import InvalidSubmission, score_lines

    lines = [json.dumps(x) for x in PREDICTIONS]
    with pytest.raises(InvalidSubmission, match="4 tweets of hand/test are missing"):
        score_lines([], gold, name="empty.jsonl")
    assert score_lines(lines[:1], gold, allow_missing=True).submission.missing_tweets == 3
    with pytest.raises(InvalidSubmission, match=r"x.jsonl:1: entities\[0\]: give 'start'/'end'"):
        score_lines([json.dumps({"id": "A", "entities": [{"type": "PER"}]}), *lines[1:]], gold, name="x.jsonl")
    with pytest.raises(UsageError, match=r"^iou= must be in \(0, 1\], got 1.5$"):
        score_lines(lines, gold, iou=1.5)
    with pytest.raises(UsageError, match="unknown matching mode"):
        score_lines(lines, gold, match="fuzzy")


def test_match_table_lists_every_candidate_pair_with_its_verdicts(tmp_path, gold):
    from smner_bench.benchmark import MatchTable

    scorer = Scorer.build(submit(tmp_path, gold, PREDICTIONS), gold)
    for mode in ("span", "text", "riveg"):
        for task in ("mner", "eeg", "gmner"):
            table = scorer.matches(task, mode)
            assert isinstance(table, MatchTable) and (table.task, table.match, table.iou) == (task, mode, 0.5)
            assert len(table.pairs()) == EXPECTED_TP[mode][task] == scorer.report(task, mode).results[task].tp
            assert not np.any(table.matched & ~table.correct)  # a matched pair is always a correct one
            assert (table.region is None) == (task == "mner")
    # tweet A: predictions 0 ("Trump" at 2) and 1 ("Trump" at 0) against gold 0 (B1) and 1 (B2), 4 candidates
    span = scorer.matches("gmner", "span")
    a = span.tweet == 0
    assert list(zip(span.pred[a].tolist(), span.gold[a].tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert span.same_span[a].tolist() == [False, True, True, False]
    assert span.region[a] == pytest.approx([9 / 11, 9 / 11, 0.7, 50 / 120])
    assert [p for p in span.pairs() if p[0] in (0, 1)] == [(0, 1), (1, 0)]
    assert [p for p in scorer.matches("gmner", "riveg").pairs() if p[0] in (0, 1)] == [(0, 0)]  # first fit loses one
    assert scorer.matches().task == "gmner" and scorer.matches().match == "span"  # the report's defaults
    with pytest.raises(UsageError, match="has no masks"):
        scorer.matches("smner")


NFC, NFD = "Jos\u00e9 Mouri\u00f1o", "Jose\u0301 Mourin\u0303o"  # one name, precomposed and decomposed


@pytest.mark.parametrize(("gold_text", "pred_text"), [(NFC, NFD), (NFD, NFC)])
def test_texts_match_whatever_their_unicode_normal_form(gold_text, pred_text):
    """Gold in NFC and a prediction in NFD (and the reverse) are one text: the text and riveg modes match them,
    the validator accepts the text against its span's tokens, span matching is unchanged."""
    from smner_bench.benchmark import score_lines

    g = gold_from_rows(
        [tweet("t", f"coach {gold_text} in Paris", (1, 3, "PER", [B1]))],
        dataset="u",
        split="test",
        has_boxes=True,
        has_masks=False,
    )
    assert g.entities[0].text == gold_text
    by_text = {"id": "t", "entities": [{"text": pred_text, "type": "PER", "box": [0, 0, 10, 10]}]}
    for mode in ("text", "riveg"):
        report = score_lines([json.dumps(by_text)], g, task="gmner", match=mode)
        assert [report.results[t].tp for t in ("mner", "eeg", "gmner")] == [1, 1, 1], mode
    both = {"id": "t", "entities": [{"start": 1, "end": 3, "text": pred_text, "type": "PER", "box": [0, 0, 10, 10]}]}
    for mode in ("span", "text", "riveg"):  # the validator compares the text with the tokens in NFC too
        assert score_lines([json.dumps(both)], g, task="gmner", match=mode).results["gmner"].tp == 1, mode
    other = {"id": "t", "entities": [{"text": "Jose Mourino", "type": "PER", "box": [0, 0, 10, 10]}]}
    assert score_lines([json.dumps(other)], g, task="gmner", match="text").results["mner"].tp == 0  # no accent folding


# --- a gold is flat ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spans", [((0, 1), (0, 1)), ((0, 2), (1, 3)), ((2, 3), (0, 4))])
def test_a_gold_with_two_entities_on_one_span_or_overlapping_is_refused(spans):
    """Two gold entities of one span let one prediction match both: tp 2 of 1 prediction (precision 2.0 in span
    mode, two added rows in entity-box mode). The released golds are flat (BIO tags); rows in memory or in an
    export that are not are refused, naming the tweet and both spans."""
    from smner_bench.benchmark.errors import DataFormatError
    from smner_bench.benchmark.gold import _row_problem

    tokens = ["Ann", "and", "Bob", "x"]
    entities = [{"start": s, "end": e, "text": " ".join(tokens[s:e]), "type": "PER", "boxes": []} for s, e in spans]
    row = {"id": "t", "tokens": tokens, "width": 10, "height": 10, "entities": entities}
    with pytest.raises(DataFormatError, match=r"hand/test: tweet 't': entities \[\d, \d\) and \[\d, \d\) overlap"):
        gold_from_rows([row], dataset="hand", split="test", has_boxes=True, has_masks=False)
    assert "overlap: a gold is flat" in _row_problem(row)
    flat = {**row, "entities": [{**entities[0], "start": 0, "end": 1, "text": "Ann"}]}
    assert _row_problem(flat) is None


def test_api_errors_name_the_python_arguments_and_the_cli_its_flags(gold):
    """Called from Python, the scorer names its arguments (iou=, match='text', task='gmner'); inside the command
    line's block (cli/flags.py) the same messages name the flags."""
    from smner_bench.benchmark import parse_submission, score_lines
    from smner_bench.benchmark.arguments import command_line_flags
    from smner_bench.cli.flags import FLAGS

    text_only = [{"id": p["id"], "entities": [{k: v for k, v in e.items() if k not in ("start", "end")}
                                              for e in p["entities"]]} for p in PREDICTIONS]  # fmt: skip
    for e in (e for p in text_only for e in p["entities"]):
        e["text"] = "x"
    rows = [{**r, "entities": []} for r in GOLD_ROWS]
    empty_gold = gold_from_rows(rows, dataset="hand", split="test", has_boxes=True, has_masks=False)
    scorer = Scorer.build(parse_submission(map(json.dumps, text_only), empty_gold), empty_gold)
    python, cli = [], []
    for out, block in ((python, None), (cli, FLAGS)):
        with command_line_flags(block) if block else contextlib.nullcontext():
            for call in (lambda: scorer.report(match="span"), lambda: scorer.report(iou=2.0),
                         lambda: score_lines(map(json.dumps, PREDICTIONS[:1]), gold)):  # fmt: skip
                with pytest.raises(SmnerError) as err:
                    call()
                out.append(str(err.value))
    assert "use match='text' (or 'riveg')" in python[0] and python[1] == "iou= must be in (0, 1], got 2.0"
    assert "pass allow_missing=True to count them as empty" in python[2]
    assert not any("--" in m for m in python)
    assert "use --match text (or 'riveg')" in cli[0] and cli[1] == "--iou must be in (0, 1], got 2.0"
    assert "pass --allow-missing to count them as empty" in cli[2]
