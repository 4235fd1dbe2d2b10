"""Every validation rule of the submission format, each with its message; nothing invalid is ever scored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import InvalidSubmission, read_submission
from smner_bench.loaders.labelme import encode_rle

TOKENS = ["Kevin", "Durant", "visits", "Oakland"]
ROWS = [
    {
        "id": "1",
        "tokens": TOKENS,
        "width": 60,
        "height": 40,
        "entities": [
            {
                "start": 0,
                "end": 2,
                "text": "Kevin Durant",
                "type": "PER",
                "boxes": [[0, 0, 10, 10]],
                "masks": [encode_rle(np.ones((40, 60), dtype=bool))],
            }
        ],
    },
    {"id": "2", "tokens": ["nothing"], "width": None, "height": None, "entities": []},
]
OK_ENTITY = {"start": 0, "end": 2, "text": "Kevin Durant", "type": "PER", "box": None}


@pytest.fixture
def gold():
    return gold_from_rows(ROWS, name="tiny/test", has_boxes=True, has_masks=True)


def write_lines(tmp_path, *lines, raw=None):
    path = tmp_path / "pred.jsonl"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def problems(path, gold, **kwargs):
    with pytest.raises(InvalidSubmission) as err:
        read_submission(path, gold, **kwargs)
    return err.value


def one(entity):
    return {"id": "1", "entities": [entity]}


EMPTY2 = {"id": "2", "entities": []}


@pytest.mark.parametrize(
    ("entity", "field", "needle"),
    [
        ({**OK_ENTITY, "start": "0"}, "entities[0].start", "valid integer"),
        ({**OK_ENTITY, "start": 0.0}, "entities[0].start", "valid integer"),
        ({**OK_ENTITY, "start": True}, "entities[0].start", "valid integer"),
        ({**OK_ENTITY, "type": 3}, "entities[0].type", "valid string"),
        ({**OK_ENTITY, "box": "0 0 1 1"}, "entities[0].box", "valid list"),
        ({**OK_ENTITY, "boxes": [[0, 0, 1, 1]]}, "entities[0].boxes", "Extra inputs are not permitted"),
        ({k: v for k, v in OK_ENTITY.items() if k != "type"}, "entities[0].type", "Field required"),
        ({**OK_ENTITY, "start": 0, "end": 5}, "entities[0].start", "outside the 4 tokens"),
        ({**OK_ENTITY, "start": 2, "end": 2}, "entities[0].start", "empty or outside"),
        ({**OK_ENTITY, "start": -1, "end": 1}, "entities[0].start", "empty or outside"),
        ({**OK_ENTITY, "text": "Kevin"}, "entities[0].text", "'Kevin' disagrees with the tokens 0:2: 'Kevin Durant'"),
        ({"text": " ", "type": "PER", "box": None}, "entities[0].text", "empty text"),
        ({"start": 0, "type": "PER", "box": None}, "entities[0]", "give both 'start' and 'end'"),
        ({"type": "PER", "box": None}, "entities[0]", "give 'start'/'end'"),
        ({**OK_ENTITY, "type": "PERSON"}, "entities[0].type", "unknown type 'PERSON'"),
        ({**OK_ENTITY, "box": [0, 0, 1]}, "entities[0].box", "4 finite numbers"),
        ({**OK_ENTITY, "box": [0, 0, 1, float("nan")]}, "entities[0].box", "4 finite numbers"),
        ({**OK_ENTITY, "box": [0, 0, 1, float("inf")]}, "entities[0].box", "4 finite numbers"),
        ({**OK_ENTITY, "box": [5, 0, 1, 1]}, "entities[0].box", "inverted or empty"),
        ({**OK_ENTITY, "box": [0, 3, 1, 3]}, "entities[0].box", "inverted or empty"),
        ({**OK_ENTITY, "box": [-2, 0, 1, 1]}, "entities[0].box", "negative coordinate"),
        ({**OK_ENTITY, "box": [0, 0, 61.5, 10]}, "entities[0].box", "outside the 60x40 image by more than 1 pixel"),
        ({**OK_ENTITY, "box": [0, 0, 10, 41.01]}, "entities[0].box", "outside the 60x40 image"),
        ({**OK_ENTITY, "mask": {"size": [40, 60], "counts": "0"}}, "entities[0].mask", "the runs cover 0 pixels"),
        ({**OK_ENTITY, "mask": {"size": [40, 60], "counts": "abc~"}}, "entities[0].mask", "not a compressed RLE"),
        ({**OK_ENTITY, "mask": {"size": [40, 60], "counts": [2400]}}, "entities[0].mask", "uncompressed lists"),
        ({**OK_ENTITY, "mask": {"size": [40], "counts": "X"}}, "entities[0].mask", "two positive integers"),
        ({**OK_ENTITY, "mask": {"counts": "X"}}, "entities[0].mask", '{"size": [h, w]'),
        (
            {**OK_ENTITY, "mask": encode_rle(np.ones((60, 40), dtype=bool))},
            "entities[0].mask",
            "size [60, 40] differs from the image's [h, w] = [40, 60]",
        ),
        ({**OK_ENTITY, "score": float("nan")}, "entities[0].score", "finite"),
    ],
)
def test_entity_rules(tmp_path, gold, entity, field, needle):
    err = problems(write_lines(tmp_path, one(entity), EMPTY2), gold)
    assert err.total == 1, err
    issue = err.issues[0]
    assert (issue.line, issue.field) == (1, field) and needle in issue.message, str(issue)
    assert str(tmp_path / "pred.jsonl") in str(err) and "nothing was scored" in str(err)


def test_valid_edge_cases_pass(tmp_path, gold):
    lines = [
        one({**OK_ENTITY, "box": [0, 0, 61, 41], "type": "MISC", "score": 0.3}),  # within 1 pixel, MISC = OTHER
        {"id": "2", "entities": [{"text": "nothing", "type": "OTHER", "box": [0, 0, 1e6, 1e6]}]},  # size unknown
    ]
    sub = read_submission(write_lines(tmp_path, *lines), gold)
    assert [p.type for p in sub.predictions] == ["OTHER", "OTHER"]
    assert sub.predictions[0].type_raw == "MISC" and sub.predictions[0].score == 0.3


@pytest.mark.parametrize(
    ("lines", "raw", "expected"),
    [
        (["{not json"], None, [(1, None, "not JSON")]),
        (["[1, 2]"], None, [(1, None, "expected a JSON object, got list")]),
        ([{"id": 1, "entities": []}], None, [(1, "id", "valid string")]),
        ([{"id": "1"}], None, [(1, "entities", "Field required")]),
        ([{"id": "1", "entities": {}}], None, [(1, "entities", "valid list")]),
        ([{"id": "1", "entities": [], "extra": 1}], None, [(1, "extra", "Extra inputs")]),
        ([{"id": "9", "entities": []}], None, [(1, "id", "unknown id '9': not a tweet of tiny/test")]),
        ([EMPTY2, EMPTY2, one(OK_ENTITY)], None, [(2, "id", "duplicate id '2' (first at line 1)")]),
        (
            [{"id": "1", "entities": [OK_ENTITY, {**OK_ENTITY, "type": "ORG"}]}, EMPTY2],
            None,
            [(1, "entities[1]", "duplicate span [0, 2)")],
        ),
        ([], b"", [(None, None, "empty file")]),
        ([], b"\n \n", [(None, None, "empty file")]),
        (
            [],
            b'{"id": "1", "entities": []}\n{"id": "2", "entities": [{"text": "Z\xfcrich"}]}\n',
            [(2, None, "not UTF-8")],
        ),
    ],
)
def test_line_rules(tmp_path, gold, lines, raw, expected):
    err = problems(write_lines(tmp_path, *lines, raw=raw), gold, allow_missing=True)
    assert [(i.line, i.field) for i in err.issues] == [(line, field) for line, field, _ in expected]
    for issue, (_, _, needle) in zip(err.issues, expected, strict=True):
        assert needle in issue.message


def test_missing_ids(tmp_path, gold):
    path = write_lines(tmp_path, one(OK_ENTITY))
    err = problems(path, gold)
    assert err.issues[0].field == "id" and "1 tweets of tiny/test are missing (2)" in err.issues[0].message
    sub = read_submission(path, gold, allow_missing=True)
    assert sub.missing == ["2"] and len(sub.predictions) == 1


def test_task_keys(tmp_path, gold):
    no_box = {k: v for k, v in OK_ENTITY.items() if k != "box"}
    path = write_lines(tmp_path, one(no_box), EMPTY2)
    assert read_submission(path, gold).tasks() == ("mner",)
    err = problems(path, gold, task="gmner")
    assert err.issues[0].field == "box" and "the task gmner needs a 'box' key" in err.issues[0].message
    err = problems(path, gold, task="smner")
    assert err.issues[0].field == "mask"
    mixed = {"id": "1", "entities": [OK_ENTITY, {"start": 3, "end": 4, "type": "LOC"}]}
    err = problems(write_lines(tmp_path, mixed, EMPTY2), gold)
    assert "'box' is given on some entities but not on this one" in err.issues[0].message


def test_all_problems_are_listed_up_to_the_limit(tmp_path, gold):
    bad = [one({**OK_ENTITY, "type": f"X{i}"}) for i in range(3)] + ["nope", "[]"]
    err = problems(write_lines(tmp_path, *bad), gold, max_issues=50)
    assert err.total == 6  # three bad types, but lines 2 and 3 repeat id 1, not JSON, not an object...
    assert [i.line for i in err.issues] == [1, 2, 3, 4, 5, None]
    err = problems(write_lines(tmp_path, *bad), gold, max_issues=2)
    assert err.total == 6 and len(err.issues) == 2 and "... and 4 more" in str(err)
