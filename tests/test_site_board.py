"""The board a reader uses (issue 21): figures of nothing print as n/a, scored rows carry their 95% interval,
rows link their paper, code and kept submission, titles hold no doubled parenthesis, names are never cut, and
the P/R labels are the table's ranks, inside the axes and apart (measured on the drawn figure)."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest

from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.significance import bootstrap_interval
from smner_bench.benchmark.submission import read_submission, write_submission
from smner_bench.cli import main
from smner_bench.leaderboard.entry import Entry
from smner_bench.leaderboard.plots import place_labels, text_box
from smner_bench.leaderboard.render import board_title, boards, markdown, terminal_table
from smner_bench.leaderboard.site import build_site, page_name
from smner_bench.leaderboard.store import load_entries, submission_copy
from smner_bench.leaderboard.submit import submit
from smner_bench.loaders.sample_predictions import sample_predictions

from .test_leaderboard import KEY, PUBLISHED, entries_folder


@pytest.fixture
def gold(smner_gold):
    return smner_gold


@pytest.fixture
def root(tmp_path):
    return entries_folder(tmp_path)


def _submit(tmp_path, gold, root, lines, system):
    path = tmp_path / f"{system}.jsonl"
    write_submission(path, lines)
    meta = tmp_path / f"{system}.yaml"
    meta.write_text(f"system: {system}\n")
    entry, file, bad = submit(path, meta, gold, command="smner-bench leaderboard submit ...",
                              dataset_version="v2.0 (Twitter-SMNER)", root=root)  # fmt: skip
    assert bad == []
    return entry, file, path


def test_a_figure_of_nothing_prints_as_na_everywhere(tmp_path, gold, root, capsys):
    """No prediction at all: precision is undefined (n/a), recall and F1 are 0.00, in the entry's table, the
    Markdown page, the site and ``leaderboard show``; the entry keeps the number 0 with its counts."""
    empty = [{"id": t.id, "entities": []} for t in gold.tweets]
    entry, _, _ = _submit(tmp_path, gold, root, empty, "Silent")
    assert entry.main.pred == 0 and entry.main.precision == 0.0
    all_boards = boards(load_entries(root))
    row = next(line for line in terminal_table(KEY, all_boards[KEY]).splitlines() if "Silent" in line)
    assert row.split()[2:5] == ["n/a", "0.00", "0.00"]
    assert "| Silent |  | n/a | 0.00 | 0.00 |" in markdown(all_boards)
    site = build_site(load_entries(root), tmp_path / "site")
    page = (site / page_name(KEY)).read_text(encoding="utf-8")
    assert '<td class="num" data-missing="">n/a</td>' in page
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 0
    shown = next(line for line in capsys.readouterr().out.splitlines() if "Silent" in line)
    assert shown.split()[2:5] == ["n/a", "0.00", "0.00"]


def test_scored_rows_carry_their_95_interval_and_published_rows_none(tmp_path, gold, root, sample_dir):
    lines, _ = sample_predictions(sample_dir)
    entry, file, path = _submit(tmp_path, gold, root, lines, "Demo")
    scorer = Scorer.build(read_submission(path, gold), gold)
    expected = bootstrap_interval(scorer.per_tweet("smner", "span", 0.5), resamples=1000, seed=0)
    i = entry.interval
    assert (i.low, i.high, i.level, i.resamples, i.seed) == (
        round(100 * expected["low"], 2), round(100 * expected["high"], 2), 0.95, 1000, 0)  # fmt: skip
    assert i.low <= entry.main.f1 <= i.high and i.low < i.high
    site = build_site(load_entries(root), tmp_path / "site")
    page = (site / page_name(KEY)).read_text(encoding="utf-8")
    scored = re.search(r'<tr class="scored" id="[^"]+">(.*?)</tr>', page).group(1)
    assert f'<td class="num nowrap" data-sort="{i.low:.2f}">{i.low:.2f}-{i.high:.2f}</td>' in scored
    published = re.search(r'<tr id="paper/table1/h-index/smner">(.*?)</tr>', page).group(1)
    assert published.count('data-missing=""></td>') == 1  # the paper's row: an empty interval cell
    with pytest.raises(ValueError, match="a published entry has no per-tweet counts"):
        Entry.model_validate({**PUBLISHED[0], "interval": {"low": 1, "high": 2, "level": 0.95, "resamples": 10,
                                                           "seed": 0}})  # fmt: skip
    data = json.loads(file.read_text())
    data["interval"]["high"] = data["interval"]["low"] - 1  # below low
    with pytest.raises(ValueError, match=f"low {i.low} is above high"):
        Entry.model_validate(data)


def test_rows_link_paper_code_and_the_kept_submission(tmp_path, gold, root, sample_dir):
    linked = json.loads(json.dumps(PUBLISHED))
    linked[0]["provenance"]["paper_url"] = "https://example.org/paper.pdf"
    linked[0]["provenance"]["code_url"] = "https://github.com/example/code"
    (root / "published" / "paper.yaml").write_text(json.dumps(linked), encoding="utf-8")
    lines, _ = sample_predictions(sample_dir)
    _, file, _ = _submit(tmp_path, gold, root, lines, "Demo")
    site = build_site(load_entries(root), tmp_path / "site")
    page = (site / page_name(KEY)).read_text(encoding="utf-8")
    assert '<a class="paper" href="https://example.org/paper.pdf">paper</a>' in page
    assert '<a class="code" href="https://github.com/example/code">code</a>' in page
    md = markdown(boards(load_entries(root)))
    assert "\u00b7 [paper](<https://example.org/paper.pdf>) \u00b7 [code](<https://github.com/example/code>)" in md
    link = re.search(r'<a class="download" href="(submissions/[^"]+)" download>', page).group(1)
    assert (site / link).read_bytes() == submission_copy(file).read_bytes()
    assert gzip.decompress((site / link).read_bytes()) == (tmp_path / "Demo.jsonl").read_bytes()
    bad = json.loads(json.dumps(linked))
    bad[0]["provenance"]["code_url"] = "javascript:alert(1)"
    with pytest.raises(ValueError, match="code_url"):
        Entry.model_validate(bad[0])


def test_repository_rows_link_the_code_their_sources_name():
    stored = load_entries()
    codes = {s.entry.system: s.entry.provenance.code_url for s in stored if s.entry.provenance.kind == "publication"}
    assert codes["RiVEG"] == "https://github.com/JinYuanLi0012/RiVEG"  # the RiVEG paper's abstract
    assert codes["MQSPN"] == "https://github.com/tangjielong928/mqspn"  # the MQSPN results file's header
    assert codes["H-Index"] == "https://github.com/NUSTM/GMNER"  # the entries' notes (model/metrics.py)
    assert codes["UnCo"] == "https://github.com/tangjielong928/UnCo"
    assert codes["TIGER"] is None  # no source names it: nothing invented


def test_titles_have_no_doubled_parenthesis_and_names_are_not_cut(tmp_path):
    stored = load_entries()
    all_boards = boards(stored)
    site = build_site(stored, tmp_path / "site")
    texts = [markdown(all_boards)]
    texts += [(site / name).read_text(encoding="utf-8") for name in ["index.html", *map(page_name, all_boards)]]
    for text in texts:
        assert "))" not in re.sub(r"<script>.*?</script>", "", text, flags=re.S)
    for key, rows in all_boards.items():
        assert board_title(key, rows).count("(") == board_title(key, rows).count(")")
        table = terminal_table(key, rows)
        for row in rows:
            variant = ", ".join(f"{k.upper()} {v}" for k, v in (("mner", row.entry.variant.mner),) if v)
            assert row.entry.system in table and variant in table
    long = next(r for rows in all_boards.values() for r in rows if len(r.entry.variant.model_dump_json()) > 120)
    key = next(k for k, rows in all_boards.items() if long in rows)
    from smner_bench.leaderboard.render import variant_text

    assert variant_text(long.entry) in terminal_table(key, all_boards[key])  # printed whole, not cut with "…"


def _boxes_apart(boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_pr_labels_are_the_table_ranks_inside_the_axes_and_apart(tmp_path):
    stored = load_entries()
    all_boards = boards(stored)
    site = build_site(stored, tmp_path / "site")
    for key, rows in all_boards.items():
        sidecar = site / "plots" / (page_name(key).removesuffix(".html") + "-pr.json")
        if not sidecar.exists():
            assert not any(r.entry.main.precision is not None for r in rows)
            continue
        drawn = json.loads(sidecar.read_text())
        ranks = {r.entry.id: i + 1 for i, r in enumerate(rows)}
        with_pr = [r.entry.id for r in rows if r.entry.main.precision is not None and r.entry.main.recall is not None]
        assert [label["entry"] for label in drawn["labels"]] == with_pr
        for label in drawn["labels"]:
            assert label["text"] == str(label["rank"]) == str(ranks[label["entry"]])
            x0, y0, x1, y1 = drawn["axes"]
            b = label["box"]
            assert x0 <= b[0] and b[2] <= x1 and y0 <= b[1] and b[3] <= y1, (key, label)
        _boxes_apart([label["box"] for label in drawn["labels"]])
        for kind in ("iou", "types"):  # one legend entry per row, never two alike
            legend = site / "plots" / (page_name(key).removesuffix(".html") + f"-{kind}.json")
            if legend.exists():
                texts = json.loads(legend.read_text())["legend"]
                assert len(texts) == len(set(texts)) and all(re.match(r"\d+\. ", t) for t in texts)


def test_crowded_labels_still_fit_apart_inside_the_axes():
    """Forty points on almost one spot: every label is placed inside the axes, none on another."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(6.4, 5))
    xs, ys = 60 + rng.random(40) * 0.3, 60 + rng.random(40) * 0.3
    ax.scatter(xs, ys)
    ax.set_xlim(50, 70)
    ax.set_ylim(50, 70)
    labels = place_labels(ax, [(x, y, str(i + 1)) for i, (x, y) in enumerate(zip(xs, ys, strict=True))])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    boxes = []
    for label in labels:
        b = text_box(label, renderer)  # the text's own box, not its leader line
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
        boxes.append([b.x0, b.y0, b.x1, b.y1])
    _boxes_apart(boxes)
    plt.close(fig)


def test_a_submitter_gives_the_paper_and_code_of_a_scored_row(tmp_path, gold, root, sample_dir):
    from smner_bench.benchmark.errors import DataFormatError
    from smner_bench.leaderboard.submit import verify

    lines, _ = sample_predictions(sample_dir)
    path = tmp_path / "preds.jsonl"
    write_submission(path, lines)
    meta = tmp_path / "meta.yaml"
    meta.write_text("system: Demo\ncode_url: https://github.com/example/demo\n")
    entry, _, _ = submit(path, meta, gold, command="c", dataset_version="v2.0 (Twitter-SMNER)", root=root)
    assert entry.provenance.code_url == "https://github.com/example/demo" and entry.provenance.paper_url is None
    stored = load_entries(root)
    assert verify(stored, gold) == ([], 1)  # the re-scored entry keeps the links the submitter gave
    page = (build_site(stored, tmp_path / "site") / page_name(KEY)).read_text(encoding="utf-8")
    scored = re.search(r'<tr class="scored" id="[^"]+">(.*?)</tr>', page).group(1)
    assert '<a class="code" href="https://github.com/example/demo">code</a>' in scored
    assert "match span) \u00b7 [code](<https://github.com/example/demo>)" in markdown(boards(stored))
    meta.write_text("system: Demo 2\npaper_url: file:///etc/passwd\n")
    with pytest.raises(DataFormatError, match="paper_url"):
        submit(path, meta, gold, command="c", dataset_version="v2.0 (Twitter-SMNER)", root=root)


def test_the_riveg_release_rows_link_the_repository_they_come_from():
    released = [s.entry for s in load_entries() if s.entry.provenance.kind == "scored" and s.entry.provenance.release]
    assert len(released) == 2
    assert {e.provenance.code_url for e in released} == {"https://github.com/JinYuanLi0012/RiVEG"}


def test_a_board_page_shows_its_table_before_the_rulers_long_text(tmp_path):
    stored = load_entries()
    site = build_site(stored, tmp_path / "site")
    for key in boards(stored):
        page = (site / page_name(key)).read_text(encoding="utf-8")
        table, details = page.index('<table class="board">'), page.index('<details class="rulers">')
        assert table < details < page.index("<b>Rulers.</b>") < page.index("</details>")
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<b>Rulers.</b>" in index and '<details class="rulers">' not in index  # the index explains them openly
