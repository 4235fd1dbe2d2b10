"""Scored entries imported from a public release (the RiVEG authors' released predictions): the board keeps no
copy of the release, records its path and SHA-256, and ``verify`` imports it again from ``--release-root``."""

from __future__ import annotations

import json
from functools import partial

import pytest
from pydantic import ValidationError

from smner_bench.cli import main
from smner_bench.leaderboard.entry import Release
from smner_bench.leaderboard.store import read_entries, submission_copy
from smner_bench.loaders import load_gold

from .test_leaderboard import PUBLISHED


@pytest.fixture
def setup(tmp_path, sample_dir):
    """A data folder with a RiVEG-format release of the sample's test split (every gold entity of the first
    tweets, one of them mistyped), its import, a meta file and an entries folder."""
    gold = load_gold("smner", "test", data_dir=sample_dir)
    data = tmp_path / "data"
    (data / "riveg-release").mkdir(parents=True)
    rows = []
    for t in gold.tweets[:6]:
        for k, e in enumerate(t.entities):
            kind = "LOC" if (t.index, k) == (0, 0) and e.type != "LOC" else e.type
            rows.append(f"Imageid:{t.id}.jpg#{t.index:02x}{k:02x}###{e.text}({kind})###{e.text} ({kind})###2")
    assert len(rows) >= 4
    release = data / "riveg-release" / "preds.txt"
    release.write_text("\n".join(rows) + "\n", encoding="utf-8")
    imported = tmp_path / "preds.jsonl"
    gold_args = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]
    assert main(["import", "riveg", "--lines", str(release), *gold_args, "-o", str(imported)]) == 0
    meta = tmp_path / "meta.yaml"
    meta.write_text("system: Released system\ntask: mner\nmatch: text\n", encoding="utf-8")
    root = tmp_path / "entries"
    (root / "published").mkdir(parents=True)
    (root / "published" / "paper.yaml").write_text(json.dumps(PUBLISHED), encoding="utf-8")
    args = [*gold_args, "--entries", str(root)]
    submit = ["leaderboard", "submit", str(imported), "--meta", str(meta), *args, "--release", str(release)]
    return {"data": data, "release": release, "imported": imported, "root": root, "args": args, "submit": submit}


def test_an_entry_imported_from_a_release_keeps_no_copy_and_verifies_from_the_release(setup, capsys):
    s = setup
    assert main([*s["submit"], "--release-root", str(s["data"])]) == 0
    (entry_file,) = (s["root"] / "scored").glob("*.json")
    assert not submission_copy(entry_file).exists() and list((s["root"] / "scored").iterdir()) == [entry_file]
    entry = read_entries(s["root"]).stored[-1].entry
    assert entry.provenance.release == Release(
        file="riveg-release/preds.txt", sha256=entry.provenance.release.sha256, importer="riveg"
    )
    assert entry.main.pred >= 4 and entry.main.tp == entry.main.pred - 1  # the mistyped entity
    assert "--release preds.txt --release-root data" in entry.provenance.command
    capsys.readouterr()
    assert main(["leaderboard", "verify", *s["args"], "--release-root", str(s["data"])]) == 0
    assert "1 scored entries on smner/test verify" in capsys.readouterr().out
    # without the data folder, with another release file, or with the release gone: named problems, exit 1
    assert main(["leaderboard", "verify", *s["args"]]) == 1
    assert "give the data folder that holds it (--release-root" in capsys.readouterr().err
    original = s["release"].read_bytes()
    s["release"].write_bytes(original.replace(b"###2\n", b"###0\n", 1))
    assert main(["leaderboard", "verify", *s["args"], "--release-root", str(s["data"])]) == 1
    assert "not the release the entry was scored from (SHA-256 differs" in capsys.readouterr().err
    s["release"].unlink()
    assert main(["leaderboard", "verify", *s["args"], "--release-root", str(s["data"])]) == 1
    assert "release file riveg-release/preds.txt not found" in capsys.readouterr().err


def test_a_stray_copy_next_to_a_release_entry_makes_it_a_bad_entry(setup, capsys):
    s = setup
    assert main([*s["submit"], "--release-root", str(s["data"])]) == 0
    (entry_file,) = (s["root"] / "scored").glob("*.json")
    submission_copy(entry_file).write_bytes(b"not the release")
    (bad,) = read_entries(s["root"]).bad
    assert "keeps no copy (the release is the copy)" in bad.reason


def test_submit_refuses_predictions_that_are_not_the_release_import(setup, capsys):
    s = setup
    lines = s["imported"].read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["entities"] = first["entities"][1:]
    s["imported"].write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    assert main([*s["submit"], "--release-root", str(s["data"])]) == 2
    assert "not the import of the release riveg-release/preds.txt" in capsys.readouterr().err
    assert not (s["root"] / "scored").exists() or not list((s["root"] / "scored").iterdir())


def test_release_options_are_checked_before_anything_is_written(setup, tmp_path, capsys, monkeypatch):
    s = setup
    monkeypatch.delenv("SMNER_BENCH_DATA", raising=False)
    assert main(s["submit"]) == 2  # no --release-root, no $SMNER_BENCH_DATA
    assert "--release needs --release-root" in capsys.readouterr().err
    assert main([*s["submit"], "--release-root", str(tmp_path / "elsewhere")]) == 2
    assert "must be below the --release-root folder" in capsys.readouterr().err
    assert not (s["root"] / "scored").exists() or not list((s["root"] / "scored").iterdir())


@pytest.mark.parametrize("path", ["../outside.txt", "/abs/file.txt", "a/./b.txt", "a//b.txt", ""])
def test_a_release_path_is_relative_and_plain(path):
    with pytest.raises(ValidationError):
        Release(file=path, sha256="0" * 64, importer="riveg")


def _release_counts(path, gold) -> dict[str, int]:
    """Measured on a RiVEG release file and the gold: predictions, MISC types, right predictions by text and type
    (MISC read as OTHER, as this package does; types as written, as RiVEG's statistics script does), and the right
    ones whose text occurs more than once in the tweet (the most that span matching could change)."""
    import re
    import unicodedata
    from collections import Counter

    nfc = partial(unicodedata.normalize, "NFC")
    predicted: dict[str, list[tuple[str, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        head, entity, _, _ = line.split("###")
        text, kind = re.fullmatch(r"(.*)\((\w+)\)", entity).groups()
        predicted.setdefault(head.removeprefix("Imageid:").split(".jpg#")[0], []).append((nfc(text), kind))
    out = Counter(predictions=sum(map(len, predicted.values())))
    out["misc"] = sum(k == "MISC" for p in predicted.values() for _, k in p)
    for tweet in gold.tweets:
        truth = Counter((nfc(e.text), e.type) for e in tweet.entities)
        mine = predicted.get(tweet.id, [])
        right = truth & Counter((t, "OTHER" if k == "MISC" else k) for t, k in mine)
        out["right"] += sum(right.values())
        out["right_as_written"] += sum((truth & Counter(mine)).values())
        joined = [
            nfc(" ".join(tweet.tokens[i:j]))
            for i in range(len(tweet.tokens))
            for j in range(i + 1, len(tweet.tokens) + 1)
        ]
        out["repeated"] += sum(n for (t, _), n in right.items() if joined.count(t) > 1)
    return out


def test_the_riveg_release_entries_say_why_they_differ_from_the_paper(data_root):
    """The notes of the two RiVEG release entries are measurements of the release files: recomputed here."""
    from smner_bench.leaderboard.store import load_entries

    gold = load_gold("gmner", "test", data_dir=data_root / "twitter-gmner" / "v2.0")
    entries = {
        s.entry.provenance.release.file: s.entry
        for s in load_entries()
        if s.entry.provenance.kind == "scored" and s.entry.provenance.release
    }
    printed = {"OFAVE_to_OFAREC_augment.txt": 85.71, "OFAVE_to_OFAREC.txt": 84.80}  # Table VI's MNER precision
    for name, precision in printed.items():
        entry = entries[f"riveg-release/{name}"]
        n = _release_counts(data_root / "riveg-release" / name, gold)
        assert (n["predictions"], n["right"]) == (entry.main.pred, entry.main.tp)  # the entry's own figures
        low = max(k for k in range(n["predictions"] + 1) if round(100 * k / n["predictions"], 2) < precision)
        assert round(100 * (low + 1) / n["predictions"], 2) > precision  # no count gives the printed precision
        said = [
            f"{n['predictions']:,}",
            f"{100 * low / n['predictions']:.2f}",
            f"{100 * (low + 1) / n['predictions']:.2f}",
        ]
        said += [f"{low:,}", f"{low + 1:,}", f"{n['right_as_written']:,}", f"{n['repeated']:,} of"]
        assert all(s in entry.notes for s in said), (name, said)
    # the augmented file under RiVEG's convention (types as written): the figures its notes give
    n = _release_counts(data_root / "riveg-release" / "OFAVE_to_OFAREC_augment.txt", gold)
    notes = entries["riveg-release/OFAVE_to_OFAREC_augment.txt"].notes
    total = sum(len(t.entities) for t in gold.tweets)
    right = n["right_as_written"]
    as_written = (100 * right / n["predictions"], 100 * right / total, 200 * right / (n["predictions"] + total))
    assert f"{n['misc']} types as MISC" in notes and f"{n['right'] - right} of those" in notes
    assert f"the v2.0 test gold ({total:,} entities)" in notes
    assert "P {:.2f}, R {:.2f}, F1 {:.2f}".format(*as_written) in notes
