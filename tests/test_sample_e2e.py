"""End to end on the synthetic sample: the builder, images, masks vs pixels, export, stats, the CLI."""

from __future__ import annotations

import base64
import filecmp
import io
import json
import math
import shutil
import subprocess
import sys

import datasets
import numpy as np
import pytest
from PIL import Image, ImageDraw

from smner_bench.benchmark.regions import decode_rle
from smner_bench.benchmark.safe_output import OutputError
from smner_bench.cli import main
from smner_bench.loaders import load, load_split, quirk_report
from smner_bench.loaders.export import export
from smner_bench.loaders.labelme import read_labelme
from smner_bench.loaders.sample import BACKGROUND, write_sample
from smner_bench.loaders.stats import dataset_stats


def every_option(sample_dir, hf_cache):
    return {
        "image_dir": sample_dir / "images",
        "knowledge": sample_dir / "knowledge.zip",
        "captions": sample_dir / "captions",
        "cache_dir": hf_cache,
    }


@pytest.fixture(scope="module")
def full(sample_dir, hf_cache):
    """The smner config with every option: images, knowledge, captions."""
    return load("smner", sample_dir, **every_option(sample_dir, hf_cache))


def rows_by_id(ds):
    return {r["id"]: r for r in ds}


def test_sample_is_deterministic(tmp_path, sample_dir):
    manifest = write_sample(tmp_path / "again")
    cmp = filecmp.dircmp(sample_dir, tmp_path / "again")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for sub in ("xml", "masks", "images", "captions"):
        names = sorted(p.name for p in (sample_dir / sub).iterdir())
        assert filecmp.cmpfiles(sample_dir / sub, tmp_path / "again" / sub, names, shallow=False)[0] == names
    assert (sample_dir / "knowledge.zip").read_bytes() == (tmp_path / "again" / "knowledge.zip").read_bytes()
    assert sum(c["tweets"] for c in manifest["counts"].values()) == 60
    write_sample(tmp_path / "again")  # an earlier sample (marked) is replaced, the same bytes again
    assert not filecmp.dircmp(sample_dir, tmp_path / "again").diff_files
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not empty and was not made by smner-bench"):
        write_sample(tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_counts_match_the_manifest(full, tmp_path):
    manifest = write_sample(tmp_path / "s")
    stats = dataset_stats(full)
    for split, raw in (("train", "train"), ("validation", "dev"), ("test", "test")):
        expected = manifest["counts"][raw]
        assert [r["id"] for r in full[split]] == manifest["splits"][raw]
        for key in ("tweets", "entities", "groundable", "boxes", "masks"):
            assert stats[split][key] == expected[key], (split, key)
        assert all(stats[split][t] > 0 for t in ("PER", "LOC", "ORG", "OTHER"))


def test_masks_boxes_and_pixels_agree(full):
    checked = 0
    for split in full:
        for row in full[split]:
            image = np.asarray(row["image"].convert("RGB")).astype(int)
            assert (row["width"], row["height"]) == row["image"].size
            for e in row["entities"]:
                assert e["groundable"] == bool(e["masks"])
                assert len(e["masks"]) == len(e["boxes"])
                for rle in e["masks"]:
                    m = decode_rle(rle)
                    assert m.shape == (row["height"], row["width"])
                    ys, xs = np.nonzero(m)
                    tight = [xs.min(), ys.min(), xs.max(), ys.max()]
                    assert any(np.abs(np.array(tight) - np.array(b)).max() <= 1 for b in e["boxes"])
                    inside = np.abs(image[m] - BACKGROUND).sum(axis=1) > 60
                    assert inside.mean() > 0.9  # the object's colour is drawn where the mask is
                    checked += 1
            union = np.zeros((row["height"], row["width"]), dtype=bool)
            for e in row["entities"]:
                for rle in e["masks"]:
                    union |= decode_rle(rle)
            far = ~_dilate(union, 6)
            assert np.abs(image[far] - BACKGROUND).max() <= 25  # and nowhere else
    assert checked == 40 + 13 + 16


def oracle_rasterise(shape: dict, height: int, width: int) -> np.ndarray:
    """An independent rasteriser of one labelme shape, written from labelme/utils/shape.py (the oracle of the
    sample's masks: the sample draws them with the reader's own rasteriser)."""
    points = shape["points"]
    out = np.zeros((height, width), dtype=bool)
    if shape["shape_type"] == "mask":
        (x1, y1), (x2, y2) = (tuple(int(v) for v in p) for p in points)
        patch = np.asarray(Image.open(io.BytesIO(base64.b64decode(shape["mask"]))).convert("L")) != 0
        out[y1 : y2 + 1, x1 : x2 + 1] = patch
        return out
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    xy = [tuple(p) for p in points]
    if shape["shape_type"] == "circle":
        (cx, cy), (px, py) = xy
        d = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif shape["shape_type"] == "rectangle":
        draw.rectangle(xy, outline=1, fill=1)
    else:
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(img, dtype=bool)


def test_sample_masks_equal_an_independent_rasteriser(sample_dir):
    kinds = set()
    for path in sorted((sample_dir / "masks").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        h, w = doc["imageHeight"], doc["imageWidth"]
        expected: dict[tuple, np.ndarray] = {}  # (label, group) -> union, in the order of the first shape
        for i, shape in enumerate(doc["shapes"]):
            key = (shape["label"], shape["group_id"] if shape["group_id"] is not None else f"own {i}")
            expected[key] = expected.get(key, np.zeros((h, w), dtype=bool)) | oracle_rasterise(shape, h, w)
            kinds.add(shape["shape_type"])
        read = read_labelme(path).masks
        for label in {label for label, _ in expected}:
            oracle = [m for (lab, _), m in expected.items() if lab == label]
            assert [decode_rle(r).tolist() for r in read[label]] == [m.tolist() for m in oracle], path.name
    assert kinds == {"polygon", "rectangle", "circle", "mask"}


def _dilate(mask, r):
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def test_special_cases(full, tmp_path):
    manifest = write_sample(tmp_path / "s")
    special = manifest["special"]
    train = rows_by_id(full["train"])
    two = next(
        e for e in train[special["two_boxes"]["tweet"]]["entities"] if e["text"] == special["two_boxes"]["entity"]
    )
    assert len(two["boxes"]) == 2 and len(two["masks"]) == 2
    group = next(
        e for e in train[special["group_mask"]["tweet"]]["entities"] if e["text"] == special["group_mask"]["entity"]
    )
    assert len(group["masks"]) == 1
    assert train[special["no_entity"]]["entities"] == []
    assert all(not e["groundable"] for e in train[special["no_xml"]]["entities"])
    assert train[manifest["knowledge_missing"]]["knowledge"] is None
    assert sum(r["knowledge"] is None for s in full for r in full[s]) == 1
    assert all(r["caption"] and r["description"] for s in full for r in full[s])
    assert "\n" in train["s0002"]["description"]


def test_quirks_are_stored_with_the_cache(full, sample_dir, hf_cache):
    reports = quirk_report("smner", sample_dir, **every_option(sample_dir, hf_cache))
    assert reports["train"].counts() == {"knowledge-unaligned-tweet": 1}
    assert reports["test"].quirks == []
    assert any("train.txt" in path for path in reports["train"].checksums)


def test_image_less_path_takes_sizes_from_xml(sample_dir, hf_cache, full):
    gmner = load("gmner", sample_dir, cache_dir=hf_cache)
    with_images = rows_by_id(full["train"])
    for row in gmner["train"]:
        assert row["image"] is None
        assert "knowledge" not in row
        has_xml = (sample_dir / "xml" / f"{row['id']}.xml").exists()
        if has_xml:
            assert (row["width"], row["height"]) == (with_images[row["id"]]["width"], with_images[row["id"]]["height"])
        else:
            assert row["width"] is None and row["height"] is None
        for e, f in zip(row["entities"], with_images[row["id"]]["entities"], strict=True):
            assert e["masks"] == [] and e["boxes"] == f["boxes"]
    mner = load("twitter2017", sample_dir, cache_dir=hf_cache)
    assert all(not e["groundable"] and not e["boxes"] for r in mner["test"] for e in r["entities"])


def test_dev_alias(sample_dir, hf_cache):
    assert len(load_split("gmner", sample_dir, "dev", cache_dir=hf_cache)) == 12
    ds = load("gmner", sample_dir, cache_dir=hf_cache)
    assert ds["dev"][0] == ds["validation"][0] and list(ds) == ["train", "validation", "test"]
    with pytest.raises(Exception, match="unknown split 'devel'"):
        load_split("gmner", sample_dir, "devel", cache_dir=hf_cache)


def test_cache_follows_raw_file_changes(tmp_path, hf_cache):
    data = tmp_path / "copy"
    write_sample(data)
    first = load("gmner", data, cache_dir=hf_cache)
    text = (data / "test.txt").read_text(encoding="utf-8")
    (data / "test.txt").write_text(text.replace("\tB-PER", "\tB-ORG", 1), encoding="utf-8")
    second = load("gmner", data, cache_dir=hf_cache)
    assert dataset_stats(second)["test"]["ORG"] == dataset_stats(first)["test"]["ORG"] + 1


def test_export_embeds_images_and_round_trips(tmp_path, full, sample_dir, hf_cache):
    data = tmp_path / "movable"
    shutil.copytree(sample_dir, data)
    ds = load("smner", data, image_dir=data / "images", knowledge=data / "knowledge.zip", cache_dir=hf_cache)
    reports = quirk_report(
        "smner", data, image_dir=data / "images", knowledge=data / "knowledge.zip", cache_dir=hf_cache
    )
    out = export("smner", ds, reports, tmp_path / "export")
    export("gmner", load("gmner", data, cache_dir=hf_cache), {}, out)  # a second config in the same folder
    shutil.rmtree(data)  # the export must not depend on the image files any more
    back = datasets.load_dataset(str(out), "smner", cache_dir=str(tmp_path / "c"))
    assert set(back) == {"train", "validation", "test"}
    for split in back:
        assert back[split].features == ds[split].features
        a = ds[split].cast_column("image", datasets.Image(decode=False))
        b = back[split].cast_column("image", datasets.Image(decode=False))
        for x, y in zip(a, b, strict=True):
            assert x["image"]["bytes"] is None and y["image"]["bytes"]
            x.pop("image"), y.pop("image")
            assert x == y
    first = back["train"][0]["image"]
    assert isinstance(first, Image.Image) and first.size == (full["train"][0]["width"], full["train"][0]["height"])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "config_name: gmner" in card and "config_name: smner" in card
    assert "knowledge-unaligned-tweet" in card and "SHA-256" in card
    assert len(datasets.load_dataset(str(out), "gmner", cache_dir=str(tmp_path / "c"))["test"]) == 12


# --- command line ------------------------------------------------------------------------------------


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_cli_stats_and_prepare(capsys, sample_dir, tmp_path, hf_cache):
    code, out, _ = run(capsys, "stats", "smner", "--data-dir", sample_dir, "--cache-dir", hf_cache, "--json")
    assert code == 0
    stats = json.loads(out)
    assert stats["train"]["masks"] == 40 and stats["validation"]["tweets"] == 12
    code, out, _ = run(
        capsys, "prepare", "gmner", "--data-dir", sample_dir, "--cache-dir", hf_cache, "--out", tmp_path / "exp"
    )
    assert code == 0 and "wrote" in out and (tmp_path / "exp" / "gmner" / "quirks.json").is_file()


def broken_copy(tmp_path, sample_dir, edit):
    data = tmp_path / "broken"
    shutil.copytree(sample_dir, data)
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "code", "needle"),
    [
        (lambda d: (d / "dev.txt").write_text("IMGID:1\nno tab here\n"), 1, "dev.txt:2: expected 'token<TAB>tag'"),
        (lambda d: (d / "test.txt").write_text("IMGID:1\nx\tB-FOO\n"), 1, "test.txt:2: unknown tag 'B-FOO'"),
        (lambda d: (d / "test.txt").write_text("\n"), 1, "test.txt: no tweet in this split file"),
        (lambda d: (d / "test.txt").unlink(), 2, "split 'test': no test.txt"),
        (lambda d: (d / "xml" / "s0001.xml").write_text("<annotation>"), 1, "s0001.xml:1: unreadable XML"),
        (lambda d: (d / "masks" / "s0001.json").write_text("{"), 1, "s0001.json:1: unreadable JSON"),
        (lambda d: shutil.rmtree(d / "masks"), 2, "mask folder not found"),
    ],
)
def test_cli_reports_bad_input_without_traceback(capsys, tmp_path, sample_dir, hf_cache, edit, code, needle):
    data = broken_copy(tmp_path, sample_dir, edit)
    out = tmp_path / "out"
    got, _, err = run(capsys, "prepare", "smner", "--data-dir", data, "--cache-dir", hf_cache, "--out", out)
    assert got == code and needle in err, err
    assert not out.exists()  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_cli_usage_errors(capsys, tmp_path, sample_dir, hf_cache):
    code, _, err = run(capsys, "stats", "gmner", "--data-dir", tmp_path / "nope")
    assert code == 2 and "data folder not found" in err and "nope" in err
    code, _, err = run(capsys, "stats", "gmner", "--data-dir", sample_dir, "--knowledge", tmp_path / "k.zip")
    assert code == 2 and "knowledge release not found" in err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code, _, err = run(
        capsys, "prepare", "gmner", "--data-dir", sample_dir, "--cache-dir", hf_cache, "--out", tmp_path / "taken"
    )
    assert code == 2 and "is not empty and was not made by smner-bench" in err
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    code, _, err = run(capsys, "sample", "--out", tmp_path / "taken")
    assert code == 2 and "is not empty and was not made by smner-bench" in err
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    with pytest.raises(SystemExit) as exit_:
        main(["stats", "gmner2"])
    assert exit_.value.code == 2


def test_cli_knowledge_of_another_dataset(capsys, tmp_path, sample_dir, hf_cache):
    other = tmp_path / "other"
    write_sample(other, seed=7)
    code, _, err = run(
        capsys,
        "stats",
        "gmner",
        "--data-dir",
        sample_dir,
        "--knowledge",
        other / "knowledge.zip",
        "--cache-dir",
        hf_cache,
    )
    assert code == 1 and "tweets align with this knowledge file" in err


def test_entry_point_runs(tmp_path):
    exe = shutil.which("smner-bench", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe, "the smner-bench command is not installed next to this python"
    done = subprocess.run(
        [exe, "stats", "gmner", "--data-dir", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "data folder not found" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "prepare" in done.stdout


def test_quirks_unmatched_names_and_missing_images(tmp_path, sample_dir, hf_cache):
    def edit(d):
        xml = d / "xml" / "s0001.xml"
        xml.write_text(
            xml.read_text().replace(
                "</annotation>",
                "<object><name>Nobody Here</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>"
                "<ymax>5</ymax></bndbox></object></annotation>",
            )
        )
        (d / "images" / "s0002.jpg").unlink()

    data = broken_copy(tmp_path, sample_dir, edit)
    ds = load("gmner", data, image_dir=data / "images", cache_dir=hf_cache)
    reports = quirk_report("gmner", data, image_dir=data / "images", cache_dir=hf_cache)
    assert reports["train"].counts() == {"xml-unmatched-name": 1, "missing-image": 1}
    assert "'Nobody Here'" in reports["train"].of_kind("xml-unmatched-name")[0].message
    rows = rows_by_id(ds["train"])
    assert rows["s0002"]["image"] is None and rows["s0002"]["width"] is not None  # size still from the XML
    assert all(b != [1, 1, 5, 5] for e in rows["s0001"]["entities"] for b in e["boxes"])
