"""The validate / score / compare commands on the synthetic sample: exit codes, reports, no tracebacks."""

from __future__ import annotations

import json

import pytest

from smner_bench.benchmark.cli import main
from smner_bench.benchmark.submission import write_submission
from smner_bench.loaders.sample_predictions import MISTAKES, sample_predictions


@pytest.fixture(scope="module")
def preds(sample_dir, tmp_path_factory):
    lines, where = sample_predictions(sample_dir)
    path = tmp_path_factory.mktemp("preds") / "predictions-test.jsonl"
    write_submission(path, lines)
    return path, lines, where


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def gold_args(sample_dir):
    return ["--dataset", "smner", "--split", "test", "--data-dir", sample_dir]


def test_sample_predictions_carry_the_four_mistakes(preds):
    _, _, where = preds
    assert set(where) == set(MISTAKES) and len(set(where.values())) == 4


def test_score_writes_the_report(capsys, tmp_path, sample_dir, preds):
    report_path = tmp_path / "out" / "report.json"
    code, out, _ = run(
        capsys, "score", preds[0], *gold_args(sample_dir), "--json", report_path, "--ci", "--resamples", 200
    )
    assert code == 0 and "SMNER" in out and "bootstrap interval" in out
    report = json.loads(report_path.read_text())
    r = report["results"]
    assert (r["mner"]["tp"], r["eeg"]["tp"], r["gmner"]["tp"], r["ees"]["tp"], r["smner"]["tp"]) == (21, 21, 20, 21, 20)
    assert r["smner"]["pred"] == r["smner"]["gold"] == 23
    assert report["ci"]["low"] <= report["ci"]["f1"] <= report["ci"]["high"] and report["ci"]["resamples"] == 200
    assert not [p for p in report_path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_score_with_the_exported_gold_is_the_same(capsys, tmp_path, sample_dir, preds, hf_cache):
    code, _, _ = run(
        capsys, "prepare", "smner", "--data-dir", sample_dir, "--cache-dir", hf_cache, "--out", tmp_path / "export"
    )
    assert code == 0
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run(capsys, "score", preds[0], *gold_args(sample_dir), "--json", a, "--match", "text", "--task", "gmner")
    code, _, _ = run(
        capsys,
        "score",
        preds[0],
        "--dataset",
        "smner",
        "--split",
        "dev",
        "--gold",
        tmp_path / "export",
        "--json",
        b,
        "--match",
        "text",
        "--task",
        "gmner",
        "--allow-missing",
    )
    assert code == 1  # test predictions are not tweets of the dev split: unknown ids
    code, _, _ = run(
        capsys,
        "score",
        preds[0],
        "--dataset",
        "smner",
        "--split",
        "test",
        "--gold",
        tmp_path / "export",
        "--json",
        b,
        "--match",
        "text",
        "--task",
        "gmner",
    )
    assert code == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["results"] == rb["results"] and list(ra["results"]) == ["mner", "eeg", "gmner"]


def test_invalid_submission_exits_1_and_writes_nothing(capsys, tmp_path, sample_dir, preds):
    lines = preds[1]
    bad = [dict(line) for line in lines]
    bad[0] = {"id": bad[0]["id"], "entities": [{"start": 0, "end": 99, "type": "PER", "box": None, "mask": None}]}
    bad[1] = {"id": bad[1]["id"], "entities": [{"start": 0, "end": 1, "type": "DATE", "box": None, "mask": None}]}
    path = tmp_path / "bad.jsonl"
    write_submission(path, bad)
    report_path = tmp_path / "report.json"
    code, _, err = run(capsys, "score", path, *gold_args(sample_dir), "--json", report_path)
    assert code == 1 and not report_path.exists()
    assert "bad.jsonl:1: entities[0].start: span [0, 99)" in err and "bad.jsonl:2: entities[0].type" in err
    code, _, err = run(capsys, "validate", path, *gold_args(sample_dir))
    assert code == 1 and "2 problems; nothing was scored" in err


def test_usage_errors_exit_2(capsys, tmp_path, sample_dir, preds):
    code, _, err = run(capsys, "score", tmp_path / "none.jsonl", *gold_args(sample_dir))
    assert code == 2 and "prediction file not found" in err
    code, _, err = run(
        capsys, "score", preds[0], "--dataset", "smner", "--split", "test", "--data-dir", tmp_path / "nowhere"
    )
    assert code == 2 and "data folder not found" in err
    code, _, err = run(capsys, "score", preds[0], "--dataset", "smner", "--split", "test", "--gold", tmp_path)
    assert code == 2 and "not an exported dataset folder" in err
    code, _, err = run(
        capsys,
        "score",
        preds[0],
        *gold_args(sample_dir)[:-4],
        "--split",
        "testing",
        "--dataset",
        "smner",
        "--data-dir",
        sample_dir,
    )
    assert code == 2 and "unknown split 'testing'" in err
    code, _, err = run(
        capsys, "score", preds[0], "--dataset", "gmner", "--split", "test", "--data-dir", sample_dir, "--task", "smner"
    )
    assert code == 2 and "cannot score task smner: the gold gmner/test has no masks" in err
    with pytest.raises(SystemExit) as exit_:
        main(["score", str(preds[0]), "--dataset", "smner", "--split", "test"])  # neither --data-dir nor --gold
    assert exit_.value.code == 2


def test_validate_and_compare(capsys, tmp_path, sample_dir, preds, hf_cache):
    code, out, _ = run(capsys, "validate", preds[0], *gold_args(sample_dir))
    assert code == 0 and "valid for smner/test: 12 tweets, 23 entities" in out
    perfect = tmp_path / "perfect.jsonl"
    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.submission import gold_as_submission
    from smner_bench.loaders import load_split

    gold = gold_from_rows(
        load_split("smner", sample_dir, "test", cache_dir=hf_cache), name="smner/test", has_boxes=True, has_masks=True
    )
    write_submission(perfect, gold_as_submission(gold, box=True, mask=True))
    out_json = tmp_path / "cmp.json"
    code, out, _ = run(capsys, "compare", perfect, preds[0], *gold_args(sample_dir), "--json", out_json, "--seed", 3)
    assert code == 0 and "A - B = +13.04 F1" in out
    result = json.loads(out_json.read_text())
    assert result["f1_a"] == 1.0 and result["difference"] == pytest.approx(3 / 23)
    assert result["low"] <= result["difference"] <= result["high"] and 0 <= result["p_value"] <= 1
    again = tmp_path / "cmp2.json"
    run(capsys, "compare", perfect, preds[0], *gold_args(sample_dir), "--json", again, "--seed", 3)
    assert json.loads(again.read_text())["p_value"] == result["p_value"]  # seeded: reproducible
