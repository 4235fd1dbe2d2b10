"""The validate / score / compare commands on the synthetic sample: exit codes, reports, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smner_bench.benchmark.submission import write_submission
from smner_bench.cli import main
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
    report_path.parent.mkdir()  # a missing parent folder is refused (safe output rule), never created
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
    card = (tmp_path / "export" / "README.md").read_text(encoding="utf-8")  # the command main() ran, not pytest's,
    cache = Path(hf_cache).name  # published with every path reduced to its name
    assert f"`smner-bench prepare smner --data-dir {Path(sample_dir).name} --cache-dir {cache} --out export`" in card
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run(capsys, "score", preds[0], *gold_args(sample_dir), "--json", a, "--match", "text", "--task", "gmner")
    exported = ["--dataset", "smner", "--gold", tmp_path / "export", "--json", b, "--match", "text", "--task", "gmner"]
    code, _, _ = run(capsys, "score", preds[0], *exported, "--split", "dev", "--allow-missing")
    assert code == 1  # test predictions are not tweets of the dev split: unknown ids
    code, _, _ = run(capsys, "score", preds[0], *exported, "--split", "test")
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


def test_validate_and_compare(capsys, tmp_path, sample_dir, preds, smner_gold):
    code, out, _ = run(capsys, "validate", preds[0], *gold_args(sample_dir))
    assert code == 0 and "valid for smner/test: 12 tweets, 23 entities" in out
    perfect = tmp_path / "perfect.jsonl"
    from smner_bench.benchmark.submission import gold_as_submission

    write_submission(perfect, gold_as_submission(smner_gold, box=True, mask=True))
    out_json = tmp_path / "cmp.json"
    code, out, _ = run(capsys, "compare", perfect, preds[0], *gold_args(sample_dir), "--json", out_json, "--seed", 3)
    assert code == 0 and "A - B = +13.04 F1" in out
    result = json.loads(out_json.read_text())
    assert result["f1_a"] == 1.0 and result["difference"] == pytest.approx(3 / 23)
    assert result["low"] <= result["difference"] <= result["high"] and 0 <= result["p_value"] <= 1
    again = tmp_path / "cmp2.json"
    run(capsys, "compare", perfect, preds[0], *gold_args(sample_dir), "--json", again, "--seed", 3)
    assert json.loads(again.read_text())["p_value"] == result["p_value"]  # seeded: reproducible
    # entity-box counts no masks: compare, like score, takes the most specific task it can count (GMNER)
    code, out, err = run(capsys, "compare", perfect, preds[0], *gold_args(sample_dir), "--match", "entity-box")
    assert code == 0 and "task gmner  match entity-box" in out, err


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--resamples", "0", "expected an integer from 1 to 100000, got '0'"),
        ("--resamples", "-5", "expected an integer from 1 to 100000"),
        ("--resamples", "1" + "0" * 30, "expected an integer of at most 18 digits"),
        ("--resamples", "lots", "expected an integer, got 'lots'"),
        ("--resamples", "1e3", "expected an integer, got '1e3'"),
        ("--max-errors", "0", "expected a positive integer"),
        ("--max-errors", "-1", "expected a positive integer"),
        ("--iou", "0", "expected a number in (0, 1]"),
        ("--iou", "1.01", "expected a number in (0, 1]"),
        ("--iou", "nan", "expected a finite number"),
        ("--iou", "inf", "expected a finite number"),
        ("--iou", "x" * 5000, "expected a finite number, got '" + "x" * 40 + "'... (5000 characters)"),
        ("--seed", "-1", "expected an integer from 0 to 4294967295"),
        ("--seed", str(2**32), "expected an integer from 0 to 4294967295"),
    ],
)
def test_numeric_options_are_usage_errors(capsys, sample_dir, preds, option, value, needle):
    with pytest.raises(SystemExit) as exit_:
        main(["score", str(preds[0]), *map(str, gold_args(sample_dir)), "--ci", option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"argument {option}: {needle}" in err and len(err) < 2000


def test_option_bounds_are_accepted(capsys, sample_dir, preds):
    code, out, _ = run(
        capsys, "score", preds[0], *gold_args(sample_dir), "--iou", "1", "--ci", "--resamples", "1", "--seed", 2**32 - 1
    )
    assert code == 0 and "(1 resamples, seed 4294967295)" in out
    code, _, _ = run(capsys, "validate", preds[0], *gold_args(sample_dir), "--max-errors", "1")
    assert code == 0


def test_verbose_before_or_after_the_subcommand():
    from smner_bench.cli import build_parser

    parser = build_parser("*")  # every command's options
    base = ["validate", "p.jsonl", "--dataset", "smner", "--split", "test", "--gold", "g"]
    assert parser.parse_args(base).verbose is False
    assert parser.parse_args(["-v", *base]).verbose is True
    assert parser.parse_args([*base, "-v"]).verbose is True
    assert parser.parse_args([*base, "--verbose"]).verbose is True
    assert parser.parse_args(["leaderboard", "show", "--task", "mner", "-v"]).verbose is True  # nested subcommands


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for line in ("0   success", "1   an input file is invalid", "2   usage", "3   internal error: a bug"):
        assert line in out


def test_an_internal_error_is_one_bounded_line(capsys, monkeypatch, sample_dir, preds):
    from smner_bench.benchmark import submission

    def broken(*args, **kwargs):
        raise RuntimeError("boom " + "x" * 100_000)

    monkeypatch.setattr(submission, "read_submission", broken)  # the commands import it when they run
    code, _, err = run(capsys, "validate", preds[0], *gold_args(sample_dir))
    assert code == 3 and "internal error: RuntimeError: boom xxx" in err and "please report it" in err
    assert len(err) < 1000
    with pytest.raises(RuntimeError):  # -v: the traceback, wherever -v is written
        main(["validate", str(preds[0]), *map(str, gold_args(sample_dir)), "-v"])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"[" * 200_000, ":1: JSON nested deeper than 32 levels"),
        (b'{"id": "x", "entities": [{"start": ' + b"9" * 5000 + b"}]}", ":1: integer '9999"),
        (b'{"id": "x", "entities": [], "entities": []}', ":1: duplicate key 'entities' in one object"),
        (b'{"id": "' + b"y" * 5_000_000 + b'", "entities": []}', ":1: id: unknown id 'yyyy"),
        (b"\n", ":1: blank line"),
        (b"\xef\xbb\xbf{}", ": starts with a UTF-8 byte-order mark (BOM)"),
    ],
)
def test_hostile_submissions_exit_1_with_the_line(capsys, tmp_path, sample_dir, content, needle):
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(content)
    for command in ("validate", "score"):
        code, out, err = run(capsys, command, path, *gold_args(sample_dir))
        assert code == 1 and f"hostile.jsonl{needle}" in err and "internal error" not in err
        assert len(out + err) < 3000


def test_a_gzip_submission_gets_one_message_with_a_hint(capsys, tmp_path, sample_dir, preds):
    import gzip

    path = tmp_path / "predictions.jsonl.gz"
    path.write_bytes(gzip.compress(preds[0].read_bytes()))
    code, _, err = run(capsys, "score", path, *gold_args(sample_dir))
    assert code == 1 and "1 problem; nothing was scored" in err and "gzip-compressed: decompress it first" in err
    assert err.count("\n") == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sample", "--out", "x", "--seed", "-1"], "argument --seed: expected an integer from 0 to 4294967295"),
        (["run", "riveg", "--config", "c.yaml", "--num-shards", "0"], "argument --num-shards: expected a positive"),
        (["run", "riveg", "--config", "c", "--shard-index", "-1"], "argument --shard-index: expected an integer >= 0"),
        (["run", "riveg", "--config", "c", "--threads", "1.5"], "argument --threads: expected an integer, got '1.5'"),
        (
            ["baseline", "caption-ve", "--encoder", "e", "--data-dir", "d", "--captions", "c", "--out", "o",
             "--epochs", "0"],
            "argument --epochs: expected a positive integer",
        ),
        (
            ["baseline", "ve-train", "--lr", "nan"],
            "argument --lr: expected a finite number, got 'nan'",
        ),
        (["leaderboard", "show", "--task", "mner", "-v", "--dataset", "nope"], "argument --dataset: invalid choice"),
    ],
)  # fmt: skip
def test_numeric_options_of_every_part_are_usage_errors(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and needle in err, err


# --- the environment: a closed output pipe, a deleted or non-UTF-8 current folder, non-UTF-8 names, a full disk


def closed_stdout(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None):
    """Run the command in a process whose standard output is a pipe closed before it writes (``| head`` that has
    exited), or ``stdout``; its exit status and standard error (``stderr=subprocess.STDOUT``: ``2>&1 | head``)."""
    command = [sys.executable, "-m", "smner_bench.cli", *map(str, argv)]
    with subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env) as proc:
        if proc.stdout is not None:
            proc.stdout.close()  # before the interpreter has even started: the first write meets a closed pipe
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr is not None else ""
        return proc.wait(timeout=120), err


@pytest.mark.parametrize("command", ["score", "compare"])
def test_output_to_a_closed_pipe_ends_quietly_with_the_files_written(tmp_path, sample_dir, preds, command):
    report = tmp_path / "report.json"
    files = [preds[0]] if command == "score" else [preds[0], preds[0]]
    code, err = closed_stdout(command, *files, *gold_args(sample_dir), "--json", report, "--resamples", 10)
    assert code == 141, err  # (before: 3, "internal error: BrokenPipeError", and no report)
    assert "Error" not in err and "Traceback" not in err and "internal error" not in err
    assert json.loads(report.read_text())["dataset" if command == "compare" else "gold"]


def test_progress_to_a_closed_stderr_never_fails_the_work(tmp_path, sample_dir, preds):
    """``2>&1 | head``: the progress bars of the gold's build (a fresh datasets cache) meet the closed pipe; they are
    dropped, the report is written (before: the build failed, exit 2, no report)."""
    report = tmp_path / "report.json"
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "fresh-cache")}
    argv = ("score", preds[0], *gold_args(sample_dir), "--json", report)
    code, _ = closed_stdout(*argv, stderr=subprocess.STDOUT, env=env)
    assert code == 141 and json.loads(report.read_text())["results"]["smner"]["tp"] == 20


def test_a_full_disk_or_no_stdout_at_all_is_no_internal_error(tmp_path, sample_dir, preds):
    with open("/dev/full", "w") as full:
        code, err = closed_stdout("score", preds[0], *gold_args(sample_dir), stdout=full)
    assert code == 2 and "No space left on device" in err and "internal error" not in err, err
    report = tmp_path / "report.json"  # >&-: Python starts with sys.stdout None, print() writes nothing
    command = [sys.executable, "-m", "smner_bench.cli", "score", preds[0], *gold_args(sample_dir)]
    done = subprocess.run(
        [*map(str, command), "--json", report], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: os.close(1), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "Error" not in done.stderr and json.loads(report.read_text())["results"]


def test_a_deleted_current_folder_is_a_usage_error(capsys, monkeypatch, tmp_path, sample_dir, preds):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # os.getcwd() now raises FileNotFoundError
    for path in (preds[0], "predictions.jsonl"):  # absolute or relative, refused before anything is read
        code, _, err = run(capsys, "score", path, *gold_args(sample_dir))
        assert code == 2 and "the current folder no longer exists" in err, err


def test_a_current_folder_deleted_while_running_is_a_usage_error(capsys, monkeypatch, tmp_path, sample_dir, preds):
    from smner_bench.benchmark import submission

    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)

    def deleted_meanwhile(*args, **kwargs):
        folder.rmdir()
        return os.path.abspath("predictions.jsonl")  # a relative path met after the folder went away

    monkeypatch.setattr(submission, "read_submission", deleted_meanwhile)
    code, _, err = run(capsys, "validate", preds[0], *gold_args(sample_dir))
    assert code == 2 and "the current folder no longer exists" in err, err


def test_names_that_are_not_utf8_are_usage_errors(capsys, monkeypatch, tmp_path, sample_dir, preds):
    """A data folder, a prediction file or the current folder named with bytes that are no UTF-8 (b'\\xff'):
    refused with exit 2 and the name (before: exit 3, the stamps and the report failed to encode the path)."""
    import shutil

    odd = os.fsdecode(b"\xff")
    shutil.copytree(sample_dir, tmp_path / odd)  # (a copy: a link would be resolved to the sample's own name)
    code, _, err = run(capsys, "score", preds[0], "--dataset", "smner", "--split", "test", "--data-dir", tmp_path / odd)
    assert code == 2 and "'" + str(tmp_path) + "/\\xff' is not valid UTF-8" in err, err
    odd_file = tmp_path / os.fsdecode(b"p\xff.jsonl")
    odd_file.write_bytes(preds[0].read_bytes())
    code, _, err = run(capsys, "score", odd_file, *gold_args(sample_dir), "--json", tmp_path / "r.json")
    assert code == 2 and "p\\xff.jsonl' is not valid UTF-8: file and folder names must be UTF-8" in err, err
    monkeypatch.chdir(tmp_path / odd)
    code, _, err = run(capsys, "score", preds[0], "--dataset", "smner", "--split", "test", "--data-dir", ".")
    assert code == 2 and "the current folder '" in err and "\\xff' is not valid UTF-8" in err, err


def test_a_figure_of_nothing_prints_as_n_a_not_zero(capsys, tmp_path, sample_dir):
    """No predictions: precision is undefined (n/a), recall 0.00 (the gold is there); the JSON keeps its numbers."""
    from smner_bench.loaders import load_gold

    gold = load_gold("smner", "test", data_dir=sample_dir)
    empty = tmp_path / "empty.jsonl"
    write_submission(empty, [{"id": t.id, "entities": []} for t in gold.tweets])
    code, out, _ = run(capsys, "score", empty, *gold_args(sample_dir), "--task", "mner")
    mner = next(line for line in out.splitlines() if line.startswith("MNER"))
    assert code == 0 and mner.split()[1:4] == ["n/a", "0.00", "0.00"], out


def test_a_file_of_another_split_is_named_as_such(capsys, tmp_path, sample_dir):
    """A validation file scored as test listed 50 'unknown id' problems: the first line now says whose ids they are."""
    from smner_bench.benchmark.submission import gold_as_submission
    from smner_bench.loaders import load_gold

    dev = tmp_path / "dev.jsonl"
    write_submission(dev, gold_as_submission(load_gold("smner", "validation", data_dir=sample_dir), box=True))
    code, _, err = run(capsys, "score", dev, *gold_args(sample_dir))
    first = next(line for line in err.splitlines() if line.startswith(f"{dev}: id: "))
    assert code == 1 and "14 problems; nothing was scored" in err and first == (
        f"{dev}: id: 12 of its unknown ids are tweets of the validation split of smner: is it a file of that split? "
        "(--split validation)"
    ), err


def test_score_reports_ap_ar_over_the_scores_or_says_why_not(capsys, tmp_path, sample_dir, preds):
    """With a score on every entity: COCO-style AP/AR in the table and the --json report (the scores rank the
    sample's predictions, so AP falls below 1 where a wrong one outranks a right one); without: one line, and an
    explicit null with the reason in --json; a missing score names its file, line and entity."""
    lines = preds[1]
    scored = [{**line, "entities": [{**e, "score": 1.0 - 0.01 * k} for k, e in enumerate(line["entities"])]}
              for line in lines]  # fmt: skip
    path, report_path = tmp_path / "scored.jsonl", tmp_path / "scored.json"
    write_submission(path, scored)
    code, out, _ = run(capsys, "score", path, *gold_args(sample_dir), "--json", report_path)
    ranking = json.loads(report_path.read_text())["ranking"]
    assert code == 0 and ranking["reason"] is None
    assert list(ranking["results"]) == ["mner", "eeg", "gmner", "ees", "smner"]
    smner = ranking["results"]["smner"]
    assert list(smner)[:3] == ["ap", "ap50", "ap75"] and 0 < smner["ap"] < 1 and smner["ap"] <= smner["ap50"] + 1e-12
    assert "AP/AR over the predictions' scores" in out
    row = next(line for line in out.splitlines() if line.startswith("SMNER") and line.count(".") >= 6)
    assert row.split()[1:3] == [f"{100 * smner['ap']:.2f}", f"{100 * smner['ap50']:.2f}"]

    code, out, _ = run(capsys, "score", preds[0], *gold_args(sample_dir), "--json", tmp_path / "plain.json")
    plain = json.loads((tmp_path / "plain.json").read_text())["ranking"]
    assert code == 0 and "\nAP/AR: not computed (predictions carry no score)\n" in out
    assert plain["results"] is None and plain["reason"] == "predictions carry no score"

    partial = [dict(line) for line in scored]
    k = next(i for i, line in enumerate(partial) if len(line["entities"]) > 1)
    partial[k] = {**partial[k], "entities": [partial[k]["entities"][0], {
        key: v for key, v in partial[k]["entities"][1].items() if key != "score"}, *partial[k]["entities"][2:]]}
    write_submission(tmp_path / "partial.jsonl", partial)
    code, out, _ = run(capsys, "score", tmp_path / "partial.jsonl", *gold_args(sample_dir))
    assert code == 0 and (
        f"AP/AR: not computed ({tmp_path / 'partial.jsonl'}:{k + 1}: entities[1].score: missing (tweet "
        f"{partial[k]['id']!r}); 1 of 23 predictions lack a score" in out
    ), out


def test_messages_name_the_flags_on_the_command_line(capsys, tmp_path, sample_dir, preds):
    """The library names its Python arguments (iou=, match='text'); the same messages from a command name the
    flags the user typed."""
    code, _, err = run(capsys, "score", preds[0], *gold_args(sample_dir), "--match", "entity-box", "--task", "smner")
    assert code == 2 and "--match entity-box reproduces the UnCo evaluator" in err and "with --task gmner" in err
    assert "match=" not in err and "task=" not in err
    text_only = [{"id": line["id"], "entities": [{k: v for k, v in e.items() if k not in ("start", "end")}
                                                 for e in line["entities"]]} for line in preds[1]]  # fmt: skip
    write_submission(tmp_path / "text.jsonl", text_only)
    code, _, err = run(capsys, "score", tmp_path / "text.jsonl", *gold_args(sample_dir), "--match", "span")
    assert code == 2 and "use --match text (or 'riveg')" in err
    write_submission(tmp_path / "short.jsonl", preds[1][:1])
    code, _, err = run(capsys, "validate", tmp_path / "short.jsonl", *gold_args(sample_dir), "--max-errors", "1")
    assert code == 1 and "pass --allow-missing to count them as empty" in err
    write_submission(tmp_path / "bad.jsonl", [{"id": "nope", "entities": []}] * 3 + preds[1])
    code, _, err = run(capsys, "validate", tmp_path / "bad.jsonl", *gold_args(sample_dir), "--max-errors", "1")
    assert code == 1 and "(--max-errors N lists more)" in err
