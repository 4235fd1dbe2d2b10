"""Caption VE on tiny models: examples, threshold choice, a training run, a checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines.caption_ve import (  # noqa: E402
    CrossEncoder,
    best_threshold,
    evaluate,
    judge_predictions,
    load_caption_ve,
    predict_probabilities,
    train_caption_ve,
    ve_examples,
)
from smner_bench.loaders import load  # noqa: E402


def test_threshold_and_metrics():
    probs = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    labels = np.array([0, 0, 1, 1, 1])
    t = best_threshold(probs, labels)
    assert 0.1 < t <= 0.35  # 0.35 must count as groundable, 0.1 not; 0.4 costs one either way
    m = evaluate(probs, labels, t)
    assert m["accuracy"] == 0.8 and m["groundable_recall"] == 1.0 and m["groundable_precision"] == 0.75


def test_train_and_reload(tmp_path, sample_dir, hf_cache, sample_encoder):
    from transformers import AutoTokenizer

    from smner_bench.baselines.providers.encoder import load_encoder

    ds = load("gmner", sample_dir, captions=sample_dir / "captions", cache_dir=hf_cache)
    train, dev = ve_examples(ds["train"]), ve_examples(ds["validation"])
    assert len(train) == 58 and sum(e.label for e in train) == 39
    assert train[0].expression == f"{ds['train'][0]['entities'][0]['text']} ({ds['train'][0]['entities'][0]['type']})"
    assert ds["train"][0]["caption"] in train[0].context
    tokenizer = AutoTokenizer.from_pretrained(sample_encoder)
    torch.manual_seed(0)
    model = CrossEncoder(load_encoder(str(sample_encoder)))
    meta = train_caption_ve(
        "tiny",
        train,
        dev,
        tmp_path / "ve",
        epochs=2,
        batch_size=8,
        max_length=48,
        progress=False,
        model=model,
        tokenizer=tokenizer,
    )
    assert len(meta["history"]) == 2 and 0 <= meta["threshold"] <= 1 and meta["dev"]["examples"] == 19
    reloaded, tok, saved = load_caption_ve(tmp_path / "ve")
    assert saved["threshold"] == meta["threshold"]
    a = predict_probabilities(model, tokenizer, dev, max_length=48)
    b = predict_probabilities(reloaded, tok, dev, max_length=48, batch_size=3)
    np.testing.assert_allclose(a, b, atol=1e-6)

    # a tagger's test predictions (here the gold, with one type changed): MNER as scored, and the VE's verdicts
    # on the correct entities against the gold's groundability
    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.submission import gold_as_submission, write_submission

    test_rows = ds["test"]
    lines = gold_as_submission(
        gold_from_rows(test_rows, dataset="gmner", split="test", has_boxes=True, has_masks=False)
    )
    wrong = next(e for line in lines for e in line["entities"])
    wrong["type"] = "LOC" if wrong["type"] != "LOC" else "PER"
    write_submission(tmp_path / "pred.jsonl", lines)
    judged = judge_predictions(reloaded, tok, tmp_path / "pred.jsonl", test_rows, saved["threshold"], max_length=48)
    gold_examples = ve_examples(test_rows)
    verdicts = predict_probabilities(reloaded, tok, gold_examples, max_length=48) >= saved["threshold"]
    agree = [v == bool(e.label) for v, e in zip(verdicts, gold_examples, strict=True)][1:]  # the first is wrong
    assert judged["correct_entities"] == len(gold_examples) - 1 == judged["mner"]["tp"]
    assert judged["mner"]["pred"] == judged["mner"]["gold"] == len(gold_examples)
    assert judged["groundability_accuracy_on_correct_entities"] == pytest.approx(sum(agree) / len(agree))


def test_a_bad_predictions_file_is_refused_before_the_training(
    tmp_path, sample_dir, sample_encoder, monkeypatch, capsys
):
    """``--predictions`` is judged after the training: a missing or invalid file was found only then (the model
    trained, no results.json); now it is refused before, and nothing is trained."""
    from smner_bench.baselines import caption_ve
    from smner_bench.cli import main

    monkeypatch.setattr(caption_ve, "train_caption_ve", lambda *a, **k: pytest.fail("trained"))
    argv = ["baseline", "caption-ve", "--encoder", str(sample_encoder), "--data-dir", str(sample_dir), "--captions",
            str(sample_dir / "captions"), "--max-train", "4"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a"), "--predictions", str(tmp_path / "none.jsonl")]) == 2
    assert "prediction file not found" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b"), "--predictions", str(sample_dir / "test.txt")]) == 1
    assert "test.txt" in capsys.readouterr().err
