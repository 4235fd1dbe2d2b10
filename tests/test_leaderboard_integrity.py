"""Leaderboard integrity (issue 10, class 2, and the leaderboard's own outputs):

- an edited entry (any figure, system, date, command) is excluded from show/render/build, named on stderr,
  exit 1, and the rest of the board is still published; one damaged gzip copy excludes only its entry;
- a forged entry whose counts and digest were recomputed by hand still fails ``verify``, field family by
  field family;
- the same predictions written differently (CRLF, key order, spaces, blank lines, line order) are one
  submission; provenance is bounded;
- ``build --out`` never replaces a folder it did not make (``.`` included); render/show use the safe-output
  rules; the site shows no local path and has modes 0644/0755;
- the visualizer refuses absurd masks, boxes and canvases before decoding anything.
"""

from __future__ import annotations

import gzip
import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from smner_bench.benchmark.cli_options import redact_command
from smner_bench.benchmark.gold import GoldEntity, GoldTweet
from smner_bench.benchmark.metrics import prf
from smner_bench.benchmark.submission import write_submission
from smner_bench.benchmark.visualize import MAX_PIXELS, Refused, check_box, check_mask, render_tweet
from smner_bench.cli import main
from smner_bench.leaderboard.entry import PRINTED_F1_EXCEPTIONS, Entry, f1_consistent, sealed
from smner_bench.leaderboard.store import entry_json, read_entries
from smner_bench.leaderboard.submit import content_digest
from smner_bench.loaders.sample_predictions import sample_predictions

from .test_leaderboard import PUBLISHED, entries_folder
from .test_leaderboard_published import KNOWN_F1_EXCEPTIONS


@pytest.fixture
def root(tmp_path):
    return entries_folder(tmp_path)


@pytest.fixture(scope="module")
def lines(sample_dir):
    return sample_predictions(sample_dir)[0]


def gold_args(sample_dir, root):
    return ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir), "--entries", str(root)]


def submit_with_meta(meta: str, tmp_path, sample_dir, root, lines, name="p") -> int:
    """``leaderboard submit`` of ``lines`` (``name``.jsonl) with ``meta`` as ``name``-meta.yaml: the exit code."""
    path, meta_file = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-meta.yaml"
    write_submission(path, lines)
    meta_file.write_text(meta, encoding="utf-8")
    return main(["leaderboard", "submit", str(path), "--meta", str(meta_file), *gold_args(sample_dir, root)])


def submit_cli(tmp_path, sample_dir, root, lines, name="preds", system="Demo system"):
    meta = f"system: {system}\nnotes: integrity test\n"
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines, name) == 0
    (entry_file,) = [p for p in (root / "scored").glob("*.json") if name_of(p) == system.strip("' ")]
    return entry_file


def name_of(path):
    return json.loads(path.read_text())["system"]


@pytest.fixture
def board(tmp_path, sample_dir, root, lines, capsys):
    """Two scored entries (the sample predictions, and the same with one tweet emptied) and one published."""
    first = submit_cli(tmp_path, sample_dir, root, lines)
    other = [dict(line, entities=[]) if i == 0 else line for i, line in enumerate(lines)]
    second = submit_cli(tmp_path, sample_dir, root, other, name="other", system="Other system")
    capsys.readouterr()
    return first, second


# --- edited entries are excluded, named, exit 1; the rest is still published --------------------------------


def _set(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[int(key)] if isinstance(data, list) else data[key]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


EDITS = {
    "f1": ("results.smner.f1", 99.0),
    "precision": ("results.smner.precision", 99.0),
    "recall": ("results.smner.recall", 12.5),
    "subtask f1": ("results.mner.f1", 99.0),
    "per-type f1": ("per_type.PER.f1", 99.0),
    "per-type count": ("per_type.LOC.tp", 0),
    "groundable recall": ("grounding.groundable.recall", 99.0),
    "sweep f1": ("sweep.3.f1", 99.0),
    "system": ("system", "Somebody else"),
    "date": ("provenance.date", "2020-01-01"),
    "command": ("provenance.command", "smner-bench leaderboard submit other.jsonl"),
    "notes": ("notes", "edited"),
    "version": ("provenance.smner_bench_version", "9.9.9"),
    "submission sha256": ("provenance.submission_sha256", "0" * 64),
    "digest": ("digest", "f" * 64),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_an_edited_entry_is_excluded_and_named(edit, board, root, tmp_path, capsys):
    first, _ = board
    data = json.loads(first.read_text())
    _set(data, *EDITS[edit])
    first.write_text(json.dumps(data, indent=1))
    board_read = read_entries(root)
    assert [b.file for b in board_read.bad] == [first]
    assert {s.entry.system for s in board_read.stored} == {"H-Index", "Other system"}

    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    out, err = capsys.readouterr()
    assert first.name in err and "excluded" in err and "Traceback" not in err
    assert "Other system" in out and "H-Index" in out and "Demo system" not in out and "Somebody" not in out

    md = tmp_path / "LB.md"
    assert main(["leaderboard", "render", "-o", str(md), "--entries", str(root)]) == 1
    assert first.name in capsys.readouterr().err
    assert "Other system" in md.read_text() and "Demo system" not in md.read_text()

    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--out", str(site), "--entries", str(root)]) == 1
    assert first.name in capsys.readouterr().err
    page = (site / "smner-smner-test-smner-span.html").read_text()
    assert "Other system" in page and "Demo system" not in page and "99.00" not in page


def test_bad_json_duplicate_keys_and_damaged_copy_exclude_only_their_entry(
    board, root, capsys, tmp_path, sample_dir, lines
):
    first, second = board
    copy = second.with_suffix(".jsonl.gz")
    copy.write_bytes(copy.read_bytes()[:100])  # a truncated gzip
    board_read = read_entries(root)
    assert [b.file for b in board_read.bad] == [second] and "gzip" in board_read.bad[0].reason
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    out, err = capsys.readouterr()
    assert second.name in err and first.name not in err and "Demo system" in out and "Other system" not in out
    # submit still adds a new entry beside the damaged one, names it, and exits 1
    third = [dict(line, entities=[]) if i == 1 else line for i, line in enumerate(lines)]
    path = tmp_path / "third.jsonl"
    write_submission(path, third)
    meta = tmp_path / "third.yaml"
    meta.write_text("system: Third\n")
    assert main(["leaderboard", "submit", str(path), "--meta", str(meta), *gold_args(sample_dir, root)]) == 1
    out, err = capsys.readouterr()
    assert "added scored/smner/smner/third-" in out and second.name in err
    next(root.glob("scored/*third*.json")).unlink()

    copy.write_bytes(b"not gzip at all")
    assert "not a readable gzip" in read_entries(root).bad[0].reason
    copy.unlink()
    assert "missing" in read_entries(root).bad[0].reason

    text = first.read_text()
    first.write_text(text[:-20])  # cut JSON
    assert "invalid JSON" in read_entries(root).bad[0].reason
    first.write_text(text.replace('"system": "Demo system"', '"system": "Demo system", "system": "Demo system"'))
    assert "duplicate key" in read_entries(root).bad[0].reason
    assert len(read_entries(root).stored) == 1  # the published entry alone is left


def test_published_entries_check_f1_against_p_and_r(root, capsys):
    bad = json.loads(json.dumps(PUBLISHED))
    bad[0]["results"]["smner"]["f1"] = 56.0  # P 54.24, R 54.82 give 54.53
    good = json.loads(json.dumps(PUBLISHED[0]))
    good["id"] = "paper/table1/other/smner"
    (root / "published" / "paper.yaml").write_text(json.dumps([*bad, good]), encoding="utf-8")
    board_read = read_entries(root)
    assert len(board_read.bad) == 1 and "entry #1" in board_read.bad[0].reason and "F1 56.0" in board_read.bad[0].reason
    assert [s.entry.id for s in board_read.stored] == ["paper/table1/other/smner"]
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    assert "paper.yaml" in capsys.readouterr().err
    assert f1_consistent(54.24, 54.82, 54.53) and not f1_consistent(54.24, 54.82, 54.55)


def test_pinned_paper_typos_are_the_only_exceptions():
    assert {(i, p.removeprefix("results.")) for i, p in PRINTED_F1_EXCEPTIONS} == set(KNOWN_F1_EXCEPTIONS)
    item = {
        "id": "riveg-tmm2025/tablev/bert/r-gcn/twitter2015",
        "system": "R-GCN",
        "task": "mner",
        "dataset": "twitter2015",
        "dataset_version": "UMT release",
        "results": {"mner": {"precision": 73.95, "recall": 76.18, "f1": 75.00}},
        "provenance": {"kind": "publication", "citation": "c", "table": "Table V", "row": "R-GCN [18]"},
    }
    Entry.model_validate(item)  # the printed typo, pinned
    item["results"]["mner"]["f1"] = 74.90  # any other value is refused
    with pytest.raises(ValueError, match="does not agree with precision"):
        Entry.model_validate(item)
    item["id"] = "elsewhere/r-gcn"
    item["results"]["mner"]["f1"] = 75.00  # the pin is for that entry only
    with pytest.raises(ValueError, match="does not agree with precision"):
        Entry.model_validate(item)
    item["digest"] = "0" * 64
    item["results"]["mner"]["f1"] = 75.05
    with pytest.raises(ValueError, match="published entries carry no digest"):
        Entry.model_validate(item)


# --- verify recomputes every figure, even of a forged entry with consistent counts and a fresh digest -------


def _reprf(figures: dict) -> None:
    fresh = prf(figures["tp"], figures["pred"], figures["gold"], tp_pred=figures.get("tp_pred"))
    figures.update({k: round(100 * fresh[k], 2) for k in ("precision", "recall", "f1")})


def _forge_results(data):
    main_ = data["results"]["smner"]
    main_["tp"] -= 1
    _reprf(main_)
    data["sweep"][0]["tp"] = main_["tp"]
    for point in data["sweep"]:
        point["tp"] = min(point["tp"], main_["tp"])
        point["f1"] = round(100 * prf(point["tp"], main_["pred"], main_["gold"])["f1"], 2)


def _forge_subtask(data):
    data["results"]["mner"]["tp"] -= 1
    _reprf(data["results"]["mner"])


def _forge_per_type(data):
    figures = next(f for f in data["per_type"].values() if f["tp"] > 0)
    figures["tp"] -= 1
    _reprf(figures)


def _forge_grounding(data):
    figures = data["grounding"]["groundable"]
    figures["tp"] -= 1
    _reprf(figures)


def _forge_sweep(data):
    points, main_ = data["sweep"], data["results"]["smner"]
    last = points[-1]
    last["tp"] = last["tp"] - 1 if last["tp"] > 0 else 1  # stays <= the previous threshold's
    assert last["tp"] <= points[-2]["tp"]
    last["f1"] = round(100 * prf(last["tp"], main_["pred"], main_["gold"])["f1"], 2)


def _forge_content(data):
    data["provenance"]["content_sha256"] = "0" * 64


FORGERIES = {
    "results": (_forge_results, "results.smner"),
    "subtask": (_forge_subtask, "results.mner"),
    "per_type": (_forge_per_type, "per_type."),
    "grounding": (_forge_grounding, "grounding.groundable"),
    "sweep": (_forge_sweep, "sweep[9]"),
    "content digest": (_forge_content, "provenance.content_sha256"),
}


@pytest.mark.parametrize("family", list(FORGERIES), ids=list(FORGERIES))
def test_verify_catches_a_forged_figure_in_every_family(family, board, root, sample_dir, capsys):
    first, _ = board
    forge, expected = FORGERIES[family]
    data = json.loads(first.read_text())
    forge(data)
    data.pop("digest")
    entry = sealed(Entry.model_validate(data))  # a forger who also recomputes the digest
    first.write_text(entry_json(entry))
    assert read_entries(root).bad == []  # nothing on the surface: counts agree, digest agrees
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    assert first.name in err and expected in err and "recomputed" in err
    assert "Other" not in err  # the untouched entry verifies


def test_verify_lists_bad_entries_and_passes_on_a_clean_board(board, root, sample_dir, capsys):
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 0
    assert "2 scored entries on smner/test verify" in capsys.readouterr().out
    first, _ = board
    first.write_text(first.read_text().replace('"Demo system"', '"Demo  system"'))
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    assert first.name in err and "digest mismatch" in err


# --- duplicates on canonical content ---------------------------------------------------------------------


def test_the_same_predictions_written_differently_are_refused(tmp_path, sample_dir, root, lines, capsys):
    submit_cli(tmp_path, sample_dir, root, lines)
    records = [json.loads(json.dumps(line)) for line in lines]
    shuffled = records[::-1]
    text = "\r\n".join(
        json.dumps(dict(reversed(list(r.items()))), indent=None, separators=(" , ", " : ")) for r in shuffled
    )
    text = text.replace('"box" : [', '"box" : [ ') + "\r\n"
    variant = tmp_path / "variant.jsonl"
    variant.write_bytes(text.encode())
    reference = content_digest((json.dumps(r) + "\n").encode() for r in records)
    assert content_digest(variant.read_bytes().splitlines(keepends=True)) == reference
    # blank lines do not count either (the validator refuses them in a submission, see docs)
    assert content_digest((text + "\r\n\n  \n").encode().splitlines(keepends=True)) == reference
    meta = tmp_path / "meta2.yaml"
    meta.write_text("system: Another name\n")
    code = main(["leaderboard", "submit", str(variant), "--meta", str(meta), *gold_args(sample_dir, root)])
    assert code == 2
    err = capsys.readouterr().err
    assert "the same predictions" in err and "already on the board" in err
    assert len(list((root / "scored").glob("*.json"))) == 1
    # a real change (one box moved by a pixel) is a new submission
    changed = json.loads(json.dumps(records))
    entity = next(e for r in changed for e in r["entities"] if e.get("box"))
    entity["box"][0] += 1
    assert content_digest((json.dumps(r) + "\n").encode() for r in changed) != content_digest(
        (json.dumps(r) + "\n").encode() for r in records
    )


# --- provenance is bounded ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("system: ''\n", "system"),
        ("system: '   '\n", "system"),
        ("system: " + "x" * 5000 + "\n", "at most 200 characters"),
        ('system: "two\\nlines"\n', "control characters"),
        ("system: X\ntask: bogus\n", "task"),
        ("system: X\nvariant: {llm: " + "y" * 300 + "}\n", "variant.llm"),
        ("- a list\n", "expected a mapping"),
        ("system: [unclosed\n", "unreadable YAML"),
    ],
    ids=["empty", "blank", "5000 chars", "newline", "bogus task", "long variant", "list", "bad yaml"],
)
def test_bad_meta_is_exit_1_naming_file_and_field(meta, message, tmp_path, sample_dir, root, lines, capsys):
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 1
    err = capsys.readouterr().err
    assert "meta.yaml" in err and message in err and len(err) < 800 and "Traceback" not in err
    assert not (root / "scored").exists() or not list((root / "scored").iterdir())


def test_system_is_stripped_and_entry_fields_bounded(tmp_path, sample_dir, root, lines):
    entry_file = submit_cli(tmp_path, sample_dir, root, lines, system="'  Padded  '")
    assert json.loads(entry_file.read_text())["system"] == "Padded"
    data = json.loads(entry_file.read_text())
    for path, value in [("provenance.date", "26/11/2026"), ("provenance.command", "x" * 3000), ("system", " Padded")]:
        edited = json.loads(json.dumps(data))
        _set(edited, path, value)
        with pytest.raises(ValueError):
            Entry.model_validate(edited)


# --- the leaderboard's own outputs ---------------------------------------------------------------------------


def test_build_never_replaces_a_folder_it_did_not_make(board, root, tmp_path, monkeypatch, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    assert main(["leaderboard", "build", "--out", str(user), "--entries", str(root)]) == 2
    assert [p.name for p in user.iterdir()] == ["thesis.tex"] and (user / "thesis.tex").read_text() == "precious"
    assert "not made by smner-bench" in capsys.readouterr().err

    monkeypatch.chdir(user)
    before = sorted(os.listdir(tmp_path))
    assert main(["leaderboard", "build", "--out", ".", "--entries", str(root)]) == 2
    assert [p.name for p in user.iterdir()] == ["thesis.tex"] and sorted(os.listdir(tmp_path)) == before
    capsys.readouterr()

    assert main(["leaderboard", "build", "--out", str(root.parent), "--entries", str(root)]) == 2  # holds the entries
    assert main(["leaderboard", "build", "--out", str(tmp_path / "no" / "site"), "--entries", str(root)]) == 2
    assert not (tmp_path / "no").exists()

    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--out", str(site), "--entries", str(root)]) == 0
    assert main(["leaderboard", "build", "--out", str(site), "--entries", str(root)]) == 0  # its own: replaced
    assert (site / "index.html").is_file()


def test_render_refuses_inputs_and_missing_folders(board, root, tmp_path, capsys):
    first, _ = board
    before = first.read_bytes()
    assert main(["leaderboard", "render", "-o", str(first), "--entries", str(root)]) == 2
    assert first.read_bytes() == before
    assert main(["leaderboard", "render", "-o", str(tmp_path / "no" / "LB.md"), "--entries", str(root)]) == 2
    assert not (tmp_path / "no").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_site_has_no_local_paths_and_public_modes(board, root, tmp_path, capsys):
    first, _ = board
    command = json.loads(first.read_text())["provenance"]["command"]
    assert "/" not in command and command.startswith(
        "smner-bench leaderboard submit preds.jsonl --meta preds-meta.yaml"
    )
    # an entry written by an older version with an absolute command is redacted when rendered
    data = json.loads(first.read_text())
    data["provenance"]["command"] = f"smner-bench leaderboard submit {tmp_path}/p.jsonl --meta=/home/ann/m.yaml"
    data.pop("digest")
    first.write_text(entry_json(sealed(Entry.model_validate(data))))
    old = os.umask(0o077)
    try:
        assert main(["leaderboard", "build", "--out", str(tmp_path / "site"), "--entries", str(root)]) == 0
    finally:
        os.umask(old)
    site = tmp_path / "site"
    texts = []
    for path in [site, *site.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
        if path.is_file():  # the kept submissions offered for download are gzip files
            data = path.read_bytes()
            texts.append((gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8"))
    everything = "\n".join(texts)
    for local in ("/home", "/tmp", "/work", "/root", str(tmp_path)):
        assert local not in everything, local
    assert "submit p.jsonl --meta=m.yaml" in everything  # the tooltip keeps the command, without folders


def test_redact_command():
    assert redact_command("smner-bench score /home/a b/p.jsonl") == "smner-bench score a p.jsonl"
    assert redact_command("smner-bench x '/home/a b/p.jsonl' --out=~/site -o ../r.json --iou 0.5") == (
        "smner-bench x p.jsonl --out=site -o r.json --iou 0.5"
    )
    unbalanced = redact_command("smner-bench x 'quote /tmp/x")
    assert "/tmp" not in unbalanced and unbalanced.endswith(" x")


# --- the visualizer is bounded --------------------------------------------------------------------------------


def _tweet(width, height, masks=(), boxes=()):
    entity = GoldEntity(0, 0, 0, 1, "Ann", "PER", np.asarray(boxes, dtype=np.float64).reshape(-1, 4), list(masks))
    return GoldTweet(0, "t1", ["Ann", "smiles"], width, height, [entity])


def test_visualizer_refuses_absurd_masks_boxes_and_canvases():
    size = (100, 80)  # height, width
    with pytest.raises(Refused, match="more than"):
        check_mask({"size": [100000, 100000], "counts": "abc"}, size, "x")  # refused before any decoding
    with pytest.raises(Refused, match="more than"):
        check_mask({"size": [100000, 100000], "counts": "abc"}, (100000, 100000), "x")
    with pytest.raises(Refused, match="differs from the image"):
        check_mask({"size": [50, 80], "counts": "abc"}, size, "x")
    with pytest.raises(Refused, match="not a COCO RLE"):
        check_mask({"size": [100, 80], "counts": [1, 2]}, size, "x")
    with pytest.raises(Refused, match="counts"):
        check_mask({"size": [100, 80], "counts": "a" * 100000}, size, "x")
    with pytest.raises(Refused, match="far outside"):
        check_box([0, 0, 1e12, 10], size, "x")
    with pytest.raises(Refused, match="non-finite"):
        check_box([0, float("nan"), 10, 10], size, "x")
    check_box([-10, -10, 90, 110], size, "x")  # slightly outside is drawn
    with pytest.raises(Refused, match="more than"):
        render_tweet(_tweet(100000, 100000), None, {}, None)  # 10^10 pixels: never allocated
    with pytest.raises(Refused, match=r"gold entity 'Ann'.*differs"):
        render_tweet(_tweet(80, 100, masks=[{"size": [10, 10], "counts": "abc"}]), None, {}, None)
    with pytest.raises(Refused, match="far outside"):
        render_tweet(_tweet(80, 100, boxes=[[0, 0, 5000, 50]]), None, {}, None)
    assert MAX_PIXELS <= 50_000_000


def test_visualizer_output_follows_the_safe_output_rules(sample_dir, tmp_path, lines, capsys):
    path = tmp_path / "p.jsonl"
    write_submission(path, lines)
    images = sample_dir / "images"
    args = ["show", "--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir), "--id", lines[0]["id"]]
    image = next(images.iterdir())
    before = image.read_bytes()
    assert main([*args, "--images", str(images), "-o", str(image)]) == 2  # an input
    assert image.read_bytes() == before
    assert main([*args, "-o", str(tmp_path / "no" / "x.png")]) == 2
    assert not (tmp_path / "no").exists()
    assert main([*args, "-o", str(tmp_path / "x.gif")]) == 2
    for bad in (["--errors", "0"], ["--errors", "100000"], ["--iou", "0"], ["--iou", "nan"]):
        with pytest.raises(SystemExit) as exc:  # argparse: exit 2 with a usage message
            main([*args[:-2], *bad, "--predictions", str(path), "-o", str(tmp_path / "x.png")])
        assert exc.value.code == 2
    assert "expected an integer from 1 to 100" in capsys.readouterr().err
    assert main([*args, "-o", str(tmp_path / "x.jpg")]) == 0
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    assert stat.S_IMODE((tmp_path / "x.jpg").stat().st_mode) == 0o644
    # a huge image in the image folder is refused by name, before it is decoded
    big = tmp_path / "images"
    big.mkdir()
    Image.new("1", (10000, 5000)).save(big / f"{lines[0]['id']}.jpg", format="PNG")
    assert main([*args, "--images", str(big), "-o", str(tmp_path / "big.png")]) == 1
    err = capsys.readouterr().err
    assert f"{lines[0]['id']}.jpg" in err and "more than" in err and "Traceback" not in err


# --- hostile bytes in entry files never escape as an internal error -------------------------------------------


def test_mutated_entry_files_are_good_or_excluded(board, root, capsys):
    from hypothesis import given
    from hypothesis import strategies as st

    from .fuzzing import fuzz_settings

    first, _ = board
    original = first.read_bytes()

    @fuzz_settings(150)
    @given(st.lists(st.tuples(st.integers(0, len(original) - 1), st.binary(max_size=4)), min_size=1, max_size=4))
    def mutate(edits):
        data = bytearray(original)
        for position, replacement in edits:
            data[position : position + 1] = replacement
        first.write_bytes(bytes(data))
        board_read = read_entries(root)  # never raises
        good = {s.file for s in board_read.stored}
        assert (first in good) != any(b.file == first for b in board_read.bad)
        if first in good:  # a mutation that survives changes nothing the entry says (e.g. JSON spacing)
            assert next(s.entry for s in board_read.stored if s.file == first) == Entry.model_validate_json(original)

    mutate()
    first.write_bytes(original)


def test_repository_scored_entries_verify_on_the_real_gold(data_root, capsys):
    """Every scored entry of the repository, re-scored on the real gold of its dataset (the RiVEG release entries
    imported again from the data folder): every figure equal."""
    from smner_bench.leaderboard.store import DEFAULT_ROOT

    scored = sorted((DEFAULT_ROOT / "scored").glob("*.json"))
    assert scored and read_entries().bad == []
    found = [(json.loads(p.read_text())["dataset"], json.loads(p.read_text())["split"]) for p in scored]
    folders = {"gmner": "twitter-gmner/v2.0", "twitter2015": "twitter2015", "twitter2017": "twitter2017"}
    assert {d for d, _ in found} <= set(folders) and {s for _, s in found} == {"test"}
    for dataset in sorted({d for d, _ in found}):
        data = ["--dataset", dataset, "--split", "test", "--data-dir", str(data_root / folders[dataset])]
        assert main(["leaderboard", "verify", *data, "--release-root", str(data_root)]) == 0, dataset
        assert f"{found.count((dataset, 'test'))} scored entries on {dataset}/test verify" in capsys.readouterr().out


# --- red-team round 2: entity order, dataset version, format characters, pydantic messages -------------------


def _reseal(data: dict) -> None:
    """A forger's digest: recomputed over the edited content without the entry model (which may refuse it)."""
    import hashlib

    from smner_bench.leaderboard.entry import canonical_json

    data.pop("digest", None)
    data["digest"] = hashlib.sha256(canonical_json(data)).hexdigest()


def test_reseal_helper_reproduces_the_entry_digest(board):
    first, _ = board
    data = json.loads(first.read_text())
    stored = data["digest"]
    _reseal(data)
    assert data["digest"] == stored


@pytest.mark.parametrize("match", [None, "span", "text", "riveg"])
def test_entities_reordered_within_a_tweet_are_the_same_submission(match, tmp_path, sample_dir, root, lines, capsys):
    submit_cli(tmp_path, sample_dir, root, lines)
    reordered = [dict(line, entities=line["entities"][::-1]) for line in lines]
    assert sum(len(line["entities"]) > 1 for line in lines) >= 3  # the sample has tweets to reorder
    assert reordered != lines
    path = tmp_path / "reordered.jsonl"
    write_submission(path, reordered)
    encode = lambda records: [(json.dumps(r) + "\n").encode() for r in records]  # noqa: E731
    assert content_digest(encode(reordered)) == content_digest(encode(lines))
    meta = tmp_path / "meta-reordered.yaml"
    meta.write_text("system: Reordered\n" + (f"match: {match}\n" if match else ""), encoding="utf-8")
    code = main(["leaderboard", "submit", str(path), "--meta", str(meta), *gold_args(sample_dir, root)])
    assert code == 2
    err = capsys.readouterr().err
    assert "the same predictions" in err and "already on the board" in err
    assert len(list((root / "scored").glob("*.json"))) == 1
    # the same entities in another tweet, or one entity less, is another submission
    fewer = [dict(line, entities=line["entities"][1:]) if len(line["entities"]) > 1 else line for line in lines]
    assert content_digest(encode(fewer)) != content_digest(encode(lines))


def test_an_entry_of_an_unknown_dataset_version_is_excluded(board, root, capsys):
    first, _ = board
    data = json.loads(first.read_text())
    data["dataset_version"] = "v1"
    _reseal(data)  # a forger who recomputes the digest
    first.write_text(json.dumps(data, indent=1))
    board_read = read_entries(root)
    assert [b.file for b in board_read.bad] == [first]
    assert "dataset_version" in board_read.bad[0].reason and "'v1'" in board_read.bad[0].reason
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "v1" not in out and first.name in err and "Other system" in out
    # a published entry too
    item = json.loads(json.dumps(PUBLISHED[0]))
    item["dataset_version"] = "v2.0"
    (root / "published" / "paper.yaml").write_text(json.dumps([item]), encoding="utf-8")
    (bad,) = [b for b in read_entries(root).bad if b.file.name == "paper.yaml"]
    assert "dataset_version" in bad.reason and "v2.0 (Twitter-SMNER)" in bad.reason


def test_verify_compares_dataset_version_and_checksum_with_the_registry_and_gold(
    board, root, sample_dir, capsys, monkeypatch
):
    from smner_bench.benchmark import registry

    first, _ = board
    original = first.read_text()
    data = json.loads(original)
    data["provenance"]["dataset_checksum"] = "0" * 64
    _reseal(data)
    first.write_text(json.dumps(data, indent=1))
    assert read_entries(root).bad == []
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    assert first.name in err and "dataset checksum differs" in err and "Other" not in err
    # an entry that names another version than the one this registry scores the gold as
    first.write_text(original)
    later = {**{name: spec.version for name, spec in registry.DATASETS.items()}, "smner": "v3.0 (a later release)"}
    monkeypatch.setattr(registry, "dataset_version", later.__getitem__)
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    assert first.name in err and "dataset_version: stored" in err and "registry's version of smner" in err
    assert "v3.0" in err and "2 problems" in err  # both entries


FORMAT_CHARACTERS = {
    "RLO": ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "LRE": ("\u202a", "U+202A"),
    "RLI": ("\u2067", "U+2067"),
    "PDI": ("\u2069", "U+2069"),
    "LRM": ("\u200e", "U+200E"),
    "RLM": ("\u200f", "U+200F"),
    "ZWSP": ("\u200b", "U+200B ZERO WIDTH SPACE"),
    "BOM": ("\ufeff", "U+FEFF"),
    "soft hyphen": ("\u00ad", "U+00AD"),
}


@pytest.mark.parametrize("name", list(FORMAT_CHARACTERS), ids=list(FORMAT_CHARACTERS))
def test_one_line_fields_refuse_format_characters(name, tmp_path, sample_dir, root, lines, capsys):
    char, expected = FORMAT_CHARACTERS[name]
    for meta in (f'system: "Sys{char}tem"\n', f'system: X\nvariant: {{mner: "M{char}"}}\n'):
        assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 1
        err = capsys.readouterr().err
        assert "meta.yaml" in err and expected in err and char not in err and "Traceback" not in err
        kind = "bidi controls" if name in ("RLO", "LRE", "RLI", "PDI", "LRM", "RLM") else "format characters"
        assert kind in err and len(err.splitlines()) == 1
    assert not (root / "scored").exists() or not list((root / "scored").iterdir())


def test_notes_refuse_bidi_controls_but_keep_joiners(tmp_path, sample_dir, root, lines, capsys):
    meta = 'system: X\nnotes: "fine\\nthen \\u2066hidden\\u2069"\n'
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 1
    err = capsys.readouterr().err
    assert "notes" in err and "U+2066" in err and "bidi" in err
    # the zero-width joiner of an emoji sequence, and a newline, are fine in notes
    meta = 'system: X\nnotes: "trained by \\U0001F469\\u200D\\U0001F52C\\nsecond line"\n'
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 0


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("system", "\u202eLIMP"),
        ("variant.mner", "PL\u200bIM"),
        ("notes", "x\u202eRLO"),
        ("provenance.command", "\u2066"),
    ],
    ids=["system", "variant", "notes", "command"],
)
def test_an_entry_with_format_characters_is_excluded_even_resealed(path, value, board, root, capsys):
    first, _ = board
    data = json.loads(first.read_text())
    _set(data, path, value)
    _reseal(data)
    first.write_text(json.dumps(data, indent=1))
    (bad,) = read_entries(root).bad
    assert bad.file == first and path.split(".")[-1] in bad.reason and "U+" in bad.reason and value not in bad.reason
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "LIMP" not in out and "\u202e" not in out + err and first.name in err


def test_no_pydantic_links_or_multi_line_messages(board, root, sample_dir, tmp_path, lines, capsys):
    meta = "system: ''\nvariant: {mner: [1], llm: 5}\nmatch: bogus\nextra: 1\n"
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 1
    err = capsys.readouterr().err
    assert "system" in err and "(and 4 more)" in err and len(err.splitlines()) == 1
    assert "errors.pydantic.dev" not in err and "further information" not in err and "input_value" not in err
    # an entry file with several problems, and a published file
    first, second = board
    data = json.loads(first.read_text())
    data["system"] = ""
    data["results"]["smner"]["f1"] = "x"
    first.write_text(json.dumps(data))
    (root / "published" / "paper.yaml").write_text("- {id: paper/x, system: ''}\n", encoding="utf-8")
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    assert "errors.pydantic.dev" not in err and "further information" not in err and "input_value" not in err
    assert "Traceback" not in err
    problems = [line for line in err.splitlines() if line.startswith(("paper.yaml", first.name))]
    assert len(problems) == 2 and all("more)" in line for line in problems)
    # a stored text the meta rules would refuse once stripped (notes of spaces) re-scores without an internal
    # error (verify printed pydantic's whole ValidationError as exit 3 before)
    data = json.loads(second.read_text())
    data["notes"] = "   "
    _reseal(data)
    second.write_text(json.dumps(data, indent=1))
    first.unlink()
    (root / "published" / "paper.yaml").write_text(json.dumps(PUBLISHED), encoding="utf-8")
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 0
    assert "1 scored entries on smner/test verify" in capsys.readouterr().out


# --- issue 19: one submission, one entry, even when submitted twice at once; YAML keys written twice ---------


def test_the_same_predictions_submitted_together_under_two_names_land_once(tmp_path, sample_dir, lines, capsys):
    """Two submissions of one file under two system names, started together (a barrier), four times: one lands,
    the other is refused as already on the board (before the lock, both landed 3 times out of 4), and the board
    verifies."""
    import threading

    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.registry import dataset_version
    from smner_bench.leaderboard.submit import submit
    from smner_bench.loaders import load_gold

    gold = load_gold("smner", "test", data_dir=sample_dir)
    predictions = tmp_path / "p.jsonl"
    write_submission(predictions, lines)
    for attempt in range(4):
        root = tmp_path / f"entries-{attempt}"
        (root / "published").mkdir(parents=True)
        if attempt == 0:
            (root / ".submit.lock").write_text("")  # left by a submission killed while it held the lock
        metas = []
        for name in ("First", "Second"):
            metas.append(tmp_path / f"{name}-{attempt}.yaml")
            metas[-1].write_text(f"system: {name} system\n", encoding="utf-8")
        start, outcomes = threading.Barrier(2), {}

        def go(meta, root=root, start=start, outcomes=outcomes):
            start.wait()
            try:
                entry, _, _ = submit(predictions, meta, gold, command="c", dataset_version=dataset_version("smner"),
                                     root=root)  # fmt: skip
                outcomes[meta.name] = entry.id
            except UsageError as exc:
                outcomes[meta.name] = exc

        threads = [threading.Thread(target=go, args=(meta,)) for meta in metas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refused = [o for o in outcomes.values() if isinstance(o, UsageError)]
        assert len(refused) == 1 and "already on the board" in str(refused[0]), (attempt, outcomes)
        assert len(list((root / "scored").glob("*.json"))) == 1 and not (root / ".submit.lock").exists()
        assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 0, capsys.readouterr().err


def test_verify_names_two_entries_of_one_submission(board, root, sample_dir, capsys):
    """Entries that got past ``submit`` (a race before the lock, a hand-made or merged entry): verify fails
    naming both files, even when each entry on its own is sound."""
    first, _ = board
    data = json.loads(first.read_text())
    data["system"] = "Copycat"
    data["id"] = data["id"].replace("demo-system", "copycat")
    _reseal(data)
    twin = first.parent / (data["id"].replace("/", "__") + ".json")
    twin.write_text(json.dumps(data, indent=1))
    twin.with_suffix(".jsonl.gz").write_bytes(first.with_suffix(".jsonl.gz").read_bytes())
    assert read_entries(root).bad == []  # each is a sound entry
    assert main(["leaderboard", "verify", *gold_args(sample_dir, root)]) == 1
    err = capsys.readouterr().err
    digest = data["provenance"]["content_sha256"]
    (problem,) = [x for x in err.splitlines() if "one submission" in x]
    assert f"one submission (canonical SHA-256 {digest[:12]}...) has 2 entries" in problem
    assert first.name in problem and twin.name in problem, problem
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("meta", "line", "key"),
    [
        ("system: A\nsplit: test\nsplit: train\n", 3, "split"),  # refused for the key twice, before the field
        ("system: A\nnotes: x\nsystem: B\n", 3, "system"),
        ("system: A\nvariant:\n  llm: x\n  llm: y\n", 4, "llm"),
        ("{system: A, system: B}\n", 1, "system"),
    ],
    ids=["split twice", "system twice", "nested", "flow"],
)
def test_a_meta_key_written_twice_is_refused_naming_its_line(
    meta, line, key, tmp_path, sample_dir, root, lines, capsys
):
    assert submit_with_meta(meta, tmp_path, sample_dir, root, lines) == 1
    err = capsys.readouterr().err
    assert f"p-meta.yaml:{line}: duplicate key '{key}'" in err and "Traceback" not in err, err
    assert not (root / "scored").exists()


def test_a_published_file_with_a_key_written_twice_is_excluded_naming_its_line(root, capsys):
    text = json.dumps(PUBLISHED, indent=1).splitlines()
    at = next(i for i, x in enumerate(text) if '"system"' in x)
    text.insert(at + 1, text[at].rstrip(",") + ",")  # the entry names its system twice
    bad = root / "published" / "twice.yaml"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    board = read_entries(root)
    assert [(b.file, b.reason.split(":")[0]) for b in board.bad] == [(bad, f"line {at + 2}")]
    assert "duplicate key 'system' (first on line" in board.bad[0].reason
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"twice.yaml: line {at + 2}: duplicate key 'system'" in err and "Traceback" not in err
