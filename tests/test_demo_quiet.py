"""``make demo`` prints no spurious warnings (issue 21): no progress bar of a ``datasets`` build or export, no
transformers bar or LOAD REPORT for the weights a load leaves out on purpose, no warning about an MSEA pool that
is empty because no manual annotations were given, no expression-source warning when VE/VG were trained on the
run's own LLM; and the real warnings are still there for real misuse. PLIM's dev evaluation draws a bar on a
terminal, none with ``--quiet`` or in a log file."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from smner_bench.cli import main

BAR_MARKS = ("Generating", "Map", "Creating parquet", "Loading weights", "Writing model shards", "%|", "it/s]")


def _bars(text: str) -> list[str]:
    return [mark for mark in BAR_MARKS if mark in text]


def test_sample_prepare_stats_score_draw_no_datasets_bar(tmp_path, capfd):
    """The demo's first commands, as it runs them."""
    import datasets

    sample_dir = tmp_path / "sample"
    assert main(["sample", "--out", str(sample_dir)]) == 0
    cache = ["--cache-dir", str(tmp_path / "cache")]
    sources = ["--data-dir", str(sample_dir), "--image-dir", str(sample_dir / "images")]
    assert main(["prepare", "smner", *sources, "--knowledge", str(sample_dir / "knowledge.zip"), "--captions",
                 str(sample_dir / "captions"), *cache, "--out", str(tmp_path / "export")]) == 0  # fmt: skip
    assert main(["stats", "smner", *sources, *cache]) == 0
    assert main(["score", str(sample_dir / "predictions-test.jsonl"), "--dataset", "smner", "--split", "test",
                 "--data-dir", str(sample_dir)]) == 0  # fmt: skip
    out, err = capfd.readouterr()
    assert _bars(err) == [] and _bars(out) == [], err
    assert "knowledge-unaligned-tweet" in out  # the sample's deliberate quirk is still reported
    assert datasets.utils.logging.is_progress_bar_enabled()  # turned off inside the build only


def test_library_bars_are_restored_and_a_users_choice_kept(monkeypatch):
    import datasets

    from smner_bench.benchmark.progress import library_bars_off, show_progress

    with library_bars_off():
        assert not datasets.utils.logging.is_progress_bar_enabled()
    assert datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()
    try:
        with library_bars_off():
            pass
        assert not datasets.utils.logging.is_progress_bar_enabled()  # off before: still off
    finally:
        datasets.utils.logging.enable_progress_bar()
    assert show_progress(False) is False and show_progress(True) is True
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert show_progress() is True
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert show_progress() is False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- transformers: the pooler left out on purpose is no news; anything else is --------------------------------


def test_load_report_only_for_weights_not_left_out_on_purpose(words, tmp_path, capfd):
    pytest.importorskip("torch")
    import logging

    from transformers import BertForTokenClassification

    from smner_bench.baselines import tiny
    from smner_bench.baselines.providers.encoder import load_encoder

    class Records(logging.Handler):  # transformers' own handler holds the stderr of whichever test imported it first
        def __init__(self):
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    records = Records()
    library = logging.getLogger("transformers")
    library.addHandler(records)
    try:
        encoder = tiny.save_encoder(tmp_path / "encoder", words)  # a BertModel with a pooler
        capfd.readouterr()
        records.messages.clear()
        assert type(load_encoder(str(encoder))).__name__ == "BertModel"
        err = capfd.readouterr().err
        assert not [m for m in records.messages if "LOAD REPORT" in m] and _bars(err) == [], (records.messages, err)
        tagger = tmp_path / "tagger"  # a token classifier: its classifier weights are unexpected for an encoder
        BertForTokenClassification(tiny.encoder_config(len(tiny.bert_vocab(words)))).save_pretrained(tagger)
        tiny.bert_tokenizer(tagger, words)
        records.messages.clear()
        load_encoder(str(tagger))
        (report,) = [m for m in records.messages if "LOAD REPORT" in m]
        assert "classifier.weight" in report and "UNEXPECTED" in report
    finally:
        library.removeHandler(records)


# --- MSEA: no manual annotations is a choice (zero-shot prompts); a small pool of given ones is warned about -----


def test_msea_without_manual_annotations_is_no_warning_but_a_small_pool_is(sample_dir, words, tmp_path, caplog):
    pytest.importorskip("torch")
    from smner_bench.baselines import tiny
    from smner_bench.baselines.knowledge import MseaPrompter, example_pool
    from smner_bench.baselines.providers.encoder import Encoder
    from smner_bench.loaders import read_conll

    encoder = Encoder(str(tiny.save_encoder(tmp_path / "encoder", words)))
    rows = [{"id": t.id, "tokens": t.tokens} for t in read_conll(sample_dir / "test.txt")]
    pool = example_pool([], [], {}, data_dir=sample_dir)
    assert pool.summary().startswith("MSEA example pool: no manual annotations given")
    with caplog.at_level(logging.WARNING, logger="smner_bench"):
        prompts = MseaPrompter(pool, encoder, encoder.encode([]), top_n=5).prompts(rows, {})
    assert caplog.text == "" and all(p.examples == [] and p.prompt.count("\nAnswer:") == 1 for p in prompts)
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "2099train.txt").write_text("s0001\r\nNamed entities: about s0001\r\n")
    (manual / "2099train_GPT.txt").write_text("s0001\r\nNone\r\n")
    captions = {t.id: "a picture" for t in read_conll(sample_dir / "train.txt")}
    pool = example_pool([manual], [], captions, data_dir=sample_dir)
    assert pool.summary().startswith("MSEA example pool: 1 of 1 manual annotations")
    features = encoder.encode([f"{e.text} {e.image}" for e in pool.examples])
    with caplog.at_level(logging.WARNING, logger="smner_bench"):
        prompts = MseaPrompter(pool, encoder, features, top_n=5).prompts(rows, {})
    assert "the MSEA example pool has 1 examples, fewer than top-n 5" in caplog.text
    assert all(p.examples == ["s0001"] for p in prompts)


# --- the expression source: the same LLM under two spellings of its path is the same source -------------------


def test_expression_source_is_the_model_not_the_spelling_of_its_path(tmp_path, monkeypatch):
    from smner_bench.baselines.ve import sources_note

    (tmp_path / "riveg" / "tiny" / "llm").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    trained = [{"file": "expressions.jsonl", "llm": "transformers:riveg/tiny/llm"}]  # as typed for expand
    used = f"transformers:{tmp_path / 'riveg' / 'tiny' / '..' / 'tiny' / 'llm'}"  # a run file's, resolved
    assert sources_note(trained, used, "the VE checkpoint x") is None
    assert "this run's come from transformers:other" in sources_note(trained, "transformers:other", "VE")
    assert "trained on expressions from Entity (TYPE)" in sources_note([], used, "VE")  # real misuse: warned
    assert sources_note([{"llm": "openai:m@u"}], "openai:m@u", "VE") is None


# --- PLIM: the dev evaluation's bar ----------------------------------------------------------------------------


def test_plim_dev_evaluation_shows_progress_on_a_terminal_only(sample_dir, sample_encoder, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    args = ["baseline", "plim-train", "--encoder", str(sample_encoder), "--data-dir", str(sample_dir), "--epochs",
            "1", "--batch-size", "16", "--max-length", "64"]  # fmt: skip
    seen = {}
    for name, extra, stderr in (
        ("terminal", [], _Terminal()),
        ("quiet", ["--quiet"], _Terminal()),
        ("log file", [], io.StringIO()),
    ):
        monkeypatch.setattr(sys, "stderr", stderr)
        assert main([*args, "--out", str(tmp_path / name.replace(" ", "-")), *extra]) == 0
        seen[name] = stderr.getvalue()
    assert "PLIM dev" in seen["terminal"] and "PLIM epoch 1" in seen["terminal"]
    assert _bars(seen["quiet"]) == [] and _bars(seen["log file"]) == [], seen


def test_runner_ve_stage_trained_on_the_runs_llm_is_quiet(matcher_dir, sample, sample_dir, tmp_path, monkeypatch,
                                                          caplog):  # fmt: skip
    """The runner's VE stage with a checkpoint trained on ``expand``'s expressions of the LLM this run's expansion
    uses, its path spelled relatively (as typed for ``expand``) and absolutely (as a run file resolves it): no
    warning; another LLM still is one."""
    pytest.importorskip("torch")
    import json
    import shutil
    from types import SimpleNamespace

    from smner_bench.baselines import runner
    from smner_bench.baselines.ve import ImageTextMatcher

    monkeypatch.setattr(ImageTextMatcher, "scores", lambda self, image, texts: [0.9] * len(texts))
    (tmp_path / "tiny" / "llm").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "ve"
    shutil.copytree(matcher_dir, ckpt)
    trained = [{"file": "expressions.jsonl", "llm": "transformers:tiny/llm"}]
    (ckpt / "ve.json").write_text(json.dumps({"threshold": 0.5, "caption": False, "expressions": trained}))
    rows = [r for r in sample["test"] if r["entities"]][:2]
    lines = [{"id": r["id"], "entities": [{**{k: e[k] for k in ("start", "end", "text", "type")},
              "expression": f"{e['text']} - x"} for e in r["entities"]]} for r in rows]  # fmt: skip
    for llm, warned in ((f"transformers:{tmp_path / 'tiny' / 'llm'}", False), ("transformers:other", True)):
        cfg = SimpleNamespace(
            ve=SimpleNamespace(checkpoint=str(ckpt), threshold=None, caption=None),
            expansion=SimpleNamespace(llm=llm),
            device="cpu",
            dtype="fp32",
            images=str(sample_dir / "images"),
            workers=0,
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            runner.run_ve(runner.Context(cfg=cfg, rows=rows, folder=tmp_path, progress=False), {"expansion": lines})
        assert ("trained on expressions from transformers:tiny/llm" in caplog.text) is warned, caplog.text
