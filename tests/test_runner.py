"""The end-to-end RiVEG runner with tiny random models on the synthetic sample: the chain, its stage cache,
resuming after a crash, shards merged equal to one run, and bad run files."""

from __future__ import annotations

import json
import shutil

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import runner  # noqa: E402
from smner_bench.baselines.run_config import load_run_config  # noqa: E402
from smner_bench.benchmark.gold import gold_from_rows  # noqa: E402
from smner_bench.benchmark.submission import read_submission  # noqa: E402
from smner_bench.cli import main  # noqa: E402
from smner_bench.loaders import load_split  # noqa: E402

FILES = (
    "captions.jsonl",
    "knowledge.jsonl",
    "mner.jsonl",
    "expressions.jsonl",
    "ve.jsonl",
    "gmner.jsonl",
    "smner.jsonl",
)


@pytest.fixture(scope="module")
def models(riveg_models):
    """The session's tiny trained models (conftest ``riveg_models``, also checked: its run file is valid)."""
    assert load_run_config(riveg_models / "run.yaml").sam.model_type == "tiny"
    return riveg_models


def write_config(folder, sample_dir, models, **changes):
    """The run file ``baseline tiny-models`` wrote, on ``sample_dir``, with ``changes`` (None drops a section);
    written to ``folder``, next to links to the models (its model paths are relative)."""
    import yaml

    cfg = yaml.safe_load((models / "run.yaml").read_text())
    cfg.update(data_dir=str(sample_dir), images=str(sample_dir / "images"), dataset="smner")
    for key, value in changes.items():
        if value is None:
            cfg.pop(key)
        else:
            cfg[key] = value
    for name in ("tiny", "plim", "ve", "vg"):
        if not (folder / name).exists():
            (folder / name).symlink_to(models / name)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def single(models, sample_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    path = write_config(folder, sample_dir, models)
    assert main(["run", "riveg", "--config", str(path)]) == 0
    return path


def test_chain_writes_valid_submissions_at_every_task(single, sample_dir, hf_cache, capsys):
    out = single.parent / "run"
    rows = load_split("smner", sample_dir, "test", cache_dir=hf_cache)
    gold = gold_from_rows(rows, dataset="smner", split="test", has_boxes=True, has_masks=True)
    assert read_submission(out / "mner.jsonl", gold).tasks() == ("mner",)
    assert read_submission(out / "gmner.jsonl", gold).tasks() == ("mner", "eeg", "gmner")
    smner = read_submission(out / "smner.jsonl", gold)
    assert smner.tasks() == ("mner", "eeg", "gmner", "ees", "smner")
    ve = [e for line in map(json.loads, (out / "ve.jsonl").read_text().splitlines()) for e in line["entities"]]
    boxed = [e for line in map(json.loads, (out / "gmner.jsonl").read_text().splitlines()) for e in line["entities"]]
    assert [e["box"] is not None for e in boxed] == [e["groundable"] for e in ve]  # VG grounds what VE passed
    assert all(" - " in e["expression"] and e["expression"].startswith(e["text"]) for e in ve)  # expansion used
    assert main(["score", str(out / "smner.jsonl"), "--dataset", "smner", "--split", "test", "--data-dir",
                 str(sample_dir)]) == 0  # fmt: skip
    assert "SMNER" in capsys.readouterr().out


def test_rerun_is_cached_and_a_changed_setting_reruns_from_its_stage(single, models, sample_dir, capsys):
    assert runner.run(load_run_config(single), progress=False) == dict.fromkeys(runner.SECTION, "cached")
    before = (single.parent / "run" / "mner.jsonl").read_text()
    path = write_config(single.parent, sample_dir, models, ve={"checkpoint": "ve", "threshold": 1.0})
    status = runner.run(load_run_config(path), progress=False)
    assert status == {"captions": "cached", "knowledge": "cached", "mner": "cached", "expansion": "cached",
                      "ve": "ran", "vg": "ran", "sam": "ran"}  # fmt: skip
    lines = [json.loads(x) for x in (single.parent / "run" / "gmner.jsonl").read_text().splitlines()]
    assert all(e["box"] is None for line in lines for e in line["entities"])  # nothing passes a threshold of 1
    assert (single.parent / "run" / "mner.jsonl").read_text() == before
    forced = runner.run(load_run_config(path), force=["mner"], progress=False)
    assert forced["mner"] == "ran" and forced["ve"] == "cached"  # same PLIM output: later stages stay cached
    write_config(single.parent, sample_dir, models)  # back to the module's settings


def test_a_crash_loses_only_the_running_stage(models, sample_dir, tmp_path, monkeypatch):
    path = write_config(tmp_path, sample_dir, models, expansion=None)  # no expansion: "Entity (TYPE)"
    cfg = load_run_config(path)

    def boom(ctx, inputs):
        raise KeyboardInterrupt

    stages = tuple(runner.Stage(s.name, s.output, s.inputs, s.models, boom if s.name == "vg" else s.run, s.optional)
                   for s in runner.STAGES)  # fmt: skip
    monkeypatch.setattr(runner, "STAGES", stages)
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg, progress=False)
    folder = runner.shard_folder(cfg, 1, 0)
    assert (folder / "ve.jsonl").is_file() and not (folder / "gmner.jsonl").exists()
    monkeypatch.undo()
    status = runner.run(cfg, progress=False)
    assert status == {
        "captions": "cached",
        "knowledge": "cached",
        "mner": "cached",
        "ve": "cached",
        "vg": "ran",
        "sam": "ran",
    }
    ve = [json.loads(x) for x in (tmp_path / "run" / "ve.jsonl").read_text().splitlines()]
    assert all(e["expression"] == f"{e['text']} ({e['type']})" for line in ve for e in line["entities"])


def test_two_shards_merged_equal_one_run(single, models, sample_dir, tmp_path, capsys):
    runner.run(load_run_config(single), progress=False)  # the one-shard run at the module's settings
    path = write_config(tmp_path, sample_dir, models)
    shard = ["run", "riveg", "--config", str(path), "--num-shards", "2"]
    assert main([*shard, "--shard-index", "0"]) == 0
    assert main([*shard, "--merge"]) == 2  # shard 1 has not run
    assert "shard 1 of 2 has not finished stage captions" in capsys.readouterr().err
    assert main([*shard, "--shard-index", "1"]) == 0
    assert main([*shard, "--merge"]) == 0
    first = [json.loads(x)["id"] for x in (tmp_path / "run/shard-0-of-2/mner.jsonl").read_text().splitlines()]
    second = [json.loads(x)["id"] for x in (tmp_path / "run/shard-1-of-2/mner.jsonl").read_text().splitlines()]
    assert len(first) == len(second) == 6 and not set(first) & set(second)
    for name in FILES:
        assert (tmp_path / "run" / name).read_text() == (single.parent / "run" / name).read_text(), name
    stale = write_config(tmp_path, sample_dir, models, ve={"checkpoint": "ve", "threshold": 0.1})
    assert main(["run", "riveg", "--config", str(stale), "--num-shards", "2", "--shard-index", "0"]) == 0
    assert main(["run", "riveg", "--config", str(stale), "--num-shards", "2", "--merge"]) == 2
    assert "shard 1 of 2 has not finished stage ve with the run file's settings" in capsys.readouterr().err
    (tmp_path / "run/shard-0-of-2/ve.json").write_text("{not json")  # a damaged record: the stage reruns
    assert runner.run(load_run_config(stale), num_shards=2, shard_index=0, progress=False)["ve"] == "ran"
    assert main([*shard, "--shard-index", "2"]) == 2
    assert "--shard-index 2 is not in 0..1" in capsys.readouterr().err


def test_shard_rows_cover_the_split_once():
    rows = list(range(11))
    parts = [runner.shard_rows(rows, 4, i) for i in range(4)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert runner.shard_rows(rows[:2], 4, 3) == []


def test_bad_run_files(tmp_path, sample_dir, models, capsys):
    path = write_config(tmp_path, sample_dir, models, extra_setting=1)
    assert main(["run", "riveg", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "run.yaml" in err and "extra_setting" in err and "Traceback" not in err
    path = write_config(tmp_path, sample_dir, models, sam={"checkpoint": "tiny/sam.pth", "model_type": "vit_x"})
    assert main(["run", "riveg", "--config", str(path)]) == 1
    assert "sam.model_type" in capsys.readouterr().err
    path.write_text("dataset: [unclosed\n")
    assert main(["run", "riveg", "--config", str(path)]) == 1
    assert "not YAML" in capsys.readouterr().err
    assert main(["run", "riveg", "--config", str(tmp_path / "none.yaml")]) == 2
    path = write_config(tmp_path, sample_dir, models, sam=None, vg={"checkpoint": "missing-model"})
    assert main(["run", "riveg", "--config", str(path)]) == 2
    assert "missing-model" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


def test_wrong_kind_of_model_folder(models, sample_dir, tmp_path, capsys):
    path = write_config(tmp_path, sample_dir, models, sam=None, vg={"checkpoint": "ve"})  # a BLIP folder
    assert main(["run", "riveg", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not a grounding model folder" in err and "Traceback" not in err


def test_real_gmner_shard_with_released_captions_and_knowledge(models, data_root, tmp_path, hf_cache):
    """Plumbing on real data: a shard of Twitter-GMNER v2.0 test, the released captions and gpt-3.5 knowledge
    replayed by tweet id, no images on this machine (so every entity is judged not in the image)."""
    from smner_bench.loaders import read_captions

    gmner = data_root / "twitter-gmner" / "v2.0"
    release = data_root / "llm-knowledge" / "twitter-gmner_gpt-3.5-turbo.zip"
    captions = sorted(str(p) for p in (data_root / "captions").iterdir())
    (tmp_path / "no-images").mkdir()
    path = write_config(
        tmp_path,
        gmner,
        models,
        dataset="gmner",
        images=str(tmp_path / "no-images"),
        captions={"captioner": "replay:" + ",".join(captions)},
        knowledge={"llm": f"replay:{release}"},
        expansion=None,
        sam=None,
    )
    assert main(["run", "riveg", "--config", str(path), "--num-shards", "150", "--shard-index", "7"]) == 0
    folder = tmp_path / "run" / "shard-7-of-150"
    rows = load_split("gmner", gmner, "test", knowledge=release, cache_dir=hf_cache)
    expected = [r for r in rows][70:80]
    lines = [json.loads(x) for x in (folder / "knowledge.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [r["id"] for r in expected]
    assert [x["knowledge"] for x in lines] == [r["knowledge"] for r in expected]  # the release, word for word
    caption, description = read_captions(captions)
    got = [json.loads(x)["caption"] for x in (folder / "captions.jsonl").read_text().splitlines()]
    assert got == [caption.get(r["id"]) or description.get(r["id"]) or "" for r in expected] and all(got)
    gold = gold_from_rows(rows.select(range(70, 80)), dataset="gmner", split="test", has_boxes=True, has_masks=False)
    sub = read_submission(folder / "gmner.jsonl", gold)
    assert sub.tasks() == ("mner", "eeg", "gmner") and all(p.box is None for p in sub.predictions)


def test_shards_follow_the_launcher_and_merge_equal_one_run(single, models, sample_dir, tmp_path, monkeypatch):
    """WORLD_SIZE/RANK (torchrun, accelerate) pick the shard and the merge's shard count when the options are
    not given; LOCAL_RANK leaves a cpu device alone."""
    path = write_config(tmp_path, sample_dir, models)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        assert main(["run", "riveg", "--config", str(path)]) == 0
        assert (tmp_path / f"run/shard-{rank}-of-2/smner.jsonl").is_file()
    assert main(["run", "riveg", "--config", str(path), "--merge"]) == 0
    for name in FILES:
        assert (tmp_path / "run" / name).read_text() == (single.parent / "run" / name).read_text(), name
    assert main(["run", "riveg", "--config", str(path), "--num-shards", "3"]) == 2  # differs from the launcher's


def test_runner_under_torchrun_with_two_cpu_ranks_merges_equal_one_run(single, models, sample_dir, tmp_path):
    """The real launcher: torchrun starts two processes of the command on this machine (loopback rendezvous);
    each runs its rank's shard; the merge equals the one-process run byte for byte."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = write_config(tmp_path, sample_dir, models)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    launched = subprocess.run(
        [str(bin_dir / "torchrun"), "--standalone", "--nproc-per-node", "2", "--no-python",
         str(bin_dir / "smner-bench"), "run", "riveg", "--config", str(path)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "shard 0 of 2 done" in launched.stdout and "shard 1 of 2 done" in launched.stdout
    assert main(["run", "riveg", "--config", str(path), "--num-shards", "2", "--merge"]) == 0
    for name in FILES:
        assert (tmp_path / "run" / name).read_text() == (single.parent / "run" / name).read_text(), name


# --- content keys: shards of other nodes merge; the digest cache ---------------------------------------------


def _counting_digests(monkeypatch) -> list:
    """Every file hashed from now on (the cache's misses), in order; the cache stores fresh files too."""
    from smner_bench.baselines import digests

    hashed: list[str] = []
    real = digests.file_digest

    def counting(path):
        hashed.append(str(path))
        return real(path)

    monkeypatch.setattr(digests, "file_digest", counting)
    monkeypatch.setattr(digests, "RACY_SECONDS", 0)  # the files of these tests are seconds old
    return hashed


def test_shards_made_from_copies_at_other_paths_and_times_merge_equal_one_run(
    single, models, sample_dir, tmp_path, capsys
):
    """Another node: the models, data and images copied to other paths, with other modification times, make
    shard 1; its folder copied next to shard 0 merges with the first run file, byte for byte one run. An image
    of the shard counts by content; images of other shards do not count."""
    import os

    from smner_bench.baselines.images import image_file

    runner.run(load_run_config(single), progress=False)  # the one-shard run at the module's settings
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    shutil.copytree(models, there / "models", ignore=shutil.ignore_patterns("run"))
    shutil.copytree(sample_dir, there / "sample")
    for root, _, names in os.walk(there):
        for name in names:
            os.utime(os.path.join(root, name), ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    first = write_config(here, sample_dir, models)
    second = write_config(there, there / "sample", there / "models")
    assert "there" in load_run_config(second).ve.checkpoint and "there" not in load_run_config(first).ve.checkpoint
    assert main(["run", "riveg", "--config", str(first), "--num-shards", "2", "--shard-index", "0"]) == 0
    assert main(["run", "riveg", "--config", str(second), "--num-shards", "2", "--shard-index", "1"]) == 0
    shutil.copytree(there / "run" / "shard-1-of-2", here / "run" / "shard-1-of-2")  # gathered from the node
    assert main(["run", "riveg", "--config", str(first), "--num-shards", "2", "--merge"]) == 0
    for name in FILES:
        assert (here / "run" / name).read_bytes() == (single.parent / "run" / name).read_bytes(), name

    cfg = load_run_config(second)
    rows = runner.split_rows(cfg)
    shard0, shard1 = runner.shard_rows(rows, 2, 0), runner.shard_rows(rows, 2, 1)
    mine, theirs = image_file(cfg.images, shard1[0]["image_id"]), image_file(cfg.images, shard0[0]["image_id"])
    other = sorted(p for p in mine.parent.iterdir() if p.is_file() and p.read_bytes() != mine.read_bytes())[0]
    theirs.write_bytes(theirs.read_bytes() + b"\0")  # another shard's image changed
    assert runner.run(cfg, num_shards=2, shard_index=1, progress=False) == dict.fromkeys(runner.SECTION, "cached")
    mine.write_bytes(other.read_bytes())  # one of this shard's images changed
    status = runner.run(cfg, num_shards=2, shard_index=1, progress=False)
    assert status["captions"] == status["ve"] == status["vg"] == "ran"
    shutil.rmtree(here / "run" / "shard-1-of-2")
    shutil.copytree(there / "run" / "shard-1-of-2", here / "run" / "shard-1-of-2")
    assert main(["run", "riveg", "--config", str(first), "--num-shards", "2", "--merge"]) == 2  # not the same images
    assert "shard 1 of 2 has not finished stage captions" in capsys.readouterr().err


def test_a_resumed_run_hashes_only_files_that_changed(models, sample_dir, tmp_path, monkeypatch):
    import os

    hashed = _counting_digests(monkeypatch)
    path = write_config(tmp_path, sample_dir, models)
    cfg = load_run_config(path)
    assert set(runner.run(cfg, progress=False).values()) == {"ran"}
    weights = max((models / "vg").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    assert str(weights.resolve()) in json.loads((tmp_path / "run" / ".digests.json").read_text())["files"]
    hashed.clear()
    assert runner.run(cfg, progress=False) == dict.fromkeys(runner.SECTION, "cached")
    assert hashed == []  # models, images, split files and stage files all came from the cache
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched, not changed
    assert runner.run(cfg, progress=False) == dict.fromkeys(runner.SECTION, "cached")
    assert hashed == [str(weights.resolve())]


def test_one_byte_of_a_model_changed_in_place_makes_its_stage_stale(models, sample_dir, tmp_path, monkeypatch):
    """Same size, modification time put back: the cache does not hide it (ctime, which no program sets, moved)."""
    import os

    from smner_bench.baselines.digests import file_digest

    _counting_digests(monkeypatch)
    shutil.copytree(models / "ve", tmp_path / "ve-copy")
    path = write_config(tmp_path, sample_dir, models, ve={"checkpoint": "ve-copy"})
    cfg = load_run_config(path)
    runner.run(cfg, progress=False)
    assert runner.run(cfg, progress=False)["ve"] == "cached"
    weights = max((tmp_path / "ve-copy").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    cache = tmp_path / "run" / ".digests.json"
    before = json.loads(cache.read_text())["files"][str(weights.resolve())]
    assert before["sha256"] == file_digest(weights)
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last byte of the weights: the file still loads
    with open(weights, "r+b") as f:  # in place: same inode
        f.write(data)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = weights.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    status = runner.run(cfg, progress=False)
    assert status["ve"] == "ran" and status["mner"] == "cached"
    assert json.loads(cache.read_text())["files"][str(weights.resolve())]["sha256"] == file_digest(weights)
    assert file_digest(weights) != before["sha256"]


def test_a_damaged_digest_cache_is_ignored_and_rewritten(models, sample_dir, tmp_path, monkeypatch, caplog):
    hashed = _counting_digests(monkeypatch)
    path = write_config(tmp_path, sample_dir, models)
    cfg = load_run_config(path)
    runner.run(cfg, progress=False)
    cache = tmp_path / "run" / ".digests.json"
    good = json.loads(cache.read_text())
    stale = {  # every entry off by one nanosecond of mtime, with a wrong digest: never used
        name: {"stat": [e["stat"][0], e["stat"][1] + 1, *e["stat"][2:]], "sha256": "0" * 64}
        for name, e in good["files"].items()
    }
    damaged = [
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"version": 99, "files": {}}',
        json.dumps({"version": 1, "files": {"x": {"stat": [1, 2], "sha256": "zz"}, "y": 3}}).encode(),
        json.dumps({"version": 1, "files": stale}).encode(),
    ]
    for text in damaged:
        cache.write_bytes(text)
        hashed.clear()
        assert runner.run(cfg, progress=False) == dict.fromkeys(runner.SECTION, "cached"), text
        assert hashed  # the files were hashed again
        assert json.loads(cache.read_text())["files"] == good["files"], text  # and the cache rewritten
    cache.unlink()
    cache.mkdir()  # not a file at all: the run goes on without a cache, with a warning
    assert runner.run(cfg, progress=False) == dict.fromkeys(runner.SECTION, "cached")
    assert "digest cache not saved" in caplog.text
    cache.rmdir()


def test_stage_keys_hold_contents_not_paths(tmp_path):
    """Every path field of the run file is replaced by the content it points to; a URL stays as written."""
    from smner_bench.baselines.digests import DigestCache, file_digest
    from smner_bench.baselines.run_config import PATH_FIELDS

    for section, names in PATH_FIELDS.items():
        if section is not None:
            assert set(names) <= set(runner.SECTION_PATHS[section]), section
    assert {"manual", "manual_captions", "manual_data"} <= set(runner.SECTION_PATHS["knowledge"])
    for where in ("a", "b"):
        (tmp_path / where / "llm").mkdir(parents=True)
        (tmp_path / where / "llm" / "config.json").write_text("{}")
        (tmp_path / where / "release").mkdir()
        (tmp_path / where / "release" / "train.txt").write_text("IMGID:1\nx\tO\n")
    settings = {
        "llm": f"transformers:{tmp_path / 'a' / 'llm'}",
        "encoder": None,
        "manual": [],
        "manual_captions": [],
        "manual_data": [f"gmner:{tmp_path / 'a' / 'release'}"],
        "top_n": 5,
    }
    digests = DigestCache()
    content = runner.content_settings("knowledge", settings, digests)
    digest = file_digest(tmp_path / "a" / "llm" / "config.json")
    assert content["llm"] == ["transformers", [[["config.json", digest]]]]
    assert content["manual_data"] == [["gmner", {"train.txt": file_digest(tmp_path / "a" / "release" / "train.txt")}]]
    assert str(tmp_path) not in json.dumps(content)
    moved = {**settings, "llm": f"transformers:{tmp_path / 'b' / 'llm'}",
             "manual_data": [f"gmner:{tmp_path / 'b' / 'release'}"]}  # fmt: skip
    assert runner.content_settings("knowledge", moved, digests) == content
    url = {**settings, "llm": "openai:qwen@http://127.0.0.1:8000/v1"}
    assert runner.content_settings("knowledge", url, digests)["llm"] == url["llm"]
    (tmp_path / "b" / "llm" / "config.json").write_text('{"a": 1}')
    assert runner.content_settings("knowledge", moved, digests) != content


def test_image_workers_give_the_same_files_and_are_not_in_the_keys(single, models, sample_dir, tmp_path):
    """``workers: 2`` decodes the VE/VG stages' images in DataLoader processes: the same files as in-process
    decoding, and a run resumed with another worker count is all cached (how images are read is not a setting
    of the result)."""
    path = write_config(tmp_path, sample_dir, models, workers=2)
    status = runner.run(load_run_config(path), progress=False)
    assert status["ve"] == status["vg"] == "ran"
    for name in FILES:
        assert (tmp_path / "run" / name).read_bytes() == (single.parent / "run" / name).read_bytes(), name
    again = write_config(tmp_path, sample_dir, models, workers=0)
    assert set(runner.run(load_run_config(again), progress=False).values()) == {"cached"}


# --- every field of a run file is checked before the first stage (issue 19) ---------------------------------


def _line(text: str, field: str) -> int:
    """The line of ``field`` (``key`` or ``section.key``) in a run file written by ``yaml.safe_dump``."""
    lines = text.splitlines()
    section, _, key = field.rpartition(".")
    start = next(i for i, x in enumerate(lines) if x.startswith(f"{section}:")) + 1 if section else 0
    indent = "  " if section else ""
    return next(i for i, x in enumerate(lines[start:], start) if x.startswith(f"{indent}{key}:")) + 1


RUN_FILE_VALUES = {  # change -> (field, what the message says)
    "nan threshold": ({"ve": {"checkpoint": "ve", "threshold": float("nan")}}, "ve.threshold", "finite"),
    "inf threshold": ({"ve": {"checkpoint": "ve", "threshold": float("inf")}}, "ve.threshold", "finite"),
    "threshold as a percent": ({"ve": {"checkpoint": "ve", "threshold": 50}}, "ve.threshold", "less than or equal"),
    "negative top_n": ({"knowledge": {"llm": "x", "top_n": -1}}, "knowledge.top_n", "greater than or equal"),
    "zero batch": ({"plim": {"checkpoint": "plim/best", "batch_size": 0}}, "plim.batch_size", "greater than"),
    "huge batch": ({"plim": {"checkpoint": "plim/best", "batch_size": 10**30}}, "plim.batch_size", "less than"),
    "true as a number": ({"workers": True}, "workers", "valid integer"),
    "fractional count": ({"captions": {"captioner": "x", "max_new_tokens": 8.5}}, "captions.max_new_tokens", "integer"),
    "unknown device": ({"device": "gpu"}, "device", "expected cpu, cuda, cuda:N or mps"),
    "device with a newline": ({"device": "cuda:0\n"}, "device", "expected cpu, cuda"),
    "unknown split": ({"split": "tset"}, "split", "unknown split 'tset'"),
    "unknown dataset": ({"dataset": "twitter2019"}, "dataset", "expected one of"),
}


@pytest.mark.parametrize("case", list(RUN_FILE_VALUES), ids=list(RUN_FILE_VALUES))
def test_a_bad_number_or_name_is_exit_1_naming_file_line_and_field(case, models, sample_dir, tmp_path, capsys):
    changes, field, message = RUN_FILE_VALUES[case]
    path = write_config(tmp_path, sample_dir, models, **changes)
    assert main(["run", "riveg", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{_line(path.read_text(), field)}: {field}: " in err and message in err, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_key_written_twice_in_a_run_file_is_refused_naming_its_line(models, sample_dir, tmp_path, capsys):
    path = write_config(tmp_path, sample_dir, models)
    text = path.read_text()
    path.write_text(text + "out: elsewhere\n")  # PyYAML alone keeps the last one: the run would go elsewhere
    assert main(["run", "riveg", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    first, second = _line(text, "out"), len(text.splitlines()) + 1
    assert f"{path}:{second}: duplicate key 'out' (first on line {first})" in err, err
    nested = text.replace("  checkpoint: ve\n", "  checkpoint: ve\n  checkpoint: vg\n")
    path.write_text(nested)
    assert main(["run", "riveg", "--config", str(path)]) == 1
    assert f"{path}:{_line(text, 've.checkpoint') + 1}: duplicate key 'checkpoint'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "elsewhere").exists()


def _cuda(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize(
    ("device", "gpus", "local_rank", "field", "message"),
    [
        ("cuda", 0, None, "device", "cuda: no GPU is visible to this process"),
        ("cuda:0", 0, None, "device", "cuda:0: no GPU is visible"),
        ("cuda:3", 1, None, "device", "cuda:3: this process sees 1 GPU (cuda:0 to cuda:0)"),
        ("cuda", 2, "3", "device", "cuda (here cuda:3, from LOCAL_RANK): this process sees 2 GPUs"),
        ("cpu:fp16", 0, None, "dtype", "fp16 on cpu: dtype fp16 needs a GPU"),
    ],
)
def test_a_device_this_machine_lacks_is_refused_before_the_first_stage(
    device, gpus, local_rank, field, message, models, sample_dir, tmp_path, capsys, monkeypatch
):
    _cuda(monkeypatch, gpus)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    device, _, dtype = device.partition(":fp")
    path = write_config(tmp_path, sample_dir, models, device=device, **({"dtype": f"fp{dtype}"} if dtype else {}))
    assert main(["run", "riveg", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{_line(path.read_text(), field)}: {field}: {message}" in err, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_device_this_machine_has_is_the_one_the_stages_use(models, sample_dir, tmp_path, monkeypatch):
    _cuda(monkeypatch, 4)
    cfg = load_run_config(write_config(tmp_path, sample_dir, models, device="cuda:3"))
    assert runner.check_device(cfg, {}) == "cuda:3"
    cfg = load_run_config(write_config(tmp_path, sample_dir, models, device="cuda"))
    assert runner.check_device(cfg, {"LOCAL_RANK": "1"}) == "cuda:1"


def test_an_output_folder_among_the_inputs_is_refused_before_anything_is_written(
    models, sample_dir, tmp_path, capsys
):
    """``out`` inside the data folder once wrote three stages there before failing; inside a model folder it
    would change the model's digest (so every key) at each run; the run file itself is an input too."""
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    cases = {
        "inside the data folder": str(data / "riveg"),
        "the data folder": str(data),
        "inside the images": str(data / "images" / "riveg"),
        "inside a model folder (through a link)": "vg/riveg",
        "the run file": "run.yaml",
        "a folder holding the run file": ".",
    }
    for case, out in cases.items():
        path = write_config(tmp_path, data, models, out=out)
        assert main(["run", "riveg", "--config", str(path)]) == 2, case
        err = capsys.readouterr().err
        assert f"{path}:{_line(path.read_text(), 'out')}: out: " in err and "refused" in err, (case, err)
        assert "input" in err or "not a folder" in err, (case, err)
    assert not (data / "riveg").exists() and not (data / "images" / "riveg").exists()
    assert not (models / "vg" / "riveg").exists()
    assert main(["run", "riveg", "--config", str(path), "--merge"]) == 2  # the merge checks it too
    assert "out: " in capsys.readouterr().err


def test_a_missing_or_empty_path_names_its_field(models, sample_dir, tmp_path, capsys):
    """An empty path was read as the run file's own folder (a model there, an output inside an input)."""
    for changes, field, message in (
        ({"vg": {"checkpoint": "missing-model"}}, "vg.checkpoint", "missing-model: file or folder not found"),
        ({"captions": {"captioner": "replay:captions.txt,missing.txt"}}, "captions.captioner", "missing.txt: file"),
        ({"data_dir": "no-data"}, "data_dir", "no-data: folder not found"),
        ({"images": "run.yaml"}, "images", "run.yaml: folder not found"),  # a file, not a folder
        ({"vg": {"checkpoint": ""}}, "vg.checkpoint", "an empty path (expected a file or folder)"),
        ({"captions": {"captioner": "replay:captions.txt,"}}, "captions.captioner", "an empty path"),
        ({"out": " "}, "out", "an empty path (expected the run folder)"),
    ):
        (tmp_path / "captions.txt").write_text("")
        path = write_config(tmp_path, sample_dir, models, **changes)
        assert main(["run", "riveg", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}:{_line(path.read_text(), field)}: {field}: " in err and message in err, err
    assert not (tmp_path / "run").exists()


def test_a_yaml_bomb_run_file_is_refused_at_once(tmp_path):
    """Nine aliases of nine aliases, nine levels deep (a "billion laughs"): refused in well under a second, the
    field lines of the message never expanded."""
    import time

    from smner_bench.benchmark.errors import DataFormatError

    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "run.yaml"
    path.write_text("\n".join(lines) + "\ndataset: smner\n")
    started = time.monotonic()
    with pytest.raises(DataFormatError, match=r"run\.yaml: data_dir: Field required"):
        load_run_config(path)
    assert time.monotonic() - started < 5


# --- a stage output edited by hand is never reused as the stage's work ---------------------------------------

FAKE_LINES = {  # what each stage writes in the fake runs: the fields the next stages read, no models run
    "captions": {"caption": "a photo", "description": "a photo"},
    "knowledge": {"knowledge": None},
}


def _fake_stages(monkeypatch) -> None:
    def fake(stage):
        return lambda ctx, inputs: [{"id": r["id"], **FAKE_LINES.get(stage, {"entities": []})} for r in ctx.rows]

    fakes = tuple(runner.Stage(s.name, s.output, s.inputs, s.models, fake(s.name), s.optional) for s in runner.STAGES)
    monkeypatch.setattr(runner, "STAGES", fakes)


def test_an_edited_stage_output_is_refused_naming_it_and_force_reruns_it(
    models, sample_dir, tmp_path, capsys, monkeypatch
):
    _fake_stages(monkeypatch)
    path = write_config(tmp_path, sample_dir, models, sam=None)
    cfg = load_run_config(path)
    assert set(runner.run(cfg, progress=False).values()) == {"ran"}
    assert set(runner.run(cfg, progress=False).values()) == {"cached"}
    folder = tmp_path / "run" / "shard-0-of-1"
    mner, ve = folder / "mner.jsonl", folder / "ve.jsonl"
    written, ve_before = mner.read_bytes(), ve.read_bytes()
    first = json.loads(written.splitlines()[0])
    entity = {"start": 0, "end": 1, "text": "x", "type": "PER"}  # a valid line: only the record tells the edit
    rest = written.splitlines(keepends=True)[1:]
    mner.write_bytes(json.dumps({**first, "entities": [entity]}).encode() + b"\n" + b"".join(rest))
    assert main(["run", "riveg", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{mner}: changed since the mner stage wrote it" in err and "--force mner" in err, err
    assert ve.read_bytes() == ve_before and "Traceback" not in err  # nothing ran on the edited file
    shard = ["run", "riveg", "--config", str(path), "--num-shards", "1"]
    assert main([*shard, "--merge"]) == 1  # a merge refuses it too
    assert f"{mner}: changed since the mner stage wrote it" in capsys.readouterr().err
    status = runner.run(cfg, force=["mner"], progress=False)
    assert status["mner"] == "ran" and status["captions"] == status["ve"] == "cached"
    assert mner.read_bytes() == written
    record = json.loads((folder / "ve.json").read_text())
    assert record["sha256"] == runner.DigestCache().file(ve)
    del record["sha256"]  # a record of an older run: its stage runs again
    (folder / "ve.json").write_text(json.dumps(record))
    assert runner.run(cfg, progress=False) == {"captions": "cached", "knowledge": "cached", "mner": "cached",
                                               "expansion": "cached", "ve": "ran", "vg": "cached"}  # fmt: skip
