"""Leaderboard: submit -> entry -> boards, refusals, atomic writes, the site, the visualizer."""

from __future__ import annotations

import gzip
import html
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from smner_bench.benchmark.errors import DataFormatError, UsageError
from smner_bench.benchmark.registry import EVALUATOR_IDS, EVALUATORS
from smner_bench.benchmark.submission import write_submission
from smner_bench.benchmark.visualize import BLANK, CORRECT, PANEL_WIDTH, TYPE_COLOURS, WRONG, render_tweet
from smner_bench.cli import main
from smner_bench.leaderboard import render, store
from smner_bench.leaderboard.entry import Entry, entry_digest
from smner_bench.leaderboard.escape import markdown_text
from smner_bench.leaderboard.render import boards, markdown, terminal_table
from smner_bench.leaderboard.site import build_site
from smner_bench.leaderboard.store import load_entries, read_entries
from smner_bench.leaderboard.submit import file_content_digest, submit, verify
from smner_bench.loaders.sample_predictions import sample_predictions

PUBLISHED = [
    {
        "id": "paper/table1/h-index/smner",
        "system": "H-Index",
        "task": "smner",
        "dataset": "smner",
        "dataset_version": "v2.0 (Twitter-SMNER)",
        "results": {"smner": {"precision": 54.24, "recall": 54.82, "f1": 54.53}, "ees": {"f1": 59.22}},
        "provenance": {
            "kind": "publication",
            "citation": "A paper",
            "arxiv": "2406.07268",
            "table": "Table 1",
            "row": "H-Index [21]",
            "evaluator": "smner-span",
            "gold": {"kind": "release", "version": "v2.0 (Twitter-SMNER)"},
        },
    },
]
KEY = ("smner", "smner", "test", "smner-span", "")  # task, dataset, split, ruler, gold (the dataset's release)


@pytest.fixture
def gold(smner_gold):
    return smner_gold


def entries_folder(tmp_path):
    """An entries folder holding the paper rows of :data:`PUBLISHED` (the board tests' start)."""
    root = tmp_path / "entries"
    (root / "published").mkdir(parents=True)
    (root / "published" / "paper.yaml").write_text(json.dumps(PUBLISHED), encoding="utf-8")  # JSON is YAML
    return root


@pytest.fixture
def root(tmp_path):
    return entries_folder(tmp_path)


@pytest.fixture
def preds(tmp_path, sample_dir, hf_cache):
    lines, _ = sample_predictions(sample_dir)
    path = tmp_path / "preds.jsonl"
    write_submission(path, lines)
    meta = tmp_path / "meta.yaml"
    meta.write_text("system: Demo system\nvariant: {mner: gold, vg: gold}\nnotes: four mistakes\n")
    return path, meta


def add(preds, gold, root):
    entry, path, bad = submit(
        preds[0],
        preds[1],
        gold,
        command="smner-bench leaderboard submit ...",
        dataset_version="v2.0 (Twitter-SMNER)",
        root=root,
    )
    assert bad == []
    return entry, path


def test_submit_entry_board_round_trip(preds, gold, root):
    entry, path = add(preds, gold, root)
    assert entry.provenance.kind == "scored" and entry.main.f1 == pytest.approx(86.96)
    assert entry.results["mner"].f1 == pytest.approx(91.30) and set(entry.results) == {"smner", "mner", "ees"}
    assert len(entry.sweep) == 10 and set(entry.per_type) == {"PER", "LOC", "ORG", "OTHER"}
    assert entry.provenance.dataset_checksum == gold.checksum()
    assert path.is_file() and path.with_suffix(".jsonl.gz").is_file()
    stored = load_entries(root)
    assert [s.entry.id for s in stored] == ["paper/table1/h-index/smner", entry.id]
    board = boards(stored)[KEY]
    assert [r.entry.system for r in board] == ["Demo system", "H-Index"]  # ranked by F1
    table = terminal_table(KEY, board)
    assert "1  Demo system" in table and "86.96" in table and "scored here" in table
    md = markdown(boards(stored))
    assert "### SMNER on Twitter-SMNER, test split; ruler smner-span" in md and "| 2 | H-Index |" in md
    assert "[Table 1](<https://arxiv.org/abs/2406.07268>), row \u201cH-Index \\[21\\]\u201d" in md
    assert verify(stored, gold) == ([], 1)
    assert entry.digest == entry_digest(entry) and entry.provenance.content_sha256 == file_content_digest(preds[0])
    tps = [p.tp for p in entry.sweep]
    assert entry.main.tp == tps[0] and tps == sorted(tps, reverse=True)
    assert set(entry.grounding) == {"groundable", "ungroundable"}


def test_duplicate_and_tampered_submissions_are_refused(preds, gold, root):
    _, path = add(preds, gold, root)
    with pytest.raises(UsageError, match="already on the board"):
        add(preds, gold, root)
    copy = path.with_suffix(".jsonl.gz")
    original = copy.read_bytes()
    with gzip.open(copy, "rb") as f:
        text = f.read().replace(b'"PER"', b'"ORG"', 1)
    copy.write_bytes(gzip.compress(text))
    with pytest.raises(DataFormatError, match="tampered entry"):
        load_entries(root)
    copy.write_bytes(original)
    saved = path.read_text()
    data = json.loads(saved)
    data["results"]["smner"]["f1"] = 99.0  # figures edited by hand
    path.write_text(json.dumps(data))
    board = read_entries(root)
    assert [b.file for b in board.bad] == [path] and len(board.stored) == 1
    path.write_text(saved)
    copy.unlink()
    with pytest.raises(DataFormatError, match=r"copy .* is missing"):
        load_entries(root)


def test_published_entries_are_never_written(preds, gold, root):
    before = {p: p.read_bytes() for p in (root / "published").iterdir()}
    add(preds, gold, root)
    assert {p: p.read_bytes() for p in (root / "published").iterdir()} == before
    published = Entry.model_validate(PUBLISHED[0])
    with pytest.raises(UsageError, match="published entries are edited by hand"):
        store.write_scored(published, preds[0], root)


def test_interrupted_write_leaves_no_entry(preds, gold, root, monkeypatch):
    real_fsync = os.fsync
    calls = []

    def crash_on_entry(fd):
        calls.append(fd)
        if len(calls) == 2:  # the copy is synced, the entry's write is interrupted
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(store.os, "fsync", crash_on_entry)
    with pytest.raises(KeyboardInterrupt):
        add(preds, gold, root)
    assert list((root / "scored").iterdir()) == []  # no entry, no copy, no temporary file
    monkeypatch.setattr(store.os, "fsync", real_fsync)

    real_link = os.link

    def crash_on_link(src, dst):  # interrupted between the copy's link and the entry's
        if str(dst).endswith(".json"):
            raise KeyboardInterrupt
        real_link(src, dst)

    monkeypatch.setattr(os, "link", crash_on_link)
    with pytest.raises(KeyboardInterrupt):
        add(preds, gold, root)
    assert [p.suffix for p in (root / "scored").iterdir()] == [".gz"]  # an orphan copy, no entry
    assert len(load_entries(root)) == 1  # the orphan is ignored
    monkeypatch.undo()
    add(preds, gold, root)  # and replaced by the next submission of the file
    assert len(load_entries(root)) == 2


def test_entry_schema_refuses_bad_entries():
    bad = json.loads(json.dumps(PUBLISHED[0]))
    bad["results"]["gmner"] = {"f1": 1.0}
    with pytest.raises(ValueError, match="a smner entry reports"):
        Entry.model_validate(bad)
    bad = json.loads(json.dumps(PUBLISHED[0]))
    bad["results"]["smner"]["f1"] = 101
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Entry.model_validate(bad)
    bad = json.loads(json.dumps(PUBLISHED[0]))
    bad["id"] = "../escape"
    with pytest.raises(ValueError):
        Entry.model_validate(bad)
    bad = json.loads(json.dumps(PUBLISHED[0]))  # a count is an integer as written, never true or "1"
    bad["results"]["ees"] = {"precision": 100.0, "recall": 100.0, "f1": 100.0, "tp": True, "pred": 1, "gold": 1}
    with pytest.raises(ValueError, match=r"results\.ees\.tp\s+Input should be a valid integer"):
        Entry.model_validate(bad)


def test_cli_submit_show_render_build(capsys, preds, root, tmp_path, sample_dir):
    args = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir), "--entries", str(root)]
    assert main(["leaderboard", "submit", str(preds[0]), "--meta", str(preds[1]), *args]) == 0
    assert main(["leaderboard", "submit", str(preds[0]), "--meta", str(preds[1]), *args]) == 2
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 0
    assert main(["leaderboard", "render", "-o", str(tmp_path / "LB.md"), "--entries", str(root)]) == 0
    assert main(["leaderboard", "build", "--out", str(tmp_path / "site"), "--entries", str(root)]) == 0
    assert main(["leaderboard", "verify", *args]) == 0
    out, err = capsys.readouterr()
    assert "already on the board" in err and "Traceback" not in out + err
    assert "Demo system" in (tmp_path / "LB.md").read_text()
    page = (tmp_path / "site" / "smner-smner-test-smner-span.html").read_text()
    assert page.count("<tr") == 3 and "split <b>test</b>" in page and "v2.0 (Twitter-SMNER)" in page
    for plot in ("pr", "iou", "types"):
        svg = tmp_path / "site" / "plots" / f"smner-smner-test-smner-span-{plot}.svg"
        assert svg.read_text().lstrip().startswith("<?xml")
    bad_meta = tmp_path / "bad.yaml"
    bad_meta.write_text("system: X\ncolour: red\n")
    assert main(["leaderboard", "submit", str(preds[0]), "--meta", str(bad_meta), *args]) == 1
    assert "Extra inputs are not permitted" in capsys.readouterr().err


# --- visualizer --------------------------------------------------------------------------------------


def pixel(image, x, y):
    return tuple(int(v) for v in image.getpixel((x, y))[:3])


def test_visualizer_without_image(gold, sample_dir, hf_cache, tmp_path):
    tweet = next(t for t in gold.tweets if any(len(e.boxes) for e in t.entities))
    picture = render_tweet(tweet, None, {}, None)
    assert picture.width == PANEL_WIDTH + 30  # gold only
    e = next(e for e in tweet.entities if len(e.boxes))
    x1, y1, x2, y2 = e.boxes[0]
    scale = PANEL_WIDTH / tweet.width
    top = picture.height - 10 - round(tweet.height * scale)  # the image panel is at the bottom, 10 px margin
    left = 10
    colour = pixel(picture, left + round((x1 + x2) / 2 * scale), top + round(y1 * scale) + 1)
    assert np.abs(np.array(colour) - TYPE_COLOURS[e.type]).max() <= 20  # the box outline (resampled)
    inside = pixel(picture, left + round((x1 + x2) / 2 * scale), top + round((y1 + y2) / 2 * scale))
    expected = 0.55 * np.array(BLANK) + 0.45 * np.array(TYPE_COLOURS[e.type])  # mask over a blank canvas
    assert np.abs(np.array(inside) - expected).max() <= 2
    corner = pixel(picture, left + 1, top + 1)
    assert corner == BLANK  # the blank canvas of the image's size


def test_visualizer_marks_predictions(capsys, gold, sample_dir, tmp_path):
    lines, where = sample_predictions(sample_dir)
    path = tmp_path / "p.jsonl"
    write_submission(path, lines)
    out = tmp_path / "one.png"
    args = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]
    tid = where["shifted box and mask"]
    assert (
        main(
            [
                "show",
                *args,
                "--id",
                tid,
                "--predictions",
                str(path),
                "--images",
                str(sample_dir / "images"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    picture = Image.open(out).convert("RGB")
    colours = {pixel(picture, x, y) for x in range(picture.width) for y in range(0, picture.height, 2)}
    assert WRONG in colours and CORRECT in colours  # the shifted entity is wrong, the others right
    sheet = tmp_path / "sheet.png"
    assert main(["show", *args, "--errors", "4", "--predictions", str(path), "-o", str(sheet)]) == 0
    assert "4 tweets" in capsys.readouterr().out
    assert Image.open(sheet).width == 2 * (2 * (PANEL_WIDTH + 20) + 10)  # two columns of gold|predicted panels
    assert main(["show", *args, "--id", "nope", "-o", str(out)]) == 2
    assert "no tweet 'nope'" in capsys.readouterr().err


def test_published_entries_of_the_repository_load():
    """Every entry of the repository loads (load_entries raises on a bad one) and none is dropped: one entry per
    item of the published YAML lists, one per scored JSON file (with its kept copy, or its release), ids unique."""
    import yaml

    from smner_bench.leaderboard.store import DEFAULT_ROOT, submission_copy

    stored = load_entries()
    published = [s for s in stored if s.entry.provenance.kind == "publication"]
    scored = [s for s in stored if s.entry.provenance.kind == "scored"]
    lists = [yaml.safe_load(f.read_text(encoding="utf-8")) for f in sorted((DEFAULT_ROOT / "published").glob("*.yaml"))]
    assert len(published) == sum(len(items) for items in lists) > 0
    files = sorted((DEFAULT_ROOT / "scored").glob("*.json"))
    assert sorted(s.file for s in scored) == files and files
    assert all(submission_copy(s.file).is_file() != bool(s.entry.provenance.release) for s in scored)
    assert sum(bool(s.entry.provenance.release) for s in scored) == 2  # the RiVEG release files: no copy here
    assert len({s.entry.id for s in stored}) == len(stored) == len(published) + len(scored)


def test_rendered_readme_is_up_to_date():
    from smner_bench.leaderboard.cli import README

    if not README.exists():
        pytest.fail("leaderboard/README.md is missing: run smner-bench leaderboard render")
    assert README.read_text(encoding="utf-8") == markdown(boards(load_entries())), (
        "leaderboard/README.md is stale: run smner-bench leaderboard render"
    )


def test_copy_of_root_is_independent(root, tmp_path):
    shutil.copytree(root, tmp_path / "copy")
    assert len(load_entries(tmp_path / "copy")) == 1


def test_verify_rescores_the_kept_copy_in_memory(preds, gold, root, monkeypatch, tmp_path):
    import tempfile

    from smner_bench.benchmark.submission import InvalidSubmission
    from smner_bench.leaderboard.submit import rescore, score_copy

    entry, path = add(preds, gold, root)
    stored = load_entries(root)

    def no_temporary_files(*args, **kwargs):
        raise AssertionError("scoring wrote a temporary file")

    for name in ("TemporaryDirectory", "NamedTemporaryFile", "mkdtemp", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_temporary_files)
    assert verify(stored, gold) == ([], 1)
    fresh = rescore(stored[-1], gold)
    assert fresh == entry and fresh.provenance.submission_file == "preds.jsonl"
    report, content = score_copy(
        path.with_suffix(".jsonl.gz"), "preds.jsonl", gold, task="smner", match="span", iou=0.5
    )
    assert report.submission.file == "preds.jsonl" and report.main.f1 == pytest.approx(0.8696, abs=1e-4)
    assert content == entry.provenance.content_sha256
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"id": "nope", "entities": []}\n'))
    with pytest.raises(InvalidSubmission, match=r"(?m)^preds.jsonl:1: id: unknown id 'nope'"):
        score_copy(bad, "preds.jsonl", gold, task="smner", match="span", iou=0.5)


# --- rulers and golds: every grounded row names them, and no table ranks two of them together (issue 18) ---------


def _published(**provenance) -> dict:
    item = json.loads(json.dumps(PUBLISHED[0]))
    item["provenance"].update(provenance)
    item["provenance"] = {k: v for k, v in item["provenance"].items() if v is not None}
    return item


@pytest.mark.parametrize(
    ("provenance", "message"),
    [
        ({"evaluator": None}, "provenance.evaluator: a published SMNER entry names its ruler: one of smner-span"),
        ({"evaluator": "h-index"}, "Input should be 'smner-span', 'smner-text', 'riveg-statistic'"),
        ({"gold": None}, "provenance.gold: a published SMNER entry names its gold"),
        ({"gold": {"kind": "release", "version": "v2.0"}}, r"the releases of smner are 'v2.0 \(Twitter-SMNER\)', not"),
        ({"gold": {"kind": "derived"}}, "description"),
        ({"gold": {"kind": "derived", "description": "x", "tweets_differ": -1}}, "greater than or equal to 0"),
        ({"gold": {"kind": "derived", "description": "x", "tweets_differ": True}}, "Input should be a valid integer"),
        ({"gold": {"kind": "derived", "description": "x", "tweets_differ": "3"}}, "Input should be a valid integer"),
        ({"gold": {"kind": "derived", "description": "x", "tweets_differ": 3.0}}, "Input should be a valid integer"),
        ({"origin": "quoted", "quoted_from": " \n "}, "quoted_from: name the paper the figures are quoted from"),
        ({"origin": "quoted"}, "quoted_from: give it exactly when origin is 'quoted'"),
        ({"quoted_from": "Someone, 2023"}, "quoted_from: give it exactly when origin is 'quoted'"),
        ({"origin": "borrowed", "quoted_from": "x"}, "Input should be 'own', 'reproduced' or 'quoted'"),
        ({"assumed": ["evaluator", "evaluator"]}, "assumed: each of evaluator and gold at most once"),
        ({"assumed": ["gold"], "gold": None}, "assumed: lists gold, which is not given"),
        ({"assumed": ["ruler"]}, "Input should be 'evaluator' or 'gold'"),
        ({"paper": "two\nlines"}, "must be one line"),
    ],
)
def test_a_grounded_published_entry_names_its_ruler_and_gold(provenance, message):
    with pytest.raises(ValueError, match=message):
        Entry.model_validate(_published(**provenance))


def test_rulers_and_golds_are_required_of_grounded_entries_only():
    mner = _published(evaluator=None, gold=None)
    mner.update(task="mner", results={"mner": mner["results"]["smner"]})
    entry = Entry.model_validate(mner)  # an MNER row of a paper may name neither: it is ranked as smner-span
    assert entry.provenance.evaluator is None and render.ruler(entry) == "smner-span" and render.assumed(entry)
    v1 = _published(gold={"kind": "release", "version": "v1"})
    v1.update(task="gmner", dataset="gmner", dataset_version="v2.0", results={"gmner": {"f1": 50.0}})
    assert render.gold(Entry.model_validate(v1)) == ("v1", "release v1")  # a release of gmner: figures printed on v1
    counted = {"kind": "derived", "description": "their file", "tweets_differ": 7}
    derived = Entry.model_validate(_published(gold=counted))
    assert render.gold(derived)[1] == "derived gold (their file, 7 tweets differ from the v2.0 (Twitter-SMNER) release)"


def test_verify_and_the_board_refuse_a_grounded_row_without_a_ruler(root, sample_dir, capsys):
    (root / "published" / "paper.yaml").write_text(json.dumps([_published(evaluator=None)]), encoding="utf-8")
    args = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir), "--entries", str(root)]
    assert main(["leaderboard", "verify", *args]) == 1
    err = capsys.readouterr().err
    assert "paper.yaml: entry #1 (paper/table1/h-index/smner): " in err and "Traceback" not in err
    assert "provenance.evaluator: a published SMNER entry names its ruler: one of smner-span, smner-text" in err
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 1
    assert "excluded" in capsys.readouterr().err


def test_a_scored_entry_is_measured_with_the_convention_of_its_match_mode(preds, gold, root, monkeypatch):
    from smner_bench.leaderboard import entry as entry_module

    entry, path = add(preds, gold, root)
    assert entry.provenance.match == "span" and entry.provenance.evaluator == "smner-span"
    assert {m: entry_module.evaluator_of_match(m) for m in ("span", "text", "riveg")} == {
        "span": "smner-span",
        "text": "smner-text",
        "riveg": "riveg-statistic",
    }
    # a match mode that no convention reproduces: a scored entry is refused, by name (an MNER one too: it is
    # never ranked under a ruler it was not measured with)
    monkeypatch.setattr(entry_module, "evaluator_of_match", lambda match: None)
    board = read_entries(root)
    assert [b.file for b in board.bad] == [path]
    assert "no evaluator convention reproduces --match span" in board.bad[0].reason
    mner = json.loads(path.read_text())
    mner.update(task="mner", results={"mner": mner["results"]["mner"]}, sweep=None, grounding=None)
    with pytest.raises(ValueError, match="no evaluator convention reproduces --match span"):
        Entry.model_validate({k: v for k, v in mner.items() if v is not None})


def test_each_table_holds_one_ruler_and_one_gold_this_packages_first():
    stored = load_entries()
    all_boards = boards(stored)
    for key, rows in all_boards.items():
        for row in rows:
            for source in row.sources:
                assert (render.ruler(source), render.gold(source)[0]) == key[3:], (key, source.id)
    rulers = [key[3] for key in all_boards]
    assert rulers == sorted(rulers, key=EVALUATOR_IDS.index) and rulers[0] == "smner-span"
    gmner = {key[3:] for key in all_boards if key[:3] == ("gmner", "gmner", "test")}
    assert {r for r, _ in gmner} == {"riveg-statistic", "hindex-candidates", "unco-pairs"} and len(gmner) == 4
    md = markdown(all_boards)
    headings = [line.removeprefix("## Ruler ") for line in md.splitlines() if line.startswith("## Ruler ")]
    assert headings == list(dict.fromkeys(rulers))
    for spec in EVALUATORS.values():  # the paragraph says what each ruler counts
        assert markdown_text(spec.definition) in md and markdown_text(spec.region) in md
    several = md.split("## One system, several figures")[1]
    items = several.split("\n- ")  # one item per system, its figures as sub-items
    tiger = next(item for item in items if ", TIGER:" in item)
    assert "  - 56.63: MQSPN (AAAI 2025), Table 1" in tiger and "  - 57.48: UnCo (2025), Table 2" in tiger
    riveg = next(item for item in items if ", RiVEG:" in item)
    assert "  - 63.80: UnCo (2025), Table 2, row “RiVEG (Li et al., 2024a)”, quoted" in riveg
    assert "  - 57.75-67.06 in 14 rows: RiVEG (IEEE TMM 2025), Tables VI, VIII, IX" in riveg
    assert "))" not in several  # no label in parentheses wrapped in more parentheses
    assert "Twitter-FMNERG figures" in md and "44 tweets differ from the v2.0 release" in md


def test_the_site_has_a_view_per_ruler_and_says_what_each_counts(root, tmp_path):
    other = _published(evaluator="unco-pairs", origin="quoted", quoted_from="Another paper, 2024")
    other["id"] = "paper/table2/h-index/smner"
    other["provenance"]["gold"] = {"kind": "derived", "description": "their <b>file</b>"}
    other["results"]["smner"] = {"f1": 60.0}
    (root / "published" / "paper.yaml").write_text(json.dumps([PUBLISHED[0], other]), encoding="utf-8")
    site = build_site(load_entries(root), tmp_path / "site")
    pages = sorted(p.name for p in site.glob("*.html"))
    derived = next(p for p in pages if "unco-pairs" in p)
    assert pages == ["index.html", "smner-smner-test-smner-span.html", derived]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert index.index("smner-smner-test-smner-span.html") < index.index(derived)  # this package's ruler first
    assert "<h2>Ruler smner-span (smner-bench, span identity, this package: the default view)</h2>" in index
    for name in pages:
        page = (site / name).read_text(encoding="utf-8")
        for spec in EVALUATORS.values():
            assert html.escape(spec.definition) in page, (name, spec.id)
    default = (site / "smner-smner-test-smner-span.html").read_text(encoding="utf-8")
    assert f'<a href="{derived}">unco-pairs, gold: derived gold (their &lt;b&gt;file&lt;/b&gt;' in default
    page = (site / derived).read_text(encoding="utf-8")
    assert "ruler <b>unco-pairs (UnCo/MQSPN pair counting)</b>" in page and "quoted from Another paper, 2024" in page
    assert "H-Index</b>:<ul><li>54.53: " in index and "<li>60.00: " in index  # one system, two figures: both shown
