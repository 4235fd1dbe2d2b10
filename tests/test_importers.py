"""Importers of RiVEG release files and H-Index prediction files: hand-made files, the real RiVEG release, the
command line. The rule under test: an importer writes only what the source says (a box where it gives one, null
where it judged "not in the image"), and every other case is an error naming file:line, with nothing written."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from smner_bench.benchmark.errors import DataFormatError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import overlapping_spans, read_submission, write_submission
from smner_bench.cli import main
from smner_bench.formats.importers import (
    ImportProblems,
    import_hindex,
    import_riveg,
    json_items,
    locate,
    occurrences,
    place_all,
)
from smner_bench.formats.unco import import_unco

from .conftest import IN_CI
from .reports import report_json

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

GARFIELD = "Imageid:71044.jpg#7060###Garfield Park(LOC)###Garfield Park(LOC)-A conservatory filled with plants.###0\n"
HALL_1 = "Imageid:475049.jpg#6aac###San Francisco City Hall(LOC)###San Francisco City Hall(LOC)-A building.###2\n"
HALL_2 = "Imageid:475049.jpg#77aa###San Francisco City Hall(MISC)###San Francisco City Hall(MISC)-Again.###2\n"
MAYOR = "Imageid:475049.jpg#88bb###Mayor Lee(PER)###Mayor Lee(PER)-A man.###0\n"
RELEASE = GARFIELD + HALL_1 + HALL_2 + MAYOR


@pytest.fixture
def gold():
    return gold_from_rows(ROWS, dataset="gmner", split="test", has_boxes=True, has_masks=False)


def problems(exc: pytest.ExceptionInfo) -> str:
    return "\n".join(exc.value.problems)


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------------
# spans and JSON with line numbers
# ---------------------------------------------------------------------------------------------------------------


def test_locate_takes_occurrences_in_order():
    tokens = ["a", "San", "Francisco", "b", "San", "Francisco"]
    taken: set = set()
    first = locate(tokens, "San Francisco", taken)
    taken.add(first)
    assert first == (1, 3) and locate(tokens, "San Francisco", taken) == (4, 6)
    assert locate(tokens, "Paris", set()) is None
    assert locate(tokens, "", set()) is None
    assert locate(["Garfield", "Conservatory"], "Garfield Conserv", set()) is None
    assert locate(["Garfield", "Conservatory"], "Garfield Conserv", set(), prefix=True) == (0, 2)


def test_place_all_places_as_many_as_fit_without_overlaps_and_stays_bounded():
    import time

    # first fit (each on its first free occurrence, in file order) places two of these; all three fit
    tokens = ["a", "b", "a", "b", "a"]
    assert place_all([occurrences(tokens, t) for t in ("b a", "a b", "a")]) == [(3, 5), (0, 2), (2, 3)]
    assert place_all([occurrences(tokens, t) for t in ("a b", "a b", "b a")]) == [(0, 2), (2, 4), None]  # 2 fit
    assert place_all([occurrences(["a", "b", ".", "a"], t) for t in ("a", "a b")]) == [(3, 4), (0, 2)]
    assert occurrences(["Garfield", "Park"], "Garf Pa", prefix=True) == [(0, 2)]
    assert occurrences(["Gar", "Garfield"], "Gar", prefix=True) == [(0, 1), (1, 2)]  # exact ones first
    assert place_all([]) == [] and place_all([[], [(0, 1)]]) == [None, (0, 1)]
    # hostile: many entities with many options in one tweet; the search stops after its steps, the greedy
    # placement stands for more than 100 entities; never an overlap
    for n, size in ((100, 50), (40, 30), (101, 300), (30_000, 60_000)):
        words = ["w"] * size
        start = time.perf_counter()
        spans = place_all([occurrences(words, "w w")] * (n // 2) + [occurrences(words, "w")] * (n - n // 2))
        assert time.perf_counter() - start < 1, n
        placed = sorted(s for s in spans if s is not None)
        assert placed and all(a[1] <= b[0] for a, b in itertools.pairwise(placed)), n


def test_json_items_give_the_line_of_each_item(tmp_path):
    path = write(tmp_path / "g.json", '[\n {"a": 1},\n\n {"b": [1,\n 2]}\n]\n')
    assert json_items(path, kinds="[l") == [(2, None, {"a": 1}), (4, None, {"b": [1, 2]})]
    path = write(tmp_path / "g.jsonl", '{"a": 1}\n{"b": 2}\n\n{"c": 3}\n')
    assert [line for line, _, _ in json_items(path, kinds="[l")] == [1, 2, 4]
    path = write(tmp_path / "c.json", '{\n "1": [],\n "2": [[0, 0, 1, 1]]\n}')
    assert json_items(path, kinds="{") == [(2, "1", []), (3, "2", [[0, 0, 1, 1]])]
    assert json_items(write(tmp_path / "e.json", "[]"), kinds="[l") == []


@pytest.mark.parametrize(
    ("text", "kinds", "message"),
    [
        ('[\n {"a": 1, "a": 2}\n]', "[l", ":2: duplicate key 'a' in one object"),
        ('{\n "1": [],\n "1": []\n}', "{", ":3: duplicate key '1' (first at line 2)"),
        ('[\n {"a": 1},\n {oops}\n]', "[l", ":3: not JSON (Expecting property name"),
        ("[\n" + "[" * 100_000 + "]" * 100_000 + "\n]", "[l", ":2: JSON nested too deeply"),
        ("[\n 1" + "0" * 5000 + "\n]", "[l", ":2: not JSON ("),
        ('[{"a": 1}] x', "[l", ":1: unexpected text after the end"),
        ('[{"a": 1} {"b": 2}]', "[l", ":1: expected ',' or ']'"),
        ('"text"', "[l", ":1: expected a JSON list or JSON Lines"),
        ("[]", "{", ":1: expected a JSON object"),
        ("  \n", "[l", "empty file"),
    ],
)
def test_json_items_refuse_bad_json_with_the_line(tmp_path, text, kinds, message):
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(DataFormatError) as exc:
        json_items(path, kinds=kinds)
    assert message in str(exc.value) and str(path) in str(exc.value)
    assert len(str(exc.value)) < 300  # nothing of the file is echoed at length


def test_gzip_and_non_utf8_are_named(tmp_path):
    (tmp_path / "g.json.gz").write_bytes(b"\x1f\x8b\x08\x00rest")
    with pytest.raises(DataFormatError, match="gzip file: decompress it first"):
        json_items(tmp_path / "g.json.gz")
    (tmp_path / "bad.json").write_bytes(b'[\n"\xff"]')
    with pytest.raises(DataFormatError, match=r"bad.json:2: not UTF-8"):
        json_items(tmp_path / "bad.json")


# ---------------------------------------------------------------------------------------------------------------
# RiVEG
# ---------------------------------------------------------------------------------------------------------------


def test_riveg_without_grounding_is_an_mner_submission(tmp_path, gold):
    out, report = import_riveg(write(tmp_path / "r.txt", RELEASE), None, gold)
    assert [line["id"] for line in out] == ["71044", "475049", "O_1"]
    entities = [e for line in out for e in line["entities"]]
    assert all("box" not in e for e in entities)  # neither a box nor null: the release says neither
    assert entities[0] == {"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC"}
    assert [(e.get("start"), e.get("end"), e["type"]) for e in entities[1:]] == [
        (4, 8, "LOC"),
        (9, 13, "MISC"),  # the second mention, the type as the model wrote it
        (None, None, "PER"),  # not among the tokens: text only
    ]
    assert (report.task, report.entities, report.in_image, report.boxes, report.without_span) == ("mner", 4, 2, 0, 1)
    notes = "\n".join(report.notes)
    assert "r.txt:4: 'Mayor Lee' is not among the tweet's tokens: kept as text only" in notes
    assert "2 of 4 entities judged in the image" in notes and "not their grounding boxes" in notes
    path = tmp_path / "mner.jsonl"
    write_submission(path, out)
    sub = read_submission(path, gold)
    assert sub.tasks() == ("mner",)
    assert report_json(sub, gold, task="mner")["results"]["mner"]["tp"] == 2  # the second City Hall is MISC = OTHER


GROUNDING = ('{"uniq_id": "475049.jpg#6aac", "box": [12, 11, 198, 290]}',
             '{"uniq_id": "475049.jpg#77aa", "box": [300, 0, 600.5, 400]}')  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text"),
    [("g.json", "[\n " + ",\n ".join(GROUNDING) + "\n]\n"), ("g.jsonl", "".join(g + "\n" for g in GROUNDING))],
    ids=["json", "jsonl"],
)
def test_riveg_with_grounding_writes_boxes_and_nulls_only_where_the_release_says(name, text, tmp_path, gold):
    out, report = import_riveg(write(tmp_path / "r.txt", RELEASE), write(tmp_path / name, text), gold)
    boxes = [e["box"] for line in out for e in line["entities"]]
    assert boxes == [None, [12.0, 11.0, 198.0, 290.0], [300.0, 0.0, 600.5, 400.0], None]
    assert (report.task, report.in_image, report.boxes) == ("gmner", 2, 2)
    path = tmp_path / "gmner.jsonl"
    write_submission(path, out)
    results = report_json(read_submission(path, gold, task="gmner"), gold, task="gmner", match="text")["results"]
    assert results["gmner"]["tp"] == 2  # Garfield Park (null = null), City Hall 1 (IoU > 0.5)


def test_riveg_groundable_without_a_box_is_an_error_listing_the_ids(tmp_path, gold):
    extra = "Imageid:475049.jpg#0000###Join(ORG)###x###2\nImageid:475049.jpg#f000###Centennial(OTHER)###x###2\n"
    release = write(tmp_path / "r.txt", RELEASE + extra)
    grounding = write(tmp_path / "g.json", "[]")  # the case: an empty grounding file
    with pytest.raises(ImportProblems) as exc:
        import_riveg(release, grounding, gold)
    text = problems(exc)
    assert "4 of the 4 entities judged in the image (label 2) have no box" in text
    assert "475049.jpg#6aac, 475049.jpg#77aa, 475049.jpg#0000, 475049.jpg#f000" in text
    assert "null would claim 'not in the image'" in text and "import without --grounding" in text
    # many: the first five ids, then the count
    many = RELEASE + "".join(f"Imageid:475049.jpg#a{k:03x}###Hall{k}(ORG)###x###2\n" for k in range(30))
    with pytest.raises(ImportProblems) as exc:
        import_riveg(write(tmp_path / "many.txt", many), grounding, gold)
    assert re.search(
        r"32 of the 32 entities .*: 475049\.jpg#6aac, .*, 475049\.jpg#a002 \.\.\. \(32 in all\)", problems(exc)
    )


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("[200, 10, 100, 300]", "is inverted or empty"),
        ("[-5, 10, 100, 300]", "has a negative coordinate"),
        ("[10, 10, 700, 300]", "lies outside the 600x400 image by more than 1 pixel"),
        ("[10, 10, NaN, 300]", "4 finite numbers"),
        ("[10, 10, Infinity, 300]", "4 finite numbers"),
        ("[10, 10, 100]", "4 finite numbers"),
        ('[10, 10, "100", 300]', "4 finite numbers"),
        ("[true, 10, 100, 300]", "4 finite numbers"),
        ("null", "4 finite numbers"),
    ],
)
def test_riveg_boxes_are_checked_with_the_scorers_rule(tmp_path, gold, box, message):
    grounding = write(
        tmp_path / "g.json",
        '[\n {"uniq_id": "475049.jpg#77aa", "box": [1, 1, 2, 2]},\n {"uniq_id": "475049.jpg#6aac", "box": '
        + box
        + "}\n]",
    )
    with pytest.raises(ImportProblems) as exc:
        import_riveg(write(tmp_path / "r.txt", RELEASE), grounding, gold)
    assert exc.value.problems == [f"{grounding}:3: box: " + exc.value.problems[0].split(": box: ", 1)[1]]
    assert message in exc.value.problems[0]


def test_riveg_duplicates_are_errors_naming_both_lines(tmp_path, gold):
    release = write(tmp_path / "r.txt", RELEASE + HALL_1.replace("A building", "Again"))
    with pytest.raises(ImportProblems) as exc:
        import_riveg(release, None, gold)
    assert problems(exc) == f"{release}:5: duplicate id 475049.jpg#6aac (first at {release}:2)"

    grounding = write(
        tmp_path / "g.json",
        '[{"uniq_id": "475049.jpg#6aac", "box": [1, 1, 2, 2]},\n'
        ' {"uniq_id": "475049.jpg#77aa", "box": [1, 1, 2, 2]},\n'
        ' {"uniq_id": "475049.jpg#6aac", "box": [3, 3, 4, 4]}]',
    )
    with pytest.raises(ImportProblems) as exc:
        import_riveg(write(tmp_path / "ok.txt", RELEASE), grounding, gold)
    assert problems(exc) == f"{grounding}:3: uniq_id: duplicate '475049.jpg#6aac' (first at {grounding}:1)"

    # a third City Hall where the tweet has two: a repeated prediction, not another mention
    third = HALL_1.replace("6aac", "99cc")
    with pytest.raises(ImportProblems) as exc:
        import_riveg(write(tmp_path / "three.txt", RELEASE + third), None, gold)
    assert problems(exc) == (
        f"{tmp_path / 'three.txt'}:5: 'San Francisco City Hall' repeats {tmp_path / 'three.txt'}:2, "
        f"{tmp_path / 'three.txt'}:3: tweet 475049 contains it 2 times (a repeated prediction, not another mention)"
    )
    # a text that is not in the tweet, twice
    with pytest.raises(ImportProblems, match=r"r2.txt:5: 'Mayor Lee' repeats .*r2.txt:4: tweet 475049 contains it 0"):
        import_riveg(write(tmp_path / "r2.txt", RELEASE + MAYOR.replace("88bb", "88cc")), None, gold)


KLAY = ["RT", "@", "SportsCenter", ":", "Klay", "Thompson", ".", "Thompson", "scores", "37"]  # tweet 1866671, cut


@pytest.mark.parametrize(
    ("names", "spans"),
    [
        (["Klay Thompson", "Thompson"], [(4, 6), (7, 8)]),  # the release's order: Thompson was placed at 5:6
        (["Thompson", "Klay Thompson"], [(7, 8), (4, 6)]),  # a first-fit Thompson would block Klay Thompson
        (["Thompson", "Klay Thompson", "Thompson"], [(5, 6), None, (7, 8)]),  # room for two: earliest options
    ],
)
def test_riveg_places_each_entity_on_a_free_occurrence(tmp_path, names, spans):
    """Spans of one tweet never overlap (the datasets are flat): each entity goes to a free occurrence of its words,
    as many placed as can be, the earlier lines first; one that lies inside a placed entity wherever it occurs keeps
    its text only. The written file passes the validator, which refuses overlapping spans."""
    gold = gold_from_rows(
        [{"id": "1866671", "tokens": KLAY, "width": 600, "height": 400, "entities": []}],
        dataset="gmner",
        split="test",
        has_boxes=True,
        has_masks=False,
    )
    lines = "".join(f"Imageid:1866671.jpg#{k:04x}###{n}(PER)###{n}(PER)-x.###0\n" for k, n in enumerate(names))
    out, report = import_riveg(write(tmp_path / "r.txt", lines), None, gold)
    entities = out[0]["entities"]
    assert [(e["start"], e["end"]) if "start" in e else None for e in entities] == spans
    assert [e["text"] for e in entities] == names
    if None in spans:
        assert report.without_span == 1
        note = "r.txt:2: 'Klay Thompson' overlaps a placed entity wherever it occurs: kept as text only"
        assert note in report.notes[0]
    path = tmp_path / "sub.jsonl"
    write_submission(path, out)
    assert len(read_submission(path, gold).predictions) == len(names)


def test_riveg_text_named_more_often_than_it_occurs_lists_the_earlier_lines_once(tmp_path):
    """A text named a thousand times where the tweet has it once: one error per repeat, each naming at most three
    earlier lines (the message never grows with the file)."""
    gold = gold_from_rows(
        [{"id": "1866671", "tokens": KLAY, "width": 600, "height": 400, "entities": []}],
        dataset="gmner",
        split="test",
        has_boxes=True,
        has_masks=False,
    )
    lines = "".join(f"Imageid:1866671.jpg#{k:04x}###Klay Thompson(PER)###x###0\n" for k in range(1000))
    with pytest.raises(ImportProblems) as exc:
        import_riveg(write(tmp_path / "r.txt", lines), None, gold)
    assert len(exc.value.problems) == 999
    assert exc.value.problems[-1] == (
        f"{tmp_path / 'r.txt'}:1000: 'Klay Thompson' repeats {tmp_path / 'r.txt'}:1: tweet 1866671 contains it 1 "
        "time (a repeated prediction, not another mention)"
    )


def test_riveg_release_problems_are_all_listed_and_nothing_is_returned(tmp_path, gold):
    release = write(
        tmp_path / "r.txt",
        RELEASE
        + "garbage line\n"
        + "Imageid:999.jpg#0000###Nobody(PER)###Nobody(PER)-x###0\n"
        + "Imageid:71044.jpg#0001###Garfield(LOC)###x###1\n"
        + "Imageid:71044.jpg#0002###Garfield(CITY)###x###0\n"
        + "Imageid:71044.jpg#0003###(PER)###x###0\n"
        + "Imageid:71044.jpg###Garfield(LOC)###x###0\n"
        + "Imageid:71044.jpg#0004###Garfield(LOC)###x###"
        + "x" * 10_000
        + "\n",
    )
    grounding = write(
        tmp_path / "g.json",
        '[{"uniq_id": "71044.jpg#7060", "box": [1, 1, 2, 2]},\n {"uniq_id": "123.jpg#ffff", "box": [0, 0, 1, 1]},\n'
        ' {"uniq_id": "475049.jpg#6aac", "box": [1, 1, 2, 2], "score": 0.9},\n'
        ' {"uniq_id": "nonsense", "box": [0, 0, 1, 1]}]',
    )
    with pytest.raises(ImportProblems) as exc:
        import_riveg(release, grounding, gold)
    text = problems(exc)
    for needle in (
        "r.txt:5: expected 'Imageid:<id>.jpg#<hex>###<Entity>(<TYPE>)###<expression>###<0|2>', got 'garbage line'",
        "r.txt:6: tweet '999' is not in gmner/test (another split?)",
        "r.txt:7: expected the label 0 (not in the image) or 2 (in the image), got '1'",
        "r.txt:8: expected '<Entity>(<TYPE>)' with TYPE in PER/LOC/ORG/OTHER/MISC, got 'Garfield(CITY)'",
        "r.txt:9: expected '<Entity>(<TYPE>)'",
        "r.txt:10: expected 'Imageid:",
        "r.txt:11: expected the label 0 (not in the image) or 2 (in the image), got 'xxxxx",
        "g.json:1: uniq_id 71044.jpg#7060: a box for an entity the release judged not in the image (",
        "g.json:2: uniq_id 123.jpg#ffff matches no entity line of the release",
        'g.json:3: expected {"uniq_id": "<id>.jpg#<hex>", "box": [x1, y1, x2, y2]}, got [\'box\', \'score\',',
        "g.json:4: uniq_id: expected '<id>.jpg#<hex>', got 'nonsense'",
        "2 entities judged in the image (label 2) have no box",
    ):
        assert needle in text, needle
    assert max(len(p) for p in exc.value.problems) < 400  # a 10,000-character label is not echoed
    assert "12 problems in the imported files; nothing was written" in str(exc.value)


def test_riveg_empty_release_is_an_error(tmp_path, gold):
    with pytest.raises(ImportProblems, match="no entity line"):
        import_riveg(write(tmp_path / "r.txt", "\n\n"), None, gold)


def test_riveg_crlf_and_bom_are_read(tmp_path, gold):
    release = write(tmp_path / "r.txt", "\ufeff" + RELEASE.replace("\n", "\r\n"))
    out, report = import_riveg(release, None, gold)
    assert report.entities == 4 and out[0]["entities"][0]["text"] == "Garfield Park"


# ---------------------------------------------------------------------------------------------------------------
# H-Index
# ---------------------------------------------------------------------------------------------------------------

HINDEX = (
    "The geometry of plants . Garfield Park Conservatory\n"
    "Pred: ( Garfield Park Conserv , [16] , <<location>> ) \n"
    " GT : ( Garfield Park , [16] , <<location>> ) \n"
    "\n"
    "Join the Centennial of San Francisco City Hall ! San Francisco City Hall\n"
    "Pred: (San Francisco City Hall , [1, 2] , LOC ) (San Francisco City Hall , [16] , LOC ) (Hall , [0] , ORG )\n"
    " GT : (San Francisco City Hall , [1] , LOC )\n"
    "\n"
    "{'precision': 0.5, 'recall': 0.5}\n"
)
CANDIDATES = '{\n "71044.jpg": [[0, 0, 5, 5]],\n "475049": [[0, 0, 9, 9], [10, 10, 200, 300], [5, 5, 50, 50]]\n}\n'


def test_hindex_with_candidates(tmp_path, gold):
    pred, cands = write(tmp_path / "h.txt", HINDEX), write(tmp_path / "c.json", CANDIDATES)
    out, report = import_hindex(pred, cands, gold)
    assert [line["id"] for line in out] == ["71044", "475049"]  # O_1 has no block: not written
    assert out[0]["entities"] == [
        {"start": 5, "end": 8, "text": "Garfield Park Conservatory", "type": "LOC", "box": None}
    ]  # placed by word prefixes (H-Index prints the first sub-word of each word); [16] = no region
    halls = out[1]["entities"]
    assert [(e.get("start"), e.get("end"), e["box"]) for e in halls] == [
        (4, 8, [10.0, 10.0, 200.0, 300.0]),  # the first (most confident) of the listed ids
        (9, 13, None),
        (None, None, [0.0, 0.0, 9.0, 9.0]),  # each 'Hall' lies inside a City Hall: never a nested span
    ]
    assert halls[2] == {"text": "Hall", "type": "ORG", "box": [0.0, 0.0, 9.0, 9.0]}
    assert (report.task, report.entities, report.in_image, report.boxes, report.tweets_missing) == (
        "gmner",
        4,
        2,
        2,
        1,
    )
    assert report.without_span == 1
    notes = "\n".join(report.notes)
    assert "h.txt:2: tuple 1: 'Garfield Park Conserv' placed at tokens 5:8 (placed by word prefixes)" in notes
    assert "h.txt:6: tuple 3: 'Hall' overlaps a placed entity wherever it occurs: kept as text only" in notes
    assert "1 tweets of gmner/test have no block (O_1): not written; score with allow_missing=True" in notes
    path = tmp_path / "sub.jsonl"
    write_submission(path, out)
    report_ = report_json(read_submission(path, gold, task="gmner", allow_missing=True), gold, task="gmner")
    assert report_["results"]["gmner"]["tp"] == 2  # City Hall 1 (IoU 1), City Hall 2 (none)


def test_hindex_without_candidates_is_an_mner_submission(tmp_path, gold):
    out, report = import_hindex(write(tmp_path / "h.txt", HINDEX), None, gold)
    assert all("box" not in e for line in out for e in line["entities"])
    assert report.task == "mner" and report.in_image == 2
    assert "no --candidates file: wrote an MNER submission" in "\n".join(report.notes)


def test_hindex_box_num_is_the_no_region_id(tmp_path, gold):
    text = HINDEX.replace("[16]", "[3]")
    out, _ = import_hindex(write(tmp_path / "h.txt", text), write(tmp_path / "c.json", CANDIDATES), gold, box_num=3)
    assert out[1]["entities"][1]["box"] is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[0] , ORG", "[3] , ORG", "h.txt:6: tuple 3: region 3 is a padding slot: image 475049 has 3 candidates"),
        ("[0] , ORG", "[17] , ORG", "h.txt:6: tuple 3: region 17 is outside 0..16"),
        ("[0] , ORG", "[] , ORG", "h.txt:6: tuple 3: an empty region list (H-Index writes [16] for 'no region')"),
        ("[0] , ORG", "[x] , ORG", "h.txt:6: tuple 3: region ids must be integers"),
        ("(Hall , [0] , ORG )", "(Hall , [0] , ORG ) junk", "h.txt:6: not '(<span> , [<region ids>] , <TYPE> )'"),
        ("Pred: (San", "Prediction (San", "h.txt:5: expected the tweet's words, then a 'Pred:' line"),
        ("Join the", "Leave the", "h.txt:5: the words match no tweet of gmner/test: 'Leave the"),
        (
            "(Hall , [0] , ORG )",
            "(San Francisco City Hall , [0] , ORG )",
            "h.txt:6: tuple 3: 'San Francisco City Hall' repeats h.txt:6: tuple 1, h.txt:6: tuple 2",
        ),
    ],
)
def test_hindex_prediction_problems(tmp_path, gold, old, new, message):
    assert old in HINDEX
    pred = write(tmp_path / "h.txt", HINDEX.replace(old, new))
    with pytest.raises(ImportProblems) as exc:
        import_hindex(pred, write(tmp_path / "c.json", CANDIDATES), gold)
    assert message in problems(exc).replace(str(tmp_path) + "/", "")
    assert str(pred) in problems(exc)


def test_hindex_duplicate_block_names_both_lines(tmp_path, gold):
    block = HINDEX.split("\n\n")[0] + "\n\n"
    pred = write(tmp_path / "h.txt", block + block)
    with pytest.raises(ImportProblems) as exc:
        import_hindex(pred, None, gold)
    assert problems(exc) == f"{pred}:5: repeats the block of tweet 71044 at {pred}:1"


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ('{\n "475049": [[0, 0, 9, 9], [10, 10, 700, 300]]\n}', "c.json:2: 475049[1]: [10, 10, 700, 300] lies outside"),
        ('{\n "475049": [[0, 0, 9, 9], [10, 10, 5, 300]]\n}', "c.json:2: 475049[1]: [10, 10, 5, 300] is inverted"),
        ('{\n "475049": [[0, 0, 9, 9], [1, 2]]\n}', "c.json:2: 475049[1]: expected [x1, y1, x2, y2]"),
        ('{\n "475049": [[0, 0, 9, 9]],\n "475049.jpg": []\n}', "c.json:3: image '475049.jpg' repeats line 2"),
        ('{\n "475049": {"a": 1}\n}', "c.json:2: '475049': expected a list of [x1, y1, x2, y2] boxes"),
        ('{\n "1": []\n}', "h.txt:6: tuple 1: region 1, but"),
    ],
)
def test_hindex_candidate_problems(tmp_path, gold, candidates, message):
    block = HINDEX.split("\n\n")[1] + "\n\n"
    pred = write(tmp_path / "h.txt", "\n\n\n\n" + block)  # the block starts on line 5 as in HINDEX
    cands = write(tmp_path / "c.json", candidates)
    with pytest.raises(ImportProblems) as exc:
        import_hindex(pred, cands, gold)
    assert message in problems(exc).replace(str(tmp_path) + "/", "")


# ---------------------------------------------------------------------------------------------------------------
# MQSPN/UnCo prediction JSON
# ---------------------------------------------------------------------------------------------------------------

GARFIELD_TOKENS = ROWS[0]["tokens"]
HALL_TOKENS = ROWS[1]["tokens"]


def unco_file(tmp_path, *items, name="u.json"):
    """A JSON list, one tweet object per line (so that the n-th object is on line n + 1)."""
    return write(tmp_path / name, "[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n")


def garfield(drop=(), **row):
    entity = {"start": 5, "end": 6, "entity_type": "LOC", "phrase": "Garfield Park", "region_box": [], **row}
    entity = {k: v for k, v in entity.items() if k not in drop}
    return {"tokens": GARFIELD_TOKENS, "image_id": "71044.jpg", "pre_entities": [entity]}


def halls(*rows):
    return {"image_id": "475049.jpg", "pre_entities": list(rows)}


HALL_A = {
    "start": 4,
    "end": 7,
    "entity_type": "MISC",
    "phrase": "San Francisco City Hall",
    "region_box": [10, 10, 200, 300],
}
HALL_B = {"start": 9, "end": 12, "entity_type": "LOC", "region_box": []}


def test_unco_region_box_shape_is_a_gmner_submission(tmp_path, gold):
    """MQSPN's and UnCo's LLM shape: ``region_box`` ([] = not in the image), ``end`` inclusive, MISC as written."""
    out, report = import_unco(unco_file(tmp_path, garfield(), halls(HALL_A, HALL_B)), gold)
    assert out == [
        {"id": "71044", "entities": [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "box": None}]},
        {
            "id": "475049",
            "entities": [
                {
                    "start": 4,
                    "end": 8,
                    "text": "San Francisco City Hall",
                    "type": "MISC",
                    "box": [10.0, 10.0, 200.0, 300.0],
                },
                {"start": 9, "end": 13, "text": "San Francisco City Hall", "type": "LOC", "box": None},
            ],
        },
    ]
    assert (report.task, report.entities, report.in_image, report.boxes, report.tweets_missing) == ("gmner", 3, 1, 1, 1)
    assert "1 tweets of gmner/test are not in the file (O_1): not written" in "\n".join(report.notes)
    path = tmp_path / "sub.jsonl"
    write_submission(path, out)
    results = report_json(read_submission(path, gold, task="gmner", allow_missing=True), gold, task="gmner")
    assert results["results"]["gmner"]["tp"] == 2  # Garfield Park and the second City Hall (the first is MISC = OTHER)


def test_unco_region_index_shapes(tmp_path, gold):
    """``region`` + ``mapping_regions`` (their evaluator's second shape: 1-based, 0 = none) and UnCo test.py's rows
    (``region`` with ``region_box``, one row per predicted region, uncertainties): identical rows are one entity;
    rows of one span with other regions are an error unless --first-box keeps the first."""
    mapping = [[0, 0, 5, 5], [10, 10, 200, 300]]
    a = {"start": 4, "end": 7, "entity_type": "LOC", "region": 2, "mapping_regions": mapping}
    b = {"start": 9, "end": 12, "entity_type": "LOC", "region": 0, "mapping_regions": mapping}
    out, report = import_unco(unco_file(tmp_path, halls(a, b)), gold)
    assert [(e["start"], e["box"]) for e in out[0]["entities"]] == [(4, [10.0, 10.0, 200.0, 300.0]), (9, None)]
    test_py = {"start": 4, "end": 7, "entity_type": "LOC", "region": 2, "region_box": [10, 10, 200, 300],
               "span_uncertainty": 0.1, "bpe_start_idx": 7, "phrase": "San Francisco City Hall"}  # fmt: skip
    other = {**test_py, "region": 1, "region_box": [0, 0, 5, 5]}
    out, report = import_unco(unco_file(tmp_path, halls(test_py, dict(test_py))), gold)
    assert len(out[0]["entities"]) == 1 and report.notes[0].startswith("2 tweets")  # the same pair twice: one
    path = unco_file(tmp_path, halls(test_py, other))
    with pytest.raises(ImportProblems) as exc:
        import_unco(path, gold)
    assert problems(exc) == (
        f"{path}:2 (tweet '475049'): pre_entities[1]: repeats the span of pre_entities[0] with another region: a "
        "submission gives one region per entity (--first-box keeps the first row's)"
    )
    out, report = import_unco(path, gold, first_box=True)
    assert out[0]["entities"][0]["box"] == [10.0, 10.0, 200.0, 300.0]
    assert f"{path}:2 (tweet '475049'): pre_entities[1]: another region for the span of pre_entities[0]" in (
        "\n".join(report.notes)
    )


def test_unco_without_regions_is_mner_and_json_lines_with_img_id_are_read(tmp_path, gold):
    rows = [{"start": 5, "end": 6, "entity_type": "LOC"}]
    path = write(tmp_path / "u.jsonl", json.dumps({"img_id": "71044.jpg", "pre_entities": rows}) + "\n")
    out, report = import_unco(path, gold)
    assert out == [{"id": "71044", "entities": [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC"}]}]
    assert report.task == "mner" and "no row gives a region" in report.notes[-1]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([garfield(start=None)], ":2 (tweet '71044'): pre_entities[0].start/end: the span is left open"),
        ([garfield(end=None)], "pre_entities[0].start/end: the span is left open (missing or null)"),
        ([garfield(end=8)], "pre_entities[0].start/end: [5, 8] (end inclusive) is empty or outside the 8 tokens"),
        ([garfield(start=6, end=5)], "[6, 5] (end inclusive) is empty or outside"),
        ([garfield(start="5")], "start/end: token offsets (integers) expected, got '5', 6"),
        ([garfield(start=True)], "start/end: token offsets (integers) expected"),
        (
            [garfield(entity_type="None-type")],
            "pre_entities[0].entity_type: expected one of PER, LOC, ORG, MISC, OTHER",
        ),
        ([garfield(entity_type="loc")], "entity_type: expected one of"),
        ([garfield(phrase="Garfield")], "pre_entities[0]: phrase 'Garfield' is not the tokens 5..6 ('Garfield Park')"),
        ([garfield(phrase=7)], "phrase 7 is not the tokens 5..6"),
        ([{**garfield(), "tokens": ["x"] * 8}], "the file's tokens 5..6 are 'x x', the split's are 'Garfield Park'"),
        ([{**garfield(), "tokens": ["x"] * 6}], "pre_entities[0]: [5, 6] lies outside the file's own 6 tokens"),
        ([{**garfield(), "tokens": "The geometry"}], ":2: tokens: expected a list of strings"),
        (
            [garfield(drop=["region_box"], region=3, mapping_regions=[[0, 0, 1, 1]])],
            "region: 3 is outside mapping_regions (1)",
        ),
        ([garfield(drop=["region_box"], region=2)], "indexes boxes the row does not give"),
        ([{**garfield(), "pre_entities": [{"start": 5, "end": 6, "entity_type": "LOC", "region": 2}]}], "(no mapping"),
        ([garfield(region=-1)], "region: expected 0 (not in the image) or a 1-based index, got -1"),
        ([garfield(region=1)], "pre_entities[0]: region 1 and region_box [] disagree"),
        ([garfield(region=0, region_box=[1, 1, 2, 2])], "region 0 and region_box [1, 1, 2, 2] disagree"),
        ([garfield(region=1, region_box=[1, 1, 2, 2], mapping_regions=[[1, 1, 3, 3]])], "disagree"),
        ([garfield(region_box=[10, 10, 700, 300])], "region_box: [10, 10, 700, 300] lies outside the 600x400 image"),
        (
            [garfield(region_box="[1, 2, 3, 4]")],
            "region_box: expected [x1, y1, x2, y2], or [] for not in the image, got",
        ),
        ([garfield(region_box=None)], "pre_entities[0].region_box: expected [x1, y1, x2, y2], or [] for not in the"),
        ([garfield(region_box=[1, 1, "2", 2])], "pre_entities[0].region_box: expected [x1, y1, x2, y2]: 4 finite"),
        ([garfield(region_box=[5, 5, 1, 1])], "is inverted or empty"),
        (
            [garfield(), halls(HALL_A, {"start": 9, "end": 12, "entity_type": "LOC"})],
            ":3 (tweet '475049'): pre_entities[1]: no region_box (nor region + mapping_regions) where other rows",
        ),
        (
            [halls(HALL_A, {**HALL_A, "entity_type": "ORG"})],
            "pre_entities[1]: entity_type ORG where pre_entities[0] of",
        ),
        ([halls(HALL_A, {**HALL_B, "start": 7, "end": 9})], "pre_entities[1]: [7, 9] overlaps pre_entities[0] [4, 7]"),
        ([halls(HALL_A, {**HALL_B, "start": 5, "end": 5, "phrase": "Francisco"})], "overlaps pre_entities[0] [4, 7]"),
        ([garfield(), garfield()], ":3 (tweet '71044'): repeats the tweet at"),
        ([{**garfield(), "image_id": "999.jpg"}], "(tweet '999'): not a tweet of gmner/test (another split?)"),
        ([{**garfield(), "image_id": ".jpg"}], ":2: image_id: expected '<id>.jpg', got '.jpg'"),
        ([{"pre_entities": []}], ":2: image_id: expected '<id>.jpg', got None"),
        ([{**garfield(), "pre_entities": {}}], ":2: pre_entities: expected a list of entity rows, got dict"),
        ([{**garfield(), "pre_entities": [[5, 6]]}], "pre_entities[0]: expected an object"),
        (["71044.jpg"], ":2: expected an object per tweet, got str"),
        ([], "u.json: no tweet"),
    ],
)
def test_unco_problems_name_the_file_the_tweet_and_the_row(tmp_path, gold, items, message):
    path = unco_file(tmp_path, *items)
    with pytest.raises(ImportProblems) as exc:
        import_unco(path, gold)
    assert message in problems(exc) and str(path) in problems(exc)
    assert "nothing was written" in str(exc.value)


def test_unco_file_problems_are_listed_together(tmp_path, gold):
    path = unco_file(tmp_path, garfield(start=None), halls({**HALL_A, "entity_type": "X"}, {**HALL_B, "end": 99}))
    with pytest.raises(ImportProblems) as exc:
        import_unco(path, gold)
    assert len(exc.value.problems) == 3 and "3 problems in the imported files" in str(exc.value)
    write(path, "{not json")
    with pytest.raises(DataFormatError, match=r"u.json:1: not JSON"):
        import_unco(path, gold)


# ---------------------------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------------------------


def test_import_command(capsys, tmp_path, sample_dir):
    release = write(tmp_path / "r.txt", "Imageid:s0049.jpg#0001###Nobody(PER)###Nobody(PER)-x###2\n")
    out = tmp_path / "sub.jsonl"
    data = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir)]
    command = ["import", "riveg", "--lines", str(release), *data]
    assert main([*command, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        "(MNER submission): 12 tweets, 1 entities (1 without a span; 1 judged in the image; no boxes)" in captured.out
    )
    assert "note: no --grounding file: wrote an MNER submission (no 'box' keys)" in captured.err
    assert '"box"' not in out.read_text()
    # with a grounding file that lacks the box: exit 1, nothing written
    grounding = write(tmp_path / "g.json", "[]")
    out2 = tmp_path / "gmner.jsonl"
    assert main([*command, "--grounding", str(grounding), "-o", str(out2)]) == 1
    err = capsys.readouterr().err
    assert "1 problem in the imported files; nothing was written" in err and "s0049.jpg#0001" in err
    assert not out2.exists()
    write(grounding, "{not json")
    assert main([*command, "--grounding", str(grounding), "-o", str(out2)]) == 1
    assert f"{grounding}:1: not JSON" in capsys.readouterr().err
    # output paths: never an input, never a missing folder (exit 2)
    before = release.read_text()
    assert main([*command, "-o", str(release)]) == 2
    assert "an input of this command" in capsys.readouterr().err and release.read_text() == before
    assert main([*command, "-o", str(tmp_path / "missing" / "x.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["import", "hindex", "--predictions", str(release), "--box-num", "0", *data, "-o", str(out)])
    assert exit_.value.code == 2
    assert "--box-num" in capsys.readouterr().err


def test_imported_riveg_file_becomes_smner_with_one_command(tmp_path, sample_dir, smner_gold, capsys):
    """The whole adapter path with real files: RiVEG release lines -> GMNER -> `smner-bench masks` (a SAM
    checkpoint file, tiny architecture) -> an SMNER submission that scores the grounded entity."""
    if not IN_CI:  # needs [baselines] (torch, segment-anything), which CI installs
        pytest.importorskip("segment_anything")
    from smner_bench.baselines.tiny import save_sam

    gold = smner_gold
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
    results = report_json(sub, gold, task="smner")["results"]
    assert results["gmner"]["tp"] == results["mner"]["tp"] == 1  # the entity and its exact box
    assert results["smner"]["pred"] == 1


# ---------------------------------------------------------------------------------------------------------------
# the real RiVEG release (../shared/data/riveg-release)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gm(data_root, hf_cache):
    from smner_bench.loaders import load

    ds = load("gmner", data_root / "twitter-gmner" / "v2.0", cache_dir=hf_cache)["test"]
    cols = ds.select_columns(["id", "tokens", "width", "height", "entities"])
    return gold_from_rows(cols, dataset="gmner", split="test", has_boxes=True, has_masks=False)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "lines", "in_image", "without_span", "mner_tp"),
    [("OFAVE_to_OFAREC_augment.txt", 2535, 1044, 10, 2213), ("OFAVE_to_OFAREC.txt", 2604, 1189, 0, None)],
)
def test_real_release_imports_as_mner(data_root, gm, tmp_path, name, lines, in_image, without_span, mner_tp):
    release = data_root / "riveg-release" / name
    out, report = import_riveg(release, None, gm)
    assert (report.entities, report.in_image, report.without_span, report.boxes) == (
        lines,
        in_image,
        without_span,
        0,
    )
    assert sum(line.rstrip("\r\n").endswith("###2") for line in release.open(encoding="utf-8")) == in_image
    assert len(out) == 1500 and all("box" not in e for line in out for e in line["entities"])
    # flat: the first-fit placement put 12 (8 in the _augment file) entities inside others, e.g. Thompson in Klay
    # Thompson while a free Thompson follows; each now has a free occurrence of its own
    spans = {line["id"]: [(e["start"], e["end"]) for e in line["entities"] if "start" in e] for line in out}
    assert not [i for i, s in spans.items() if overlapping_spans(s)]
    assert {(0, 2), (8, 9)} <= set(spans["O_3434"])  # Donald Trump will loose 3 - 5 . Trump worst candidate
    path = tmp_path / "mner.jsonl"
    write_submission(path, out, inputs=[release])
    sub = read_submission(path, gm)
    assert sub.tasks() == ("mner",)
    results = report_json(sub, gm, task="mner")["results"]["mner"]
    assert results["pred"] == lines
    if mner_tp is not None:
        assert results["tp"] == mner_tp  # text matching (10 entities have no span), as `score --task mner` gives
    # a tiny grounding file for a few of the entities judged in the image: the error lists the others
    judged = [
        line.split("###")[0].removeprefix("Imageid:")
        for line in release.open(encoding="utf-8")
        if line.rstrip().endswith("###2")
    ]
    grounding = tmp_path / "g.json"
    grounding.write_text(json.dumps([{"uniq_id": u, "box": [1, 1, 2, 2]} for u in judged[:3]]), encoding="utf-8")
    with pytest.raises(ImportProblems) as exc:
        import_riveg(release, grounding, gm)
    (problem,) = exc.value.problems
    assert f"{in_image - 3} of the {in_image} entities judged in the image (label 2) have no box: " in problem
    assert ", ".join(judged[3:8]) + f" ... ({in_image - 3} in all)" in problem
    assert judged[0] not in problem


@pytest.mark.realdata
def test_real_release_through_the_command_line(data_root, tmp_path, capsys):
    release = data_root / "riveg-release" / "OFAVE_to_OFAREC.txt"
    data = ["--dataset", "gmner", "--split", "test", "--data-dir", str(data_root / "twitter-gmner" / "v2.0")]
    out = tmp_path / "riveg.jsonl"
    assert main(["import", "riveg", "--lines", str(release), *data, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1189 of 2604 entities judged in the image" in captured.err
    assert main(["score", str(out), "--task", "mner", *data]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"MNER\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\s+2604\s+2543", printed), printed
    assert main(["score", str(out), "--task", "gmner", *data]) == 1  # no box keys: GMNER cannot be scored
    assert "needs a 'box' key on every entity" in capsys.readouterr().err


@pytest.mark.realdata
def test_real_unco_gold_rows_import_as_predictions(data_root, gm, tmp_path):
    """The MQSPN/UnCo gold file with its rows renamed pre_entities is a prediction file of their evaluator's shape:
    one row per entity-box pair. Its 206 extra rows of multi-box entities are errors (one region per entity) until
    --first-box; then the 2,497 entities import, and MNER finds 2,496 of v2.0's 2,543 (gold-diff: 46 entities are
    missing from their file, one has other boundaries)."""
    items = json.loads((data_root / "peer-gold" / "unco_twitter_gmner_gt.json").read_text(encoding="utf-8"))
    for item in items:
        item["pre_entities"] = item.pop("gt_entities")
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(items, indent=1), encoding="utf-8")
    with pytest.raises(ImportProblems) as exc:
        import_unco(path, gm)
    assert len(exc.value.problems) == 206 and all("--first-box" in p for p in exc.value.problems)
    out, report = import_unco(path, gm, first_box=True)
    assert (report.entities, report.boxes, report.tweets_missing) == (2497, 1022, 0)
    write_submission(tmp_path / "sub.jsonl", out)
    results = report_json(read_submission(tmp_path / "sub.jsonl", gm, task="gmner"), gm, task="gmner")["results"]
    assert (results["mner"]["tp"], results["mner"]["pred"], results["mner"]["gold"]) == (2496, 2497, 2543)
    assert results["gmner"]["tp"] == 2496  # their first box of each entity is one of the release's boxes


def test_import_unco_command(capsys, tmp_path, sample_dir):
    from smner_bench.loaders import load_gold

    data = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir)]
    tweet = next(t for t in load_gold("gmner", "test", data_dir=sample_dir).tweets if t.entities)
    e = tweet.entities[0]
    row = {"start": e.start, "end": e.end - 1, "entity_type": e.type, "region_box": []}
    pred = unco_file(tmp_path, {"image_id": f"{tweet.id}.jpg", "tokens": tweet.tokens, "pre_entities": [row]})
    out = tmp_path / "sub.jsonl"
    assert main(["import", "unco", "--predictions", str(pred), *data, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "(GMNER submission): 1 tweets, 1 entities (0 without a span; 0 judged in the image; 0 boxes, 1 null)" in (
        printed.out
    )
    assert "tweets of gmner/test are not in the file" in printed.err
    line = json.loads(out.read_text())
    assert line == {"id": tweet.id, "entities": [{"start": e.start, "end": e.end, "text": e.text, "type": e.type,
                                                  "box": None}]}  # fmt: skip
    rows = [row, {**row, "region_box": [1, 1, 2, 2]}]
    unco_file(tmp_path, {"image_id": f"{tweet.id}.jpg", "pre_entities": rows})
    out.unlink()
    assert main(["import", "unco", "--predictions", str(pred), *data, "-o", str(out)]) == 1
    assert f"{pred}:2 (tweet '{tweet.id}'): pre_entities[1]: repeats the span" in capsys.readouterr().err
    assert not out.exists()
    assert main(["import", "unco", "--first-box", "--predictions", str(pred), *data, "-o", str(out)]) == 0
    assert "kept the first" in capsys.readouterr().err and json.loads(out.read_text())["entities"][0]["box"] is None


# ---------------------------------------------------------------------------------------------------------------
# hostile files: mutations of the hand-made files either import into a file the validator accepts, or raise an
# SmnerError (exit 1/2 with file:line), never anything else; a long hostile line stays linear
# ---------------------------------------------------------------------------------------------------------------

TOKENS = [b"NaN", b"1e999", b"-1", b"99999999999999999999", b"[", b"]", b"{", b"}", b'"', b",", b"\n", b"\r\n"]
TOKENS += [b"###", b"#", b".jpg", b"(PER)", b"(MISC)", b"###2", b"###0", b"[16]", b"[0]", b"\x00", b"\xff"]
TOKENS += ["\ufeff".encode(), b"Pred: ", b"<<person>>", b" , ", b'"box"', b'"uniq_id"', b"null", b"true", b"  "]
TOKENS += [b'"region": 1', b'"end": ', b'"start": 9', b'"region_box": []', b'"image_id": "O_1.jpg"', b'"MISC"', b"-1"]


def _mutate(data: bytes, edits) -> bytes:
    for kind, at, size, token in edits:
        at = at % (len(data) + 1)
        if kind == 0:
            data = data[:at] + TOKENS[token % len(TOKENS)] + data[at:]
        elif kind == 1:
            data = data[:at] + data[at + size :]
        elif kind == 2:
            data = data[:at] + data[at : at + size] * 2 + data[at + size :]
        else:
            data = data[:at] + TOKENS[token % len(TOKENS)] + data[at + size :]
    return data


def _check_import(tmp_path, gold, fn, files: dict[str, bytes], **kwargs):
    from smner_bench.benchmark.errors import SmnerError

    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    try:
        out, report = fn(*paths.values(), gold, **kwargs)
    except SmnerError as exc:
        assert len(str(exc)) < 20_000
        return
    path = tmp_path / "out.jsonl"
    write_submission(path, out)
    read_submission(path, gold, task=report.task, allow_missing=True)  # whatever imports, validates


def test_fuzz_importers(tmp_path_factory, gold):
    """400 mutated pairs of files by default (about 7 s); SMNER_FUZZ_SCALE=10 for a longer run (about 50 s).
    Derandomized (CI runs the same examples); hypothesis prints the failing example and its blob on failure."""
    from hypothesis import given
    from hypothesis import strategies as st

    from .fuzzing import fuzz_settings

    edits = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 40), st.integers(0, 100)), max_size=6
    )
    riveg = {"r.txt": RELEASE.encode(), "g.json": b'[{"uniq_id": "475049.jpg#6aac", "box": [12, 11, 198, 290]},\n'}
    riveg["g.json"] += b' {"uniq_id": "475049.jpg#77aa", "box": [300, 0, 600, 400]}]'
    hindex = {"h.txt": HINDEX.encode(), "c.json": CANDIDATES.encode()}
    mapping = {"region": 2, "mapping_regions": [[0, 0, 5, 5], [10, 10, 200, 300]]}
    unco = [garfield(), halls(HALL_A, {**HALL_B, "region": 0, "region_box": []}, {**HALL_A, **mapping})]
    sources = {
        "riveg": (import_riveg, riveg),
        "hindex": (import_hindex, hindex),
        "unco": (import_unco, {"u.json": json.dumps(unco, indent=1).encode()}),
    }

    @fuzz_settings(400)
    @given(st.sampled_from(sorted(sources)), edits, edits)
    def run(which, first, second):
        tmp = tmp_path_factory.mktemp("fuzz")
        fn, files = sources[which]
        mutated = {name: _mutate(data, e) for (name, data), e in zip(files.items(), (first, second), strict=False)}
        _check_import(tmp, gold, fn, mutated)

    run()


def test_hostile_hindex_line_is_linear(tmp_path, gold):
    import time

    block = HINDEX.split("\n\n")[0].split("\n")
    for pred in (
        "Pred: " + "(a , [" * 200_000,
        "Pred: " + "(" * 1_000_000,
        "Pred: " + "(Garfield , [16] , LOC ) " * 20_000,
    ):
        start = time.perf_counter()
        with pytest.raises(ImportProblems):
            import_hindex(write(tmp_path / "h.txt", "\n".join([block[0], pred, block[2]]) + "\n"), None, gold)
        assert time.perf_counter() - start < 5
