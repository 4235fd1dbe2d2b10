"""``smner-bench gold-diff``: the MQSPN/UnCo gold reader (rows of one span are one entity with all its boxes, ``end``
inclusive, MISC = OTHER, every problem named by file:line and row), the pure comparison of two golds (tokens,
entities paired by span, text, overlap; type, groundable, boxes), the command, and the measured differences of the
MQSPN/UnCo gold file from Twitter-GMNER v1 and v2.0 test (docs/formats.md)."""

from __future__ import annotations

import json
import os

import pytest

from smner_bench.benchmark.errors import DataFormatError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.cli import main
from smner_bench.formats.gold_diff import gold_diff, summary
from smner_bench.formats.golds import gold_format, read_gold
from smner_bench.formats.importers import ImportProblems
from smner_bench.formats.unco import read_unco_gold

TOKENS = ["Klay", "Thompson", "and", "Stephen", "Curry", "at", "Oracle", "Arena", "tonight"]


def gold(*rows, name="ref"):
    full = [{"width": 600, "height": 400, **r} for r in rows]
    return gold_from_rows(full, dataset=name, split="test", has_boxes=True, has_masks=False)


def entity(start, end, kind="PER", boxes=(), tokens=TOKENS):
    return {"start": start, "end": end, "text": " ".join(tokens[start:end]), "type": kind, "boxes": list(boxes)}


BOX, BOX2 = [10.0, 10.0, 100.0, 200.0], [300.0, 20.0, 400.0, 220.0]


def test_every_kind_of_difference_is_found_and_counted():
    ref = gold(
        {"id": "1", "tokens": TOKENS, "entities": [entity(0, 2, boxes=[BOX]), entity(3, 5), entity(6, 8, "LOC")]},
        {"id": "2", "tokens": TOKENS, "entities": [entity(0, 2, boxes=[BOX, BOX2]), entity(6, 8, "LOC", [BOX])]},
        {"id": "3", "tokens": TOKENS, "entities": [entity(0, 2)]},
        {"id": "only-ref", "tokens": ["x"], "entities": []},
    )
    moved = ["Stephen", "Curry", "and", "Klay", "Thompson", "at", "Oracle", "Arena", "tonight"]
    other = gold(
        # 1: Klay Thompson loses its box, Stephen Curry is ORG, Oracle Arena becomes Oracle Arena tonight
        {"id": "1", "tokens": TOKENS, "entities": [entity(0, 2), entity(3, 5, "ORG"), entity(6, 9, "LOC")]},
        # 2: one box of two, Oracle Arena gone, an extra "tonight"
        {"id": "2", "tokens": TOKENS, "entities": [entity(0, 2, boxes=[BOX2]), entity(8, 9, "OTHER")]},
        # 3: other tokens, Klay Thompson at other tokens (same text)
        {"id": "3", "tokens": moved, "entities": [entity(3, 5, tokens=moved)]},
        {"id": "only-other", "tokens": ["y"], "entities": []},
        name="other",
    )
    diff = gold_diff(ref, other)
    kinds = {d.id: [(c["kind"], c["reference"] and c["reference"]["text"]) for c in d.entities] for d in diff.tweets}
    assert kinds == {
        "1": [("groundable", "Klay Thompson"), ("type", "Stephen Curry"), ("span", "Oracle Arena")],
        "2": [("boxes", "Klay Thompson"), ("missing", "Oracle Arena"), ("extra", None)],
        "3": [("span", "Klay Thompson")],
    }
    assert diff.tweets[2].tokens == {
        "reference": 9,
        "other": 9,
        "differing": 4,
        "positions": [
            [0, "Klay", "Stephen"],
            [1, "Thompson", "Curry"],
            [3, "Stephen", "Klay"],
            [4, "Curry", "Thompson"],
        ],
    }
    assert diff.only_reference == ["only-ref"] and diff.only_other == ["only-other"]
    c = diff.counts
    assert c["tweets"] == {
        "common": 3,
        "only_in_reference": 1,
        "only_in_other": 1,
        "identical": 0,
        "differing": 3,
        "tokens": 1,
        "entities": 3,
        "with_missing": 1,
        "with_extra": 1,
        "with_span": 2,
        "with_type": 1,
        "with_groundable": 1,
        "with_boxes": 1,
    }
    assert c["entities"] == {"same": 0, "missing": 1, "extra": 1, "span": 2, "type": 1, "groundable": 1, "boxes": 1}
    assert c["reference"] == {"tweets": 4, "entities": 6, "groundable": 3, "boxes": 4, "entity_box_pairs": 7}
    assert c["other"]["entity_box_pairs"] == 6
    assert gold_diff(ref, ref).counts["entities"]["same"] == 6 and not gold_diff(ref, ref).tweets
    text = "\n".join(summary(diff, show=1))
    assert "tweets: 3 in both (0 identical, 3 differ: 1 in their tokens, 3 in their entities), 1 only in the" in text
    assert "  groundable: 'Klay Thompson' [0, 2) PER (10,10,100,200) / 'Klay Thompson' [0, 2) PER (no box)" in text
    assert "... and 2 more differing tweets" in text
    assert json.loads(json.dumps(diff.as_json()))["counts"] == c


def test_a_tweet_of_many_entities_is_compared_in_linear_time():
    """50,000 entities in one tweet, each with other boundaries on the other side: paired by overlap in a sweep (a
    pairwise search took an hour)."""
    import time

    n = 50_000
    tokens = [f"w{i}" for i in range(2 * n + 1)]
    ref = gold({"id": "1", "tokens": tokens, "entities": [entity(2 * k, 2 * k + 1, tokens=tokens) for k in range(n)]})
    other = gold({"id": "1", "tokens": tokens, "entities": [entity(2 * k, 2 * k + 2, tokens=tokens) for k in range(n)]})
    start = time.perf_counter()
    counts = gold_diff(ref, other).counts["entities"]
    assert time.perf_counter() - start < 5
    assert (counts["span"], counts["missing"], counts["extra"], counts["same"]) == (n, 0, 0, 0)


UNCO = [
    {
        "tokens": TOKENS,
        "image_id": "1.jpg",
        "gt_entities": [
            {"start": 0, "end": 1, "entity_type": "PER", "phrase": "Klay Thompson", "region_box": [10, 10, 100, 200]},
            {"start": 6, "end": 7, "entity_type": "MISC", "phrase": "Oracle Arena", "region_box": []},
            {"start": 0, "end": 1, "entity_type": "PER", "phrase": "Klay Thompson", "region_box": [300, 20, 400, 220]},
            {"start": 0, "end": 1, "entity_type": "PER", "phrase": "Klay Thompson", "region_box": [10, 10, 100, 200]},
        ],
    },
    {"tokens": ["nothing"], "image_id": "2.jpg", "gt_entities": []},
]


def write_unco(tmp_path, items, name="gt.json"):
    path = tmp_path / name
    path.write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n", encoding="utf-8")
    return path


def test_unco_gold_rows_of_one_span_are_one_entity_with_all_its_boxes(tmp_path):
    g = read_unco_gold(write_unco(tmp_path, UNCO))
    assert [t.id for t in g.tweets] == ["1", "2"] and g.name == "unco/test"
    (klay, arena) = g.tweets[0].entities
    assert (klay.start, klay.end, klay.text, klay.type) == (0, 2, "Klay Thompson", "PER")
    assert klay.boxes.tolist() == [BOX, BOX2]  # the repeated row is one box
    assert (arena.start, arena.end, arena.type, len(arena.boxes)) == (6, 8, "OTHER", 0)  # end inclusive, MISC
    assert g.tweets[0].width is None and g.has_boxes


def test_a_token_holding_a_space_is_spelled_by_its_phrase(tmp_path):
    """The releases have a few tokens with a space inside (the loaders' odd-token quirk): a phrase is compared with
    the span's tokens joined, white space runs as one space (a word-by-word comparison refused them)."""
    item = {"tokens": ["The", "New York", "Times"], "image_id": "9.jpg"}
    row = {"start": 1, "end": 2, "entity_type": "ORG", "phrase": "New  York Times", "region_box": []}
    (e,) = read_unco_gold(write_unco(tmp_path, [{**item, "gt_entities": [row]}])).tweets[0].entities
    assert (e.start, e.end, e.text) == (1, 3, "New York Times")


def bad(**changes):
    row = {"start": 6, "end": 7, "entity_type": "LOC", "phrase": "Oracle Arena", "region_box": [], **changes}
    return [{"tokens": TOKENS, "image_id": "1.jpg", "gt_entities": [UNCO[0]["gt_entities"][0], row]}]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (bad(entity_type="PER", start=0, end=1, phrase="Klay Thompson", region_box=[]), None),
        (bad(entity_type="ORG", start=0, end=1, phrase="Klay Thompson"), "from gt_entities[0] (PER) of the same span"),
        (bad(end=9), ":2 (tweet '1'): gt_entities[1].start/end: [6, 9] (end inclusive) is empty or outside the 9"),
        (bad(start=None), "gt_entities[1].start/end: the span is left open"),
        (bad(phrase="Oracle"), "gt_entities[1]: phrase 'Oracle' is not the tokens 6..7 ('Oracle Arena')"),
        (bad(entity_type="FAC"), "gt_entities[1].entity_type: expected one of PER, LOC, ORG, MISC, OTHER, got 'FAC'"),
        (bad(region_box=None), "gt_entities[1]: region_box: expected [x1, y1, x2, y2], or [] for not in the image"),
        (bad(region_box=[1, 1, 1, 5]), "gt_entities[1]: region_box: [1, 1, 1, 5] is inverted or empty"),
        (bad(start=1, end=3, phrase="Thompson and Stephen"), "gt_entities[1] [1, 3] overlaps gt_entities[0] [0, 1]"),
        ([{**UNCO[1], "tokens": []}], ":2 (tweet '2'): tokens: the gold needs the tweet's tokens"),
        ([UNCO[1], UNCO[1]], ":3 (tweet '2'): image_id repeats the tweet at"),
        ([{**UNCO[1], "gt_entities": None}], ":2: gt_entities: expected a list of entity rows, got NoneType"),
        ([], "gt.json: no tweet"),
    ],
)
def test_unco_gold_problems_name_file_line_and_row(tmp_path, items, message):
    path = write_unco(tmp_path, items)
    if message is None:  # a span with a box row and an unboxed row: one entity, its box
        assert read_unco_gold(path).tweets[0].entities[0].boxes.tolist() == [BOX]
        return
    with pytest.raises(ImportProblems) as exc:
        read_unco_gold(path)
    text = "\n".join(exc.value.problems)
    assert message in text and str(path) in text and "the gold was not read" in str(exc.value)


def test_gold_sources_are_told_apart(tmp_path, sample_dir):
    assert gold_format(write_unco(tmp_path, UNCO)) == "unco"
    assert gold_format(sample_dir) == "release"
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "README.md").write_text("---\nconfigs: []\n---\n")
    assert gold_format(tmp_path / "export") == "export"
    with pytest.raises(Exception, match="gold file or folder not found"):
        gold_format(tmp_path / "missing")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(Exception, match="fifo: not a regular file or a folder"):  # never opened: it would block
        gold_format(tmp_path / "fifo")
    assert read_gold(write_unco(tmp_path, UNCO), "gmner", "test").name == "unco/test"
    (tmp_path / "x.json").write_text("[\n{oops")
    with pytest.raises(DataFormatError, match=r"x.json:2: not JSON"):
        read_gold(tmp_path / "x.json", "gmner", "test", fmt="unco")


def test_gold_diff_command(tmp_path, sample_dir, capsys):
    from smner_bench.loaders import load_gold

    data = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir)]
    ref = load_gold("gmner", "test", data_dir=sample_dir)
    items = []
    for t in ref.tweets:  # the sample's gold as UnCo writes it: one row per box, end inclusive, MISC
        rows = []
        for e in t.entities:
            kind = "MISC" if e.type == "OTHER" else e.type
            for box in e.boxes.tolist() or [[]]:
                rows.append(
                    {"start": e.start, "end": e.end - 1, "entity_type": kind, "phrase": e.text, "region_box": box}
                )
        items.append({"tokens": t.tokens, "image_id": f"{t.id}.jpg", "gt_entities": rows})
    dropped = next(i for i in items if i["gt_entities"])
    dropped["gt_entities"] = dropped["gt_entities"][1:]
    path = write_unco(tmp_path, items)
    out = tmp_path / "diff.json"
    assert main(["gold-diff", str(path), *data, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"other     unco/test ({path}, unco): {len(ref.tweets)} tweets" in printed
    report = json.loads(out.read_text())
    assert report["counts"]["tweets"]["differing"] == 1 and report["tweets"][0]["id"] == dropped["image_id"][:-4]
    assert report["counts"]["other"]["entity_box_pairs"] == sum(len(i["gt_entities"]) for i in items)
    assert report["counts"]["entities"]["same"] == len(ref.entities) - 1
    # the release against itself, read as a folder: nothing differs
    assert main(["gold-diff", str(sample_dir), *data, "--show", "0"]) == 0
    assert f"{len(ref.tweets)} identical, 0 differ" in capsys.readouterr().out
    # errors: a bad file (exit 1, file:line), a missing one (2), an output that is an input (2, nothing read)
    path.write_text('[\n{"image_id": "x.jpg", "gt_entities": [], "tokens": ["a"]},\n{"oops": 1}\n]')
    assert main(["gold-diff", str(path), *data]) == 1
    assert f"{path}:3: image_id: expected '<id>.jpg', got None" in capsys.readouterr().err
    assert main(["gold-diff", str(tmp_path / "missing.json"), *data]) == 2
    assert "gold file or folder not found" in capsys.readouterr().err
    assert main(["gold-diff", str(path), *data, "--json", str(path)]) == 2
    assert "an input of this command" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# the real files: the figures of docs/formats.md
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("version", "dataset", "differing", "same", "span", "groundable"),
    [("v2.0", "gmner", 44, 2496, 1, 0), ("v1", "gmner-v1", 53, 2486, 2, 10)],
)
def test_real_unco_gold_against_the_releases(data_root, tmp_path, capsys, version, dataset, differing, same, span,
                                             groundable):  # fmt: skip
    gt = data_root / "peer-gold" / "unco_twitter_gmner_gt.json"
    out = tmp_path / "diff.json"
    data = ["--dataset", dataset, "--split", "test", "--data-dir", str(data_root / "twitter-gmner" / version)]
    assert main(["gold-diff", str(gt), *data, "--json", str(out)]) == 0
    counts = json.loads(out.read_text())["counts"]
    assert counts["other"] == {"tweets": 1500, "entities": 2497, "groundable": 1022, "boxes": 1228,
                               "entity_box_pairs": 2703}  # fmt: skip
    assert counts["reference"]["entities"] == 2543 and counts["tweets"]["tokens"] == 0
    assert (counts["tweets"]["differing"], counts["entities"]["same"]) == (differing, same)
    e = counts["entities"]
    assert (e["missing"], e["extra"], e["span"], e["type"], e["groundable"], e["boxes"]) == (46, 0, span, 0, groundable,
                                                                                            0)  # fmt: skip
    assert "46 only in the reference" in capsys.readouterr().out
