"""The builder's shape: one definition of the source options, files resolved per split, the cache keyed by
datasets' public ``hash`` argument (the modules the builder runs + the raw files), a light command line."""

from __future__ import annotations

import argparse
import errno
import json
import os
from pathlib import Path

import pytest

from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.safe_output import OutputError
from smner_bench.loaders import load
from smner_bench.loaders.assemble import SplitFiles
from smner_bench.loaders.builder import SmnerBench
from smner_bench.loaders.configs import Sources, add_source_options, source_paths
from smner_bench.loaders.stamps import builder_modules, cache_key, code_hash

TWEETS = {
    "train.txt": "IMGID:1\nKevin\tB-PER\nDurant\tI-PER\nrocks\tO\n\nIMGID:2\nin\tO\nParis\tI-LOC\n\n",
    "valid.txt": "IMGID:3\nNew\tB-LOC\nYork\tI-LOC\n\n",
    "test.txt": "IMGID:4\nhello\tO\n\n",
}


def release(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in TWEETS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_cache_key_hashes_only_the_modules_the_builder_runs():
    modules = builder_modules()
    for name in ("builder", "assemble", "configs", "conll", "voc", "labelme", "knowledge", "captions", "features"):
        assert f"smner_bench.loaders.{name}" in modules
    assert "smner_bench.benchmark.errors" in modules
    for name in ("smner_bench.loaders.sample", "smner_bench.loaders.cli", "smner_bench.loaders.export"):
        assert name not in modules, name  # edited, they leave every prepared cache valid
    assert not [m for m in modules if m.startswith(("smner_bench.baselines", "smner_bench.leaderboard"))]
    assert all(path.is_file() and path.suffix == ".py" for path in modules.values())
    assert len(code_hash()) == 16


def test_cache_key_follows_the_raw_files(tmp_path):
    data = release(tmp_path / "twitter2015")
    key = cache_key(Sources.of("twitter2015", data))
    assert key == cache_key(Sources.of("twitter2015", data)) and key.startswith(code_hash() + "-")
    (data / "test.txt").write_text("IMGID:4\nhello\tO\nworld\tO\n\n", encoding="utf-8")
    assert cache_key(Sources.of("twitter2015", data)) != key


def test_builder_passes_its_key_as_the_public_hash(tmp_path):
    data = release(tmp_path / "twitter2015")
    b = SmnerBench(config_name="twitter2015", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    assert b.hash == cache_key(b.sources) and Path(b.cache_dir).name == b.hash
    assert b.sources == Sources.of("twitter2015", data)
    given = SmnerBench(sources=Sources.of("twitter2015", data), hash="mine", cache_dir=str(tmp_path / "cache"))
    assert Path(given.cache_dir).name == "mine"
    with pytest.raises(UsageError, match="sources= alone"):
        SmnerBench(config_name="gmner", sources=Sources.of("twitter2015", data))
    with pytest.raises(UsageError, match="needs data_dir"):
        SmnerBench(config_name="twitter2015")


def test_split_generators_resolve_every_file_first(tmp_path):
    data = release(tmp_path / "twitter2015")
    b = SmnerBench(config_name="twitter2015", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    generators = b._split_generators(None)
    files = {g.name: g.gen_kwargs["files"] for g in generators}
    assert list(files) == ["train", "validation", "test"]
    assert files["validation"] == SplitFiles(split="validation", conll=data / "valid.txt")
    (data / "xml").mkdir()
    gmner = SmnerBench(config_name="gmner", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    assert {g.gen_kwargs["files"].xml_dir for g in gmner._split_generators(None)} == {data / "xml"}
    (data / "xml").rmdir()
    with pytest.raises(MissingDataError, match="needs the VOC boxes"):
        load("gmner", data, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("**/*.arrow"))  # refused before anything was written


def test_cache_is_reused_until_a_raw_file_changes(tmp_path):
    data = release(tmp_path / "twitter2015")
    cache = tmp_path / "cache"
    ds = load("twitter2015", data, cache_dir=cache)
    assert ds["dev"]["tokens"] == [["New", "York"]]
    b = SmnerBench(config_name="twitter2015", data_dir=str(data), cache_dir=str(cache))
    report = b.quirk_report("train")
    assert report.counts() == {"bio-repair": 1}  # "in O, Paris I-LOC" starts a new entity
    stored = Path(b.cache_dir, "smner-quirks-train.json")
    assert stored.is_file()
    stored.unlink()  # a build stopped between the cache and its reports: read again from the raw files
    assert b.quirk_report("train").counts() == {"bio-repair": 1} and stored.is_file()

    def caches() -> list[str]:  # <cache>/builder/<config id>/<version>/<hash>
        return sorted(p.name for p in Path(b.cache_dir).parent.iterdir() if p.is_dir())

    assert caches() == [b.hash]
    assert load("twitter2015", data, cache_dir=cache)["test"]["id"] == ["4"]
    assert caches() == [b.hash]  # reused
    (data / "test.txt").write_text("IMGID:5\nhello\tO\n\n", encoding="utf-8")
    assert load("twitter2015", data, cache_dir=cache)["test"]["id"] == ["5"]
    assert len(caches()) == 2 and b.hash in caches()


def test_one_definition_of_the_source_options(tmp_path):
    data = release(tmp_path / "twitter2015")
    (tmp_path / "images").mkdir()
    captions = tmp_path / "c.txt"
    captions.write_text("1.jpg :a cat\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_source_options(parser)
    args = parser.parse_args(
        ["twitter2015", "--data-dir", str(data), "--image-dir", str(tmp_path / "images"), "--captions", str(captions)]
    )
    sources = Sources.from_args(args)
    assert sources == Sources.of("twitter2015", data, image_dir=tmp_path / "images", captions=captions)
    assert sources.captions == (captions,) and sources.optional_fields == ("caption", "description")
    assert source_paths(args) == [str(data), str(tmp_path / "images"), None, str(captions), None, None]
    narrow = argparse.ArgumentParser()
    add_source_options(narrow, ["data_dir", "captions"], required=["data_dir", "captions"], help={"captions": "x"})
    with pytest.raises(SystemExit):
        narrow.parse_args(["--data-dir", str(data)])
    assert narrow.parse_args(["--data-dir", "d", "--captions", "a", "b"]).captions == ["a", "b"]
    with pytest.raises(MissingDataError, match="image folder not found"):
        Sources.of("twitter2015", data, image_dir=tmp_path / "nowhere")


def test_an_edit_with_its_modification_time_set_back_rebuilds_the_cache(tmp_path):
    data = release(tmp_path / "twitter2015")
    cache = tmp_path / "cache"
    assert load("twitter2015", data, cache_dir=cache)["test"]["tokens"] == [["hello"]]
    test = data / "test.txt"
    before = test.stat()
    test.write_text(TWEETS["test.txt"].replace("hello", "hallo"), encoding="utf-8")  # same size
    os.utime(test, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same modification time
    assert test.stat().st_size == before.st_size and test.stat().st_mtime_ns == before.st_mtime_ns
    assert load("twitter2015", data, cache_dir=cache)["test"]["tokens"] == [["hallo"]]  # keyed on the content


def test_a_damaged_cache_is_built_again(tmp_path):
    data = release(tmp_path / "twitter2015")
    cache = tmp_path / "cache"
    expected = load("twitter2015", data, cache_dir=cache)["train"]["tokens"]
    b = SmnerBench(config_name="twitter2015", data_dir=str(data), cache_dir=str(cache))
    folder = Path(b.cache_dir)
    (arrow,) = folder.glob("*-train.arrow")
    good = arrow.read_bytes()
    info = folder / "dataset_info.json"
    damages = [
        lambda: arrow.write_bytes(good[:-40]),  # cut short
        lambda: arrow.write_bytes(b""),
        lambda: arrow.write_bytes(b"\0" * len(good)),
        lambda: arrow.unlink(),
        lambda: info.write_text("{not json", encoding="utf-8"),
        lambda: info.write_text("[1, 2]", encoding="utf-8"),
    ]
    for damage in damages:
        damage()
        assert load("twitter2015", data, cache_dir=cache)["train"]["tokens"] == expected
    report = folder / "smner-quirks-train.json"
    for text in ("{", '{"quirks": 3}', "[]"):
        report.write_text(text, encoding="utf-8")
        assert b.quirk_report("train").counts() == {"bio-repair": 1}  # read again from the raw files, rewritten
        assert json.loads(report.read_text(encoding="utf-8"))["quirks"]
    report.unlink()
    os.mkfifo(report)  # never opened (reading it would block): refused, named
    with pytest.raises(OutputError, match="not a regular file"):
        b.quirk_report("train")


def test_a_bad_cache_folder_is_exit_2_naming_it(capsys, tmp_path, monkeypatch):
    import datasets

    from smner_bench.cli import main

    data = release(tmp_path / "twitter2015")
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access  # root writes everywhere: "not writable" is what os.access says
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != locked and real_access(p, mode, **kw))
    cases = {
        a_file: "is not a folder",
        a_file / "sub": f"cannot be made: {a_file} is not a folder",
        locked: "is not writable",
        locked / "sub": f"cannot be made: {locked} is not writable",
    }
    for cache, why in cases.items():
        code = main(["stats", "twitter2015", "--data-dir", str(data), "--cache-dir", str(cache)])
        err = capsys.readouterr().err
        assert code == 2 and f"{cache}: the datasets cache folder {why}" in err, (cache, err)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", a_file / "hf")  # datasets' own folder, the same
    with pytest.raises(OutputError, match="the datasets cache folder cannot be made"):
        load("twitter2015", data)


def test_a_full_disk_while_the_cache_is_built_is_exit_2(capsys, tmp_path, monkeypatch):
    import datasets

    from smner_bench.cli import main

    data = release(tmp_path / "twitter2015")
    cache = tmp_path / "cache"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(datasets.arrow_writer.ArrowWriter, "finalize", full)
        code = main(["stats", "twitter2015", "--data-dir", str(data), "--cache-dir", str(cache)])
        err = capsys.readouterr().err
        assert code == 2 and f"{cache}/" in err and "building the datasets cache failed: No space left on device" in err
        patch.setattr(datasets.builder, "has_sufficient_disk_space", lambda *a, **k: False)  # datasets' own check
        code = main(["stats", "twitter2015", "--data-dir", str(data), "--cache-dir", str(cache)])
        assert code == 2 and "Not enough disk space" in capsys.readouterr().err
    assert not list(cache.glob("**/*.arrow"))  # nothing half-built left
    assert load("twitter2015", data, cache_dir=cache)["test"]["id"] == ["4"]


def test_a_file_name_that_is_not_utf8_in_the_data_folder_is_keyed_not_fatal(tmp_path, sample_dir, capsys):
    """The cache key hashes every file name under the release folder: a name whose bytes are not UTF-8 (an image
    copied from another system) is hashed as its bytes (it gave exit 3 on .encode())."""
    import shutil

    from smner_bench.cli import main

    data = tmp_path / "sample"
    shutil.copytree(sample_dir, data)
    odd = os.path.join(os.fsencode(data / "images"), b"\xff.jpg")
    with open(odd, "wb") as f:
        f.write(b"not an image of the split")
    argv = ["stats", "smner", "--data-dir", str(data), "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["test"]["tweets"] == 12


def test_stats_give_both_entity_counts_and_say_why(tmp_path, capsys):
    """``stats`` counted entities under conlleval rules only (an I-X after O starts one), so Twitter-2015 read
    6,352 where the UMT table says 6,176: it now also gives the count without the entities started at an I-X after
    O or at a tweet's start (an I-X after another type starts one under both), and its table says which is which."""
    from smner_bench.cli import main
    from smner_bench.loaders.stats import i_after_o

    data = release(tmp_path / "data")
    (data / "train.txt").write_text(
        "IMGID:1\nKevin\tB-PER\nDurant\tI-PER\nin\tO\nParis\tI-LOC\nFrance\tI-LOC\n\n"  # 2 entities, 1 after O
        "IMGID:2\nUN\tI-ORG\nNew\tI-LOC\nYork\tI-LOC\n\n",  # a tweet's start (left out), a type change (kept)
        encoding="utf-8",
    )
    argv = ["stats", "twitter2015", "--data-dir", str(data), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["train"]["entities"], stats["train"]["w/o I-after-O"]) == (4, 2)
    assert (stats["validation"]["entities"], stats["validation"]["w/o I-after-O"]) == (1, 1)
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "w/o I-after-O" in table and "entities: conlleval rules (an I-X after O starts an entity" in table
    assert i_after_o([]) == 0 and i_after_o([["I-PER"], ["O", "I-PER", "I-LOC"], ["B-PER", "I-LOC"]]) == 2
    import datasets

    from smner_bench.loaders.stats import dataset_stats

    entity = {"type": "PER", "groundable": False, "boxes": [], "masks": []}
    names = datasets.Dataset.from_dict({"ner_tags": [["O", "I-PER"]], "entities": [[entity]]})  # tags as strings
    assert dataset_stats({"test": names})["test"]["w/o I-after-O"] == 0
