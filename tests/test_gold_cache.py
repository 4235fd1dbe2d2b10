"""The light gold cache (benchmark/gold_cache.py, named by loaders/stamps.py): the same score with and without it,
a damaged or stale file ignored and rewritten, a cached read that imports no ``datasets``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import gold_as_submission, write_submission
from smner_bench.cli import main
from smner_bench.loaders import load_gold, load_split
from smner_bench.loaders.sample_predictions import sample_predictions
from smner_bench.loaders.stamps import gold_cache


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """A private gold cache folder (the Arrow cache stays where ``datasets`` was told at import)."""
    root = tmp_path / "hf"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(root))
    return root


def score_json(capsys, out, sub, dataset, split, data_dir) -> bytes:
    argv = ["score", sub, "--dataset", dataset, "--split", split, "--data-dir", data_dir, "--json", out]
    code = main([str(a) for a in argv])
    capsys.readouterr()
    assert code == 0
    return out.read_bytes()


def test_the_sample_scores_the_same_with_and_without_the_cache(capsys, tmp_path, cache_root, sample_dir):
    sub = tmp_path / "predictions.jsonl"
    write_submission(sub, sample_predictions(sample_dir)[0])
    path = gold_cache("smner", sample_dir, "test")[0]
    assert cache_root in path.parents and not path.exists()
    without = score_json(capsys, tmp_path / "a.json", sub, "smner", "test", sample_dir)  # builder; writes the cache
    assert path.is_file()
    written = path.stat().st_mtime_ns
    cached = score_json(capsys, tmp_path / "b.json", sub, "smner", "test", sample_dir)
    assert path.stat().st_mtime_ns == written  # read, not rewritten
    assert cached == without and json.loads(cached)["results"]["smner"]["tp"] == 20
    # the file holds the gold's checksum records, masks included
    gold = load_gold("smner", "test", data_dir=sample_dir)
    head, body = path.read_bytes().split(b"\n", 1)
    assert hashlib.sha256(body).hexdigest() == json.loads(head)["sha256"] == gold.checksum()
    assert any(e.masks for e in gold.entities)
    assert (gold.dataset, gold.split, gold.name) == ("smner", "test", "smner/test")


def test_a_real_gmner_split_scores_the_same_with_and_without_the_cache(capsys, tmp_path, data_root):
    data = data_root / "twitter-gmner" / "v2.0"
    gold = load_gold("gmner", "dev", data_dir=data)
    assert (gold.dataset, gold.split, gold.name) == ("gmner", "validation", "gmner/validation")
    sub = tmp_path / "dev.jsonl"
    lines = gold_as_submission(gold, box=True)
    for line in lines[::2]:
        line["entities"] = []  # half the tweets predicted empty: not a perfect score
    write_submission(sub, lines)
    path = gold_cache("gmner", data, "validation")[0]
    path.unlink(missing_ok=True)
    without = score_json(capsys, tmp_path / "a.json", sub, "gmner", "dev", data)
    assert path.is_file()
    cached = score_json(capsys, tmp_path / "b.json", sub, "gmner", "dev", data)
    assert cached == without
    assert 0 < json.loads(cached)["results"]["gmner"]["recall"] < 1
    fresh = gold_from_rows(load_split("gmner", data, "validation"), dataset="gmner", split="validation",
                           has_boxes=True, has_masks=False)  # fmt: skip
    assert load_gold("gmner", "validation", data_dir=data).checksum() == fresh.checksum()


def test_a_damaged_or_foreign_cache_is_ignored_and_rewritten(tmp_path, cache_root, sample_dir):
    expected = load_gold("smner", "test", data_dir=sample_dir).checksum()
    path = gold_cache("smner", sample_dir, "test")[0]
    good = path.read_bytes()
    head, body = good.split(b"\n", 1)
    other_key = json.dumps({**json.loads(head), "key": "another"}).encode()
    first, rest = body.split(b"\n", 1)
    edited = first.replace(b'"', b"'", 1)  # not JSON any more
    damaged = [
        b"",
        b"garbage\n",
        good[: len(good) // 2],  # cut short
        good[:-1],  # the last newline lost
        head + b"\n" + edited + b"\n" + rest,  # a changed byte (the SHA-256 no longer matches)
        head + b"\n" + rest,  # a tweet lost
        other_key + b"\n" + body,  # written for other raw files
        b"[1, 2]\n" + body,
    ]
    for data in damaged:
        path.write_bytes(data)
        assert load_gold("smner", "test", data_dir=sample_dir).checksum() == expected
        assert path.read_bytes() == good, data[:40]


def test_an_edited_raw_file_is_read_again(tmp_path, cache_root, sample_dir):
    data = tmp_path / "sample"
    shutil.copytree(sample_dir, data)
    before = load_gold("smner", "test", data_dir=data)
    old = gold_cache("smner", data, "test")[0]
    text = (data / "test.txt").read_text(encoding="utf-8")
    (data / "test.txt").write_text(text.replace("Great\tO", "Grand\tO", 1), encoding="utf-8")
    new = gold_cache("smner", data, "test")[0]
    assert new != old and old.is_file() and not new.exists()  # another key: the old file is never read
    after = load_gold("smner", "test", data_dir=data)
    assert after.checksum() != before.checksum() and new.is_file()
    assert "Grand" in [t for tw in after.tweets for t in tw.tokens]
    fresh = gold_from_rows(load_split("smner", data, "test"), dataset="smner", split="test", has_boxes=True,
                           has_masks=True)  # fmt: skip
    assert after.checksum() == fresh.checksum()


def test_a_cached_read_imports_no_datasets(tmp_path, sample_dir):
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf")}
    code = (
        "import sys; from smner_bench.loaders import load_gold; "
        "g = load_gold('smner', 'test', data_dir=sys.argv[1]); print(g.checksum(), 'datasets' in sys.modules)"
    )
    run = [sys.executable, "-c", code, str(sample_dir)]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout.split()
    second = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert first[1] == "True" and second == [first[0], "False"]


def test_gold_from_rows_takes_dataset_and_split():
    rows = [{"id": "1", "tokens": ["Ann"], "entities": [{"start": 0, "end": 1, "text": "Ann", "type": "PER"}]}]
    gold = gold_from_rows(rows, dataset="demo", split="test", has_boxes=False, has_masks=False)
    assert (gold.dataset, gold.split, gold.name) == ("demo", "test", "demo/test")
    with pytest.raises(TypeError):  # the older name="dataset/split" is gone: one way of naming a split's gold
        gold_from_rows(rows, name="demo/test", has_boxes=False, has_masks=False)


def test_a_scoring_command_imports_no_other_part(tmp_path):
    """The command table imports only the chosen command's module: scoring runs without the baselines, the
    leaderboard or ``datasets`` (the gold of an export is read with pyarrow)."""
    from smner_bench import cli

    assert [cli._command(a) for a in (["-v", "score", "x"], ["--version"], ["compare", "-v"])] == [
        "score",
        None,
        "compare",
    ]
    code = (
        "import sys; from smner_bench.cli import main; "
        "code = main(['score', sys.argv[1], '--dataset', 'gmner', '--split', 'test', '--gold', sys.argv[1]]); "
        "print(code, sorted(m for m in ('smner_bench.baselines', 'smner_bench.leaderboard', 'datasets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "missing")], capture_output=True, text=True)
    assert out.stdout.split() == ["2", "[]"], out.stderr


def test_an_edit_with_its_modification_time_set_back_is_read_again(tmp_path, cache_root, sample_dir):
    data = tmp_path / "sample"
    shutil.copytree(sample_dir, data)
    before = load_gold("smner", "test", data_dir=data)  # writes the light cache
    assert gold_cache("smner", data, "test")[0].is_file()
    test = data / "test.txt"
    st = test.stat()
    text = test.read_text(encoding="utf-8")
    test.write_text(text.replace("Great\tO", "Grand\tO", 1), encoding="utf-8")  # same size
    os.utime(test, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the modification time set back
    assert (test.stat().st_size, test.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    after = load_gold("smner", "test", data_dir=data)  # neither the light cache nor the Arrow cache is trusted
    assert after.checksum() != before.checksum() and "Grand" in [t for tw in after.tweets for t in tw.tokens]
    assert load_gold("smner", "test", data_dir=data).checksum() == after.checksum()  # the new cache, read back


def test_a_fifo_in_place_of_the_cache_is_never_opened(tmp_path, cache_root, sample_dir):
    import threading

    path = gold_cache("gmner", sample_dir, "test")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)  # opening it to read would block until a writer comes: for ever
    found = []
    reader = threading.Thread(target=lambda: found.append(load_gold("gmner", "test", data_dir=sample_dir)), daemon=True)
    reader.start()
    reader.join(60)
    assert found and found[0].tweets, "the scorer blocked on a FIFO in the gold cache folder"


def test_the_key_memoises_digests_and_still_sees_an_edit_with_its_time_set_back(tmp_path, cache_root, monkeypatch):
    """A raw file is hashed once while its device, inode, size, modification and change times stay; an edit of the
    same size with the modification time set back changes the change time, so the file is hashed again."""
    import time

    from smner_bench.benchmark.io import sha256_file
    from smner_bench.loaders import stamps
    from smner_bench.loaders.configs import Sources

    data = tmp_path / "twitter2015"
    data.mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (data / name).write_text(f"IMGID:{name[:2]}\nKevin\tB-PER\n\n", encoding="utf-8")
    hashed = []
    monkeypatch.setattr(stamps, "sha256_file", lambda path: hashed.append(path) or sha256_file(path))
    sources = Sources.of("twitter2015", data)
    plain = stamps.file_stamp(sources.read_paths())  # without a memo
    assert len(hashed) == 3
    hashed.clear()
    key = stamps.cache_key(sources)
    assert key.endswith(plain) and len(hashed) == 3  # just written: too fresh to be memoised
    hashed.clear()
    monkeypatch.setattr(stamps, "SETTLED_NS", 0)  # (instead of waiting 3 s)
    assert stamps.cache_key(sources) == key and len(hashed) == 3
    hashed.clear()
    assert stamps.cache_key(sources) == key and hashed == []  # memoised: a stat per file, no read
    test = data / "test.txt"
    st = test.stat()
    time.sleep(0.05)  # past the file system's time stamp granularity
    test.write_text("IMGID:tx\nKevin\tB-LOC\n\n", encoding="utf-8")  # same size
    os.utime(test, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the modification time set back
    assert (test.stat().st_size, test.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert test.stat().st_ctime_ns != st.st_ctime_ns
    edited = stamps.cache_key(sources)
    assert edited != key and hashed == [str(test)]
    assert edited.endswith(stamps.file_stamp(sources.read_paths()))  # the same key as without the memo
    memo = stamps.memo_path("files", sources.read_paths())
    for damaged in (b"", b"{", b'{"format": "other"}', memo.read_bytes().replace(b'"entries":{', b'"entries":{"x":1,')):
        memo.write_bytes(damaged)
        assert stamps.cache_key(sources) == edited  # a damaged memo is ignored (and written again)
    memo.unlink()
    os.mkfifo(memo)  # never opened: it would block
    assert stamps.cache_key(sources) == edited


def test_the_builder_modules_are_parsed_once_per_source(cache_root, monkeypatch):
    from smner_bench.loaders import stamps

    digest = stamps.code_hash()
    parsed = []
    real = stamps.parse_imports
    monkeypatch.setattr(stamps, "parse_imports", lambda source: parsed.append(source) or real(source))
    code_hash = stamps.code_hash.__wrapped__  # past the process's functools.cache
    assert code_hash() == digest and len(parsed) == len(stamps.builder_modules())  # no memo in this cache folder
    parsed.clear()
    assert code_hash() == digest and parsed == []
    memo = stamps.memo_path("imports")
    entries = json.loads(memo.read_bytes())["entries"]
    first = sorted(entries)[0]
    entries[first] = [["not", "an", "import"]]
    memo.write_text(json.dumps({**json.loads(memo.read_bytes()), "entries": entries}), encoding="utf-8")
    assert code_hash() == digest and len(parsed) == 1  # a damaged entry: that module parsed again
