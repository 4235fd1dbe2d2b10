"""Importers of RiVEG release files and H-Index prediction files, on hand-written files."""

from __future__ import annotations

import json

import pytest

from smner_bench.baselines.importers import import_hindex, import_riveg, locate
from smner_bench.benchmark.cli import main
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.scoring import score
from smner_bench.benchmark.submission import read_submission

from .conftest import IN_CI

ROWS = [
    {
        "id": "71044",
        "tokens": ["The", "geometry", "of", "plants", ".", "Garfield", "Park", "Conservatory"],
        "width": 600,
        "height": 400,
        "entities": [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "boxes": []}],
    },
    {
        "id": "475049",
        "tokens": [
            "Join",
            "the",
            "Centennial",
            "of",
            "San",
            "Francisco",
            "City",
            "Hall",
            "!",
            "San",
            "Francisco",
            "City",
            "Hall",
        ],
        "width": 600,
        "height": 400,
        "entities": [
            {"start": 4, "end": 8, "text": "San Francisco City Hall", "type": "LOC", "boxes": [[10, 10, 200, 300]]},
            {"start": 9, "end": 13, "text": "San Francisco City Hall", "type": "LOC", "boxes": []},
        ],
    },
    {"id": "O_1", "tokens": ["nothing"], "width": 10, "height": 10, "entities": []},
]


@pytest.fixture
def gold():
    return gold_from_rows(ROWS, name="gmner/test", has_boxes=True, has_masks=False)


def test_locate_takes_occurrences_in_order():
    tokens = ["a", "San", "Francisco", "b", "San", "Francisco"]
    taken: set = set()
    first = locate(tokens, "San Francisco", taken)
    taken.add(first)
    assert first == (1, 3) and locate(tokens, "San Francisco", taken) == (4, 6)
    assert locate(tokens, "Paris", set()) is None


def test_riveg_release(tmp_path, gold):
    lines = tmp_path / "riveg.txt"
    lines.write_text(
        "Imageid:71044.jpg#7060###Garfield Park(LOC)###Garfield Park(LOC)-A conservatory filled with plants.###0\n"
        "Imageid:475049.jpg#6aac###San Francisco City Hall(LOC)###San Francisco City Hall(LOC)-A building.###2\n"
        "Imageid:475049.jpg#77aa###San Francisco City Hall(LOC)###San Francisco City Hall(LOC)-Again.###2\n"
        "Imageid:475049.jpg#88bb###Mayor Lee(PER)###Mayor Lee(PER)-A man.###0\n"
        "Imageid:999.jpg#0000###Nobody(PER)###Nobody(PER)-x###0\n"
        "garbage line\n",
        encoding="utf-8",
    )
    grounding = tmp_path / "grounding.json"
    grounding.write_text(
        json.dumps(
            [
                {"uniq_id": "475049.jpg#6aac", "box": [12, 11, 198, 290]},
                {"uniq_id": "123.jpg#ffff", "box": [0, 0, 1, 1]},
            ]
        )
    )
    out, report = import_riveg(lines, grounding, gold)
    assert [line["id"] for line in out] == ["71044", "475049", "O_1"]
    garfield = out[0]["entities"][0]
    assert garfield == {"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "box": None}
    halls = out[1]["entities"]
    assert [(e["start"], e["end"], e["box"]) for e in halls[:2]] == [(4, 8, [12.0, 11.0, 198.0, 290.0]), (9, 13, None)]
    assert halls[2] == {"text": "Mayor Lee", "type": "PER", "box": None}  # not in the tokens: text only
    text = "\n".join(report.problems)
    for needle in (
        "77aa has no box",
        "'Mayor Lee' is not among the tweet's tokens",
        "tweet 999 is not in",
        "riveg.txt:6: not 'Imageid:",
        "box of 123.jpg#ffff matches no groundable line",
    ):
        assert needle in text
    assert report.entities == 4 and report.without_span == 1


def test_hindex_predictions(tmp_path, gold):
    pred = tmp_path / "hindex.txt"
    pred.write_text(
        "The geometry of plants . Garfield Park Conservatory\n"
        "Pred: (Garfield Park , [3] , LOC )\n"
        " GT : (Garfield Park , [3] , LOC )\n"
        "\n"
        "nothing\n"
        "Pred: \n"
        " GT : \n"
        "\n"
        "Join the Centennial of San Francisco City Hall ! San Francisco City Hall\n"
        "Pred: (San Francisco City Hall , [1, 2] , LOC ) (San Francisco City Hall , [3] , LOC ) (Hall , [9] , ORG )\n"
        " GT : (San Francisco City Hall , [1] , LOC )\n"
        "\n"
        "{'precision': 0.5, 'recall': 0.5}\n",
        encoding="utf-8",
    )
    candidates = tmp_path / "candidates.json"
    candidates.write_text(
        json.dumps(
            {
                "71044.jpg": [[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 7, 7]],
                "475049": [[0, 0, 9, 9], [10, 10, 200, 300], [5, 5, 50, 50]],
            }
        )
    )
    out, report = import_hindex(pred, candidates, gold)
    assert out[0]["entities"] == [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "box": None}]
    halls = out[1]["entities"]
    assert halls[0]["box"] == [10.0, 10.0, 200.0, 300.0] and (halls[0]["start"], halls[0]["end"]) == (4, 8)
    assert halls[1]["box"] is None and (halls[1]["start"], halls[1]["end"]) == (9, 13)  # id 3 = no region
    assert (halls[2]["start"], halls[2]["end"], halls[2]["box"]) == (7, 8, None)
    text = "\n".join(report.problems)
    assert "aligned by words to tweet 475049" in text and "region 9 but tweet 475049 has 3 candidates" in text
    sub_path = tmp_path / "sub.jsonl"
    sub_path.write_text("".join(json.dumps(line) + "\n" for line in out))
    report_ = score(read_submission(sub_path, gold), gold, task="gmner")
    assert report_["results"]["gmner"]["tp"] == 3  # Garfield Park (none), City Hall 1 (IoU 1), City Hall 2 (none)


def test_import_command(capsys, tmp_path, sample_dir):
    lines = tmp_path / "r.txt"
    lines.write_text("Imageid:s0049.jpg#0001###Nobody(PER)###Nobody(PER)-x###0\n")
    grounding = tmp_path / "g.json"
    grounding.write_text("[]")
    out = tmp_path / "gmner.jsonl"
    command = ["import", "riveg", "--lines", str(lines), "--grounding", str(grounding), "--dataset", "gmner",
               "--split", "test", "--data-dir", str(sample_dir), "-o", str(out)]  # fmt: skip
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "1 entities (1 without a span) in 12 tweets; 1 problems reported" in printed
    grounding.write_text("{not json")
    assert main(command) == 1
    assert "expected a JSON list" in capsys.readouterr().err


def test_imported_riveg_file_becomes_smner_with_one_command(tmp_path, sample_dir, hf_cache, capsys):
    """The whole adapter path with real files: RiVEG release lines -> GMNER -> `smner-bench masks` (a SAM
    checkpoint file, tiny architecture) -> an SMNER submission that scores the grounded entity."""
    if not IN_CI:  # needs [baselines] (torch, segment-anything), which CI installs
        pytest.importorskip("segment_anything")
    from smner_bench.baselines.tiny import save_sam
    from smner_bench.loaders import load_split

    gold = gold_from_rows(
        load_split("smner", sample_dir, "test", cache_dir=hf_cache), name="smner/test", has_boxes=True, has_masks=True
    )
    e = next(e for e in gold.entities if len(e.boxes) and " " not in e.text)
    tweet = gold.tweets[e.tweet]
    (tmp_path / "r.txt").write_text(
        f"Imageid:{tweet.id}.jpg#00aa###{e.text}({e.type})###{e.text}({e.type})-something.###2\n", encoding="utf-8"
    )
    (tmp_path / "g.json").write_text(json.dumps([{"uniq_id": f"{tweet.id}.jpg#00aa", "box": e.boxes[0].tolist()}]))
    data = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]
    riveg = ["import", "riveg", "--lines", str(tmp_path / "r.txt"), "--grounding", str(tmp_path / "g.json")]
    assert main([*riveg, *data, "-o", str(tmp_path / "gmner.jsonl")]) == 0
    sam = ["--sam-checkpoint", str(save_sam(tmp_path / "sam.pth")), "--model-type", "tiny"]
    masks = ["masks", "--predictions", str(tmp_path / "gmner.jsonl"), "--images", str(sample_dir / "images"), *sam]
    assert main([*masks, "-o", str(tmp_path / "smner.jsonl")]) == 0
    sub = read_submission(tmp_path / "smner.jsonl", gold)
    assert sub.tasks() == ("mner", "eeg", "gmner", "ees", "smner")
    results = score(sub, gold, task="smner")["results"]
    assert results["gmner"]["tp"] == results["mner"]["tp"] == 1  # the entity and its exact box
    assert results["smner"]["pred"] == 1
