"""Visual entailment (BLIP ITM) and visual grounding (Grounding DINO) with tiny random models on the sample."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines.decision import best_threshold, evaluate  # noqa: E402
from smner_bench.baselines.images import open_rgb  # noqa: E402
from smner_bench.baselines.ve import ImageTextMatcher, VeConfig, train_matcher, ve_items  # noqa: E402
from smner_bench.baselines.vg import (  # noqa: E402
    Grounder,
    VgConfig,
    VGImage,
    accuracy,
    clean_phrase,
    largest_box,
    targets,
    train_grounder,
    vg_images,
)
from smner_bench.cli import main  # noqa: E402


def test_tiny_tokenizer_keeps_grounding_dino_delimiters(grounder_dir, words):
    g = Grounder(grounder_dir)
    ids = g.processor.tokenizer(f"{words[0]} . {words[1]} ?")["input_ids"]
    assert ids[0] == 101 and ids[-1] == 102 and 1012 in ids and 1029 in ids
    assert 100 not in ids  # the sample's words are in the vocabulary


def test_per_image_decodes_only_the_images_needed_in_order(sample, sample_dir, tmp_path, monkeypatch):
    from smner_bench.baselines import images as images_module
    from smner_bench.baselines.images import per_image

    folder = sample_dir / "images"
    ids = [*sample["test"]["image_id"][:4], "lost.jpg"]
    lines = [{"n": k, "image": image_id} for k, image_id in enumerate(ids)]
    decoded = []
    real = images_module.open_rgb
    monkeypatch.setattr(images_module, "open_rgb", lambda f, i: decoded.append(i) or real(f, i))

    def answer(image, line):
        return line["n"], None if image is None else image.size

    needs = lambda line: line["n"] != 1  # noqa: E731
    out = per_image(lines, lambda line: line["image"], folder, answer, needs=needs)
    assert decoded == [i for k, i in enumerate(ids) if k != 1]  # line 1 not needed: never decoded
    assert [n for n, _ in out] == list(range(5)) and out[1][1] is None and out[4][1] is None  # lost: None
    assert out[0][1] == real(folder, ids[0]).size
    monkeypatch.setattr(images_module, "open_rgb", real)
    assert per_image(lines, lambda line: line["image"], folder, answer, needs=needs, workers=2) == out


# --- visual entailment -------------------------------------------------------------------------------------


def test_ve_items_are_the_gold_entities_with_images(sample, sample_dir):
    items = ve_items(sample["test"], sample_dir / "images")
    expected = [(r["image_id"], e["groundable"]) for r in sample["test"] for e in r["entities"]]
    assert [(i.image_id, bool(i.label)) for i in items] == expected
    assert items[0].expression.endswith(f"({sample['test'][0]['entities'][0]['type']})")


def test_matcher_encodes_each_image_once_and_matches_the_reference_forward(matcher_dir, sample, sample_dir):
    m = ImageTextMatcher(matcher_dir)
    items = ve_items(sample["test"], sample_dir / "images")
    calls = []
    m.model.vision_model.register_forward_hook(lambda *_: calls.append(1))
    probs = m.score_items(items, sample_dir / "images")
    assert len(calls) == len({i.image_id for i in items}) < len(items)  # one vision pass per image
    assert probs.shape == (len(items),) and ((probs > 0) & (probs < 1)).all()
    # the same numbers as BlipForImageTextRetrieval's own forward, one (image, text) pair at a time
    for k in (0, len(items) - 1):
        image = open_rgb(sample_dir / "images", items[k].image_id)
        batch = m.processor(images=image, text=items[k].expression, return_tensors="pt")
        with torch.no_grad():
            ref = m.model(**batch, use_itm_head=True).itm_score.softmax(-1)[0, 1].item()
        assert probs[k] == pytest.approx(ref, abs=1e-5)


def test_ve_training_learns_and_saves_its_dev_threshold(matcher_dir, sample, sample_dir, tmp_path):
    images = sample_dir / "images"
    train, dev = ve_items(sample["train"], images), ve_items(sample["validation"], images)
    paths = {"base": str(matcher_dir), "data_dir": str(sample_dir), "images": str(images), "out": str(tmp_path / "ve")}
    config = VeConfig(epochs=4, lr=1e-3, workers=0, **paths)
    meta = train_matcher(config, train, dev, progress=False)
    losses = [h["loss"] for h in meta["history"]]
    assert losses[-1] < losses[0]
    again = ImageTextMatcher(tmp_path / "ve")  # the saved model reproduces the saved threshold and dev figures
    probs = again.score_items(dev, images)
    labels = np.array([i.label for i in dev])
    assert again.threshold == meta["threshold"] == best_threshold(probs, labels)
    assert evaluate(probs, labels, again.threshold) == meta["dev"]


# --- visual grounding --------------------------------------------------------------------------------------


def test_phrase_helpers():
    assert largest_box([[0, 0, 2, 2], [0, 0, 3, 1], [1, 1, 4, 4]]) == (1, 1, 4, 4)
    assert largest_box([[0, 0, 2, 2], [5, 5, 7, 7]]) == (0, 0, 2, 2)  # ties: the first
    assert clean_phrase("St. Louis? (LOC) - a city.") == "St Louis (LOC) - a city"
    assert clean_phrase(" . ? ") == "object"
    item = VGImage("x.jpg", ("a", "b"), (((0, 0, 10, 20),), ((0, 0, 5, 5), (10, 10, 50, 40))))
    t = targets(item, (100, 50))
    assert t["class_labels"].tolist() == [0, 1]
    expected = [[0.05, 0.2, 0.1, 0.4], [0.3, 0.5, 0.4, 0.6]]  # normalised cx, cy, w, h of the largest box
    np.testing.assert_allclose(t["boxes"].numpy(), expected, rtol=1e-6)


def test_vg_images_keep_every_groundable_entity(sample, sample_dir):
    items = vg_images(sample["test"], sample_dir / "images")
    groundable = sum(bool(e["boxes"]) for r in sample["test"] for e in r["entities"])
    assert sum(len(i.phrases) for i in items) == groundable > 0
    assert all(len(i.phrases) == len(i.boxes) and all(i.boxes) for i in items)


def test_training_sets_hold_every_expression_set_and_name_a_folder_without_images(sample, sample_dir, tmp_path):
    from smner_bench.baselines.stage2_data import training_sets
    from smner_bench.benchmark.errors import MissingDataError

    images = sample_dir / "images"
    row = sample["train"][0]
    e = row["entities"][0]
    other = {(row["id"], e["start"], e["end"]): "another expression"}
    train, dev = training_sets("ve", sample, images, [(None, None), ({"file": "x"}, other)])
    once = ve_items(sample["train"], images)
    assert train == once + ve_items(sample["train"], images, other) and dev == ve_items(sample["validation"], images)
    assert "another expression" in [i.expression for i in train[len(once) :]]
    assert len(training_sets("ve", sample, images, max_train=3)[0]) == 3
    train, _ = training_sets("ve", sample, images, captions=[sample_dir / "captions"])
    assert len(train) == len(once) and all(
        i.expression.endswith(". " + j.expression) for i, j in zip(train, once, strict=True)
    )
    train, dev = training_sets("vg", sample, images)
    assert train == vg_images(sample["train"], images) and dev == vg_images(sample["validation"], images)
    (tmp_path / "none").mkdir()
    with pytest.raises(MissingDataError, match="no image of the train split's tweets with a box") as err:
        training_sets("vg", sample, tmp_path / "none")
    assert str(tmp_path / "none") in str(err.value)


def test_grounding_is_one_forward_per_image_with_boxes_in_the_image(grounder_dir, sample, sample_dir):
    g = Grounder(grounder_dir)
    calls = []
    g.model.register_forward_hook(lambda *_: calls.append(1))
    item = max(vg_images(sample["test"], sample_dir / "images"), key=lambda i: len(i.phrases))
    image = open_rgb(sample_dir / "images", item.image_id)
    phrases = [*item.phrases, "St. Louis? (LOC) - a city."]  # delimiters inside a phrase do not split it
    found = g.ground(image, phrases)
    assert len(calls) == 1 and len(found) == len(phrases) >= 2
    w, h = image.size
    for box, score in found:
        assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h and 0 < score < 1
    g.max_text = 8  # a prompt too long for the text encoder is cut into several forwards
    calls.clear()
    again = g.ground(image, phrases)
    assert len(calls) == len(g.chunks(phrases)) > 1 and len(again) == len(phrases)


def test_vg_training_lowers_the_loss_and_reports_dev_accuracy(grounder_dir, sample, sample_dir, tmp_path):
    images = sample_dir / "images"
    train, dev = vg_images(sample["train"], images), vg_images(sample["validation"], images)
    paths = {"base": str(grounder_dir), "data_dir": str(sample_dir), "images": str(images), "out": str(tmp_path / "vg")}
    config = VgConfig(epochs=4, lr=1e-3, workers=0, **paths)
    meta = train_grounder(config, train, dev, progress=False)
    losses = [h["loss"] for h in meta["history"]]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    again = Grounder(tmp_path / "vg")
    assert accuracy(again, dev, images) == meta["dev"] and meta["dev"]["phrases"] == sum(len(i.phrases) for i in dev)
    assert json.loads((tmp_path / "vg" / "vg.json").read_text())["train_images"] == len(train)


def test_training_commands(matcher_dir, grounder_dir, sample_dir, tmp_path, capsys):
    common = ["--data-dir", str(sample_dir), "--images", str(sample_dir / "images"), "--max-train", "10"]
    assert main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(tmp_path / "ve"), *common]) == 0
    assert main(["baseline", "vg-train", "--base", str(grounder_dir), "--out", str(tmp_path / "vg"), *common]) == 0
    out = capsys.readouterr().out
    assert "VE: 10 training pairs" in out and "VG: 10 training images" in out
    meta = json.loads((tmp_path / "ve" / "ve.json").read_text())
    assert meta["command"].startswith("smner-bench ") and "threshold" in meta
    code = main(["baseline", "vg-train", "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "x"), *common])
    assert code == 2 and not (tmp_path / "x").exists()
    assert "grounding model not found: no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    common[3] = str(tmp_path / "empty")  # --images: a folder without the tweets' images
    assert main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(tmp_path / "y"), *common]) == 2
    assert "no image of the train split's tweets is in this folder (expected files like s00" in capsys.readouterr().err


def test_box_conversion_agrees_with_grounding_dinos_post_processing(grounder_dir, sample, sample_dir):
    """Peer check: for a one-token phrase, the chosen box is transformers' post-processed box of the query
    with the highest probability on that token (clipped to the image)."""
    g = Grounder(grounder_dir)
    item = vg_images(sample["test"], sample_dir / "images")[0]
    image = open_rgb(sample_dir / "images", item.image_id)
    word = next(w for w in ("photo", "image", "the") if len(g.processor.tokenizer.tokenize(w)) == 1)
    ((box, score),) = g.ground(image, [word])
    batch = g.processor(images=[image], text=[f"{word} ."], return_tensors="pt")
    with torch.no_grad():
        outputs = g.model(**batch)
    post = g.processor.post_process_grounded_object_detection(
        outputs, batch["input_ids"], threshold=0.0, text_threshold=0.0, target_sizes=[image.size[::-1]]
    )[0]
    probs = outputs.logits[0].sigmoid()[:, 1]  # the word's token ([CLS] is position 0)
    best = int(probs.argmax())
    assert score == pytest.approx(float(probs[best]), abs=1e-6)
    w, h = image.size
    x1, y1, x2, y2 = post["boxes"][best].tolist()
    expected = [max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)]
    assert box == pytest.approx([round(v, 2) for v in expected], abs=0.011)
