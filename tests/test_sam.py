"""The SAM box-to-mask adapter with a tiny Sam built from segment-anything's modules (random weights)."""

from __future__ import annotations

import json

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines.sam import BoxToMask, add_masks, load_predictor, read_gmner_lines  # noqa: E402
from smner_bench.baselines.tiny import save_sam, tiny_sam  # noqa: E402
from smner_bench.benchmark.errors import DataFormatError, MissingDataError  # noqa: E402
from smner_bench.benchmark.gold import gold_from_rows  # noqa: E402
from smner_bench.benchmark.regions import decode_rle  # noqa: E402
from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission  # noqa: E402
from smner_bench.cli import main  # noqa: E402
from smner_bench.loaders import load_split  # noqa: E402


class CountingPredictor:
    """segment-anything's SamPredictor, counting the image embeddings."""

    def __init__(self):
        from segment_anything import SamPredictor

        self.inner = SamPredictor(tiny_sam())
        self.set_image_calls = 0
        self.predict_calls = 0

    def set_image(self, image):
        self.set_image_calls += 1
        self.inner.set_image(image)

    def predict_torch(self, **kwargs):
        self.predict_calls += 1
        return self.inner.predict_torch(**kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def gmner_lines(sample_dir, hf_cache, tmp_path_factory):
    rows = load_split("gmner", sample_dir, "test", cache_dir=hf_cache)
    gold = gold_from_rows(rows, dataset="gmner", split="test", has_boxes=True, has_masks=False)
    path = tmp_path_factory.mktemp("sam") / "gmner.jsonl"
    write_submission(path, gold_as_submission(gold, box=True))
    return path, gold


@pytest.mark.parametrize("multimask", [False, True])
def test_one_embedding_per_image_and_valid_masks(gmner_lines, sample_dir, multimask):
    path, gold = gmner_lines
    predictor = CountingPredictor()
    out = add_masks(read_gmner_lines(path), sample_dir / "images", BoxToMask(predictor, multimask=multimask))
    with_boxes = [line for line in out if any(e["box"] for e in line["entities"])]
    assert predictor.set_image_calls == predictor.predict_calls == len(with_boxes)  # one per image, not per box
    assert sum(len([e for e in line["entities"] if e["box"]]) for line in with_boxes) > len(with_boxes)
    for line in out:
        tweet = gold.by_id[line["id"]]
        for e in line["entities"]:
            if e["box"] is None:
                assert e["mask"] is None
            else:
                m = decode_rle(e["mask"])
                assert m.shape == (tweet.height, tweet.width)  # the image's size
                assert e["mask"]["size"] == [tweet.height, tweet.width]


def masks(predictions, sample_dir, checkpoint, out, *options) -> int:
    """``smner-bench masks`` on the sample's images: its exit code."""
    return main(["masks", "--predictions", str(predictions), "--images", str(sample_dir / "images"),
                 "--sam-checkpoint", str(checkpoint), "-o", str(out), *options])  # fmt: skip


def test_masks_command_makes_a_valid_smner_submission(
    capsys, gmner_lines, sample_dir, tmp_path, smner_gold, monkeypatch
):
    from smner_bench.baselines import sam

    monkeypatch.setattr(sam, "load_predictor", lambda checkpoint, model_type, device: CountingPredictor())
    path, _ = gmner_lines
    out = tmp_path / "smner.jsonl"
    assert masks(path, sample_dir, "unused.pth", out, "--model-type", "vit_b") == 0
    sub = read_submission(out, smner_gold)
    assert sub.tasks() == ("mner", "eeg", "gmner", "ees", "smner")
    assert "masks for the boxes of 12 tweets" in capsys.readouterr().out


def test_bad_inputs(tmp_path, sample_dir, gmner_lines):
    bad = tmp_path / "nobox.jsonl"
    bad.write_text(json.dumps({"id": "s0049", "entities": [{"start": 0, "end": 1, "type": "PER"}]}) + "\n")
    with pytest.raises(DataFormatError, match="gives 'box'"):
        read_gmner_lines(bad)
    path, _ = gmner_lines
    with pytest.raises(MissingDataError, match="no image for tweet"):
        add_masks(read_gmner_lines(path), tmp_path, BoxToMask(CountingPredictor()))
    code = masks(path, sample_dir, tmp_path / "missing.pth", tmp_path / "o.jsonl")
    assert code == 2 and not (tmp_path / "o.jsonl").exists()


def test_load_predictor_reads_a_checkpoint_and_refuses_other_files(tmp_path):
    path = save_sam(tmp_path / "tiny.pth")
    predictor = load_predictor(path, "tiny")
    reference = tiny_sam().state_dict()
    loaded = predictor.model.state_dict()
    assert reference.keys() == loaded.keys() and all(torch.equal(reference[k], loaded[k]) for k in reference)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match="not a SAM tiny checkpoint"):
        load_predictor(tmp_path / "junk.pth", "tiny")
    with pytest.raises(DataFormatError, match="not a SAM vit_b checkpoint"):
        load_predictor(path, "vit_b")  # the tiny weights do not fit vit_b


@pytest.mark.parametrize("multimask", [False, True])
def test_batched_masks_equal_segment_anythings_own_per_box_predict(sample_dir, multimask):
    """Peer check: the adapter's one-call decoding gives the masks SamPredictor.predict gives box by box."""
    import numpy as np
    from PIL import Image
    from segment_anything import SamPredictor

    pixels = np.asarray(Image.open(sample_dir / "images" / "s0001.jpg").convert("RGB"))
    h, w = pixels.shape[:2]
    boxes = [[0, 0, w // 2, h // 2], [w // 4, h // 4, w - 1, h - 1], [5, h // 3, w // 3, h - 5]]
    ours = BoxToMask(SamPredictor(tiny_sam()), multimask=multimask).masks(pixels, boxes)
    reference = SamPredictor(tiny_sam())
    reference.set_image(pixels)
    for box, rle in zip(boxes, ours, strict=True):
        masks, scores, _ = reference.predict(box=np.array(box), multimask_output=multimask)
        expected = masks[int(np.argmax(scores))] if multimask else masks[0]
        assert (decode_rle(rle) == expected).all()
