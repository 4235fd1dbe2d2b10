"""Every validation rule of the submission format, each with its message; nothing invalid is ever scored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.regions import encode_rle
from smner_bench.benchmark.submission import InvalidSubmission, read_submission

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
    return gold_from_rows(ROWS, dataset="tiny", split="test", has_boxes=True, has_masks=True)


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
        ([], b"\n \n", [(1, None, "blank line"), (2, None, "blank line"), (None, None, "empty file")]),
        ([], b'{"id": "1", "entities": []}\n\n{"id": "2", "entities": []}\n', [(2, None, "blank line")]),
        ([], b'{"id": "1", "entities": []}\n{"id": "2", "entities": []}\n\n', [(3, None, "blank line")]),
        ([], b'{"id": "1", "entities": []}\r\n\r\n{"id": "2", "entities": []}\r\n', [(2, None, "blank line")]),
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


def test_overlapping_spans_are_refused_naming_both_entities(tmp_path, gold):
    """The four datasets are flat: a span nested in or crossing another of the same tweet is an error on the later
    entity of the line naming the earlier one, whatever their order; touching spans and text-only entities pass."""
    spans = {"Kevin Durant": (0, 2), "Durant": (1, 2), "Durant visits": (1, 3), "Oakland": (3, 4)}

    def line(*texts):
        return {"id": "1", "entities": [{"start": spans[t][0], "end": spans[t][1], "type": "PER"} for t in texts]}

    cases = [
        (("Kevin Durant", "Durant"), [("entities[1]", "span [1, 2) overlaps entities[0] [0, 2)")]),
        (("Durant", "Kevin Durant"), [("entities[1]", "span [0, 2) overlaps entities[0] [1, 2)")]),
        (("Oakland", "Kevin Durant", "Durant visits"), [("entities[2]", "span [1, 3) overlaps entities[1] [0, 2)")]),
        (
            ("Kevin Durant", "Oakland", "Durant", "Durant visits"),
            [("entities[2]", "overlaps entities[0] [0, 2)"), ("entities[3]", "overlaps entities[0] [0, 2)")],
        ),
    ]
    for texts, expected in cases:
        err = problems(write_lines(tmp_path, line(*texts), EMPTY2), gold)
        assert [(i.line, i.field) for i in err.issues] == [(1, field) for field, _ in expected], texts
        for issue, (_, needle) in zip(err.issues, expected, strict=True):
            assert needle in issue.message and "the datasets are flat" in issue.message
    assert f"{tmp_path / 'pred.jsonl'}:1: entities[1]: span [1, 2) overlaps entities[0] [0, 2)" in str(
        problems(write_lines(tmp_path, line("Kevin Durant", "Durant"), EMPTY2), gold)
    )
    touching = line("Kevin Durant", "Oakland")
    touching["entities"].append({"text": "Durant", "type": "PER"})  # no span: nothing to overlap
    assert len(read_submission(write_lines(tmp_path, touching, EMPTY2), gold).predictions) == 3


def test_many_overlapping_spans_are_checked_quickly(tmp_path, gold, monkeypatch):
    """A line of 15,000 entities all nested in one another: one issue per entity after the first, found in
    O(n log n) (a pairwise check took minutes)."""
    import time

    from smner_bench.benchmark import submission

    tokens = ["w"] * 15_001
    monkeypatch.setattr(gold.tweets[0], "tokens", tokens)
    entities = [{"start": 0, "end": k, "type": "PER"} for k in range(1, 15_001)]
    start = time.perf_counter()
    err = problems(write_lines(tmp_path, {"id": "1", "entities": entities}, EMPTY2), gold, max_issues=3)
    assert time.perf_counter() - start < 10
    assert err.total == 14_999 and err.issues[0].field == "entities[1]"
    assert submission.overlapping_spans([(0, 3), (3, 4), (1, 2), (2, 5)]) == [
        ((1, 2), (0, 3)),
        ((2, 5), (0, 3)),
        ((3, 4), (2, 5)),
    ]


def test_all_problems_are_listed_up_to_the_limit(tmp_path, gold):
    bad = [one({**OK_ENTITY, "type": f"X{i}"}) for i in range(3)] + ["nope", "[]"]
    err = problems(write_lines(tmp_path, *bad), gold, max_issues=50)
    assert err.total == 6  # three bad types, but lines 2 and 3 repeat id 1, not JSON, not an object...
    assert [i.line for i in err.issues] == [1, 2, 3, 4, 5, None]
    err = problems(write_lines(tmp_path, *bad), gold, max_issues=2)
    assert err.total == 6 and len(err.issues) == 2 and "... and 4 more" in str(err)


# Hostile files: bounded, reported with the file and the line, never an internal error.


def deep(levels: int) -> str:
    """A line of ``levels`` nested JSON levels in all (the line's own object counts as one)."""
    return '{"id": "2", "entities": [], "x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize(
    ("line", "field", "needle"),
    [
        ('{"id": "2", "entities": [], "entities": []}', None, "duplicate key 'entities' in one object"),
        (
            '{"id": "1", "entities": [{"start": 0, "end": 2, "type": "PER", "type": "LOC", "box": null}]}',
            None,
            "duplicate key 'type'",
        ),
        (deep(33), None, "nested deeper than 32 levels"),
        ("[" * 100_000, None, "nested deeper than 32 levels"),
        ("[" * 100_000 + "]" * 100_000, None, "nested deeper than 32 levels"),
        ('{"id": "2", "entities": [], "x": ' + '{"a": ' * 5000, None, "nested deeper than 32 levels"),
        ('{"id": "2", "entities": [], "x": ' + "{" * 5000, None, "nested deeper than 32 levels"),
        ('{"id": "2", "entities": [], "x": ' + "{" * 10, None, "not JSON (Expecting property name"),
        ('{"id": "1", "entities": [{"start": ' + "9" * 5000 + ', "end": 2, "type": "PER"}]}', None, "more than 18"),
        ('{"id": "1", "entities": [{"start": -' + "9" * 19 + ', "end": 2, "type": "PER"}]}', None, "more than 18"),
        ('{"id": "2", "entities": [], "x": [' + ",".join(["0"] * 100_001) + "]}", None, "JSON values on one line"),
        (deep(32), "x", "Extra inputs are not permitted"),  # 32 levels parse; the key is then unknown
        (
            '{"id": "1", "entities": [{"start": ' + "9" * 18 + ', "end": 2, "type": "PER"}]}',
            "entities[0].start",
            "span",
        ),
        (
            '{"id": "1", "entities": [{"text": "Kevin Durant", "type": "PER", "box": [0, 0, 1e999, 1]}]}',
            "entities[0].box",
            "finite",
        ),
        (
            '{"id": "1", "entities": [{"text": "Kevin Durant", "type": "PER", "score": NaN}]}',
            "entities[0].score",
            "finite",
        ),
        (
            '{"id": "1", "entities": [{"text": "Kevin Durant", "type": "PER", "score": -Infinity}]}',
            "entities[0].score",
            "finite",
        ),
    ],
)
def test_hostile_lines(tmp_path, gold, line, field, needle):
    other = EMPTY2 if '"id": "1"' in line else one(OK_ENTITY)
    err = problems(write_lines(tmp_path, line, other), gold)
    issues = [i for i in err.issues if i.line == 1]
    assert len(issues) == 1 and issues[0].field == field and needle in issues[0].message, str(err)
    assert len(str(err)) < 1000


def test_echoed_values_are_cut(tmp_path, gold):
    huge = "x" * 3_000_000  # three times on line 2: 9 MB, within the 10 MiB of a line
    lines = [
        {"id": huge, "entities": []},
        {"id": "1", "entities": [{**OK_ENTITY, "type": huge, "text": huge}]},
        {"id": "2", "entities": [], huge: 1},
    ]
    err = problems(write_lines(tmp_path, *lines), gold)
    text = str(err)
    assert len(text) < 2000, text[:3000]
    assert "unknown id 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (3000000 characters)" in text
    assert "unknown type 'xxxx" in text and "disagrees with the tokens 0:2" in text
    assert "pred.jsonl:3: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (3000000 characters): Extra inputs" in text
    assert all(len(i.message) <= 200 and len(i.field or "") <= 80 for i in err.issues)


def test_a_line_longer_than_the_limit_is_skipped_in_chunks(tmp_path, gold, monkeypatch):
    from smner_bench.benchmark import submission

    monkeypatch.setattr(submission, "MAX_LINE_BYTES", 1000)
    ok = json.dumps(one(OK_ENTITY)).encode()
    path = write_lines(tmp_path, raw=b'{"id": "2", "x": "' + b"y" * 5000 + b'"}\n' + ok + b"\n" + b"z" * 1001)
    err = problems(path, gold)
    assert [(i.line, i.message) for i in err.issues] == [
        (1, "line longer than 0 MiB (the limit of one line)"),
        (3, "line longer than 0 MiB (the limit of one line)"),
        (None, "1 tweets of tiny/test are missing (2); " + err.issues[-1].message.split("; ", 1)[1]),
    ]
    exact = write_lines(tmp_path, raw=ok + b" " * (999 - len(ok)) + b"\n" + json.dumps(EMPTY2).encode())
    assert read_submission(exact, gold).seen == {"1", "2"}  # 999 bytes and the newline: within the limit


@pytest.mark.parametrize(
    ("head", "needle"),
    [
        (b"\x1f\x8b\x08\x00", "gzip-compressed: decompress it first"),
        (b"PK\x03\x04", "a zip archive"),
        (b"BZh91AY", "bzip2-compressed"),
        (b"\xfd7zXZ\x00", "xz-compressed"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
        (b"\xef\xbb\xbf", "UTF-8 byte-order mark (BOM)"),
        (b"\xff\xfe", "UTF-16 encoded"),
        (b"\xfe\xff", "UTF-16 encoded"),
        (b'{"id": "1"}\n\x00\x01', "binary data (a NUL byte at byte 12)"),
    ],
)
def test_files_that_are_not_json_lines_get_one_message(tmp_path, gold, head, needle):
    body = (json.dumps(one(OK_ENTITY)) + "\n" + json.dumps(EMPTY2) + "\n").encode() * 100 + b"\xff\n" * 200
    err = problems(write_lines(tmp_path, raw=head + body), gold)
    assert err.total == 1 and err.issues[0].line is None and needle in err.issues[0].message, str(err)


def test_a_real_gzip_file_gets_the_hint(tmp_path, gold):
    import gzip

    raw = (json.dumps(one(OK_ENTITY)) + "\n" + json.dumps(EMPTY2) + "\n").encode()
    err = problems(write_lines(tmp_path, raw=gzip.compress(raw * 50)), gold)
    assert err.total == 1 and "gzip-compressed: decompress it first (gunzip" in str(err)


def test_crlf_and_a_missing_final_newline_are_valid(tmp_path, gold):
    raw = (json.dumps(one(OK_ENTITY)) + "\r\n" + json.dumps(EMPTY2)).encode()
    assert read_submission(write_lines(tmp_path, raw=raw), gold).seen == {"1", "2"}


def test_the_summary_says_how_many_were_not_shown(tmp_path, gold):
    err = problems(write_lines(tmp_path, raw=b"nope\n" * 500), gold, max_issues=3)
    text = str(err)
    assert err.total == 501 and text.count("\n") == 4  # 500 bad lines and the missing ids; 3 shown
    assert text.endswith("... and 498 more problems not shown (max_issues=N lists more)")  # the Python argument


# --- in memory: parse_submission ------------------------------------------------------------------------


def issues_of(call):
    with pytest.raises(InvalidSubmission) as err:
        call()
    return [str(i) for i in err.value.issues], err.value.total


BAD_FILE = [
    json.dumps(one({**OK_ENTITY, "type": "CAT"})),
    "",
    json.dumps({"id": "9", "entities": []}),
    "{not json",
    json.dumps(one(OK_ENTITY)),
]


@pytest.mark.parametrize("max_issues", [50, 2])
def test_parse_submission_gives_the_messages_of_reading_the_file(tmp_path, gold, max_issues):
    from smner_bench.benchmark import parse_submission

    path = write_lines(tmp_path, *BAD_FILE)
    from_file = issues_of(lambda: read_submission(path, gold, max_issues=max_issues))
    in_memory = issues_of(lambda: parse_submission(BAD_FILE, gold, name=str(path), max_issues=max_issues))
    assert in_memory == from_file
    assert from_file[1] == 6  # bad type, blank line 2, unknown id 9, not JSON, duplicate id, id 2 missing
    expected = [
        f"{path}:1: entities[0].type: unknown type 'CAT' (expected PER, LOC, ORG, OTHER; MISC = OTHER)",
        f"{path}:2: blank line: expected one JSON object per line, with no empty lines",
    ]
    assert from_file[0][:2] == expected[:max_issues]


def test_parse_submission_accepts_lines_with_or_without_newlines_and_hashes_the_file_they_make(tmp_path, gold):
    from smner_bench.benchmark import parse_submission

    lines = [json.dumps(one(OK_ENTITY)), json.dumps(EMPTY2)]
    path = write_lines(tmp_path, *lines)
    from_file = read_submission(path, gold)
    text = path.read_text(encoding="utf-8")
    for given in (lines, [x + "\n" for x in lines], text.splitlines(keepends=True), [text], text):
        sub = parse_submission(given, gold, name="p.jsonl")
        assert sub.file == "p.jsonl" and sub.seen == {"1", "2"} and sub.sha256 == from_file.sha256
        assert [(p.line, p.text, p.type) for p in sub.predictions] == [(1, "Kevin Durant", "PER")]
    assert parse_submission(iter(lines), gold).file == "<lines>"  # any iterable, read once


def test_parse_submission_keeps_the_line_bounds_and_line_numbers_of_a_joined_text(gold, monkeypatch):
    from smner_bench.benchmark import submission

    monkeypatch.setattr(submission, "MAX_LINE_BYTES", 1000)
    ok = json.dumps(one(OK_ENTITY))
    issues, total = issues_of(lambda: submission.parse_submission(["x" * 1001, ok + "\n" + "y" * 999], gold))
    assert total == 3 and issues[0] == "<lines>:1: line longer than 0 MiB (the limit of one line)"
    assert issues[1].startswith("<lines>:3: not JSON")  # the joined text's second line is line 3
    exact = ok + " " * (1000 - len(ok))
    assert submission.parse_submission([exact + "\n", json.dumps(EMPTY2)], gold).seen == {"1", "2"}


def test_parse_submission_rules_need_the_task_key_and_refuse_nothing_valid(gold):
    from smner_bench.benchmark import parse_submission

    no_box = {k: v for k, v in OK_ENTITY.items() if k != "box"}
    lines = [json.dumps(one(no_box)), json.dumps(EMPTY2)]
    assert parse_submission(lines, gold).tasks() == ("mner",)
    issues, _ = issues_of(lambda: parse_submission(lines, gold, task="gmner", name="m.jsonl"))
    assert issues == ["m.jsonl:1: box: the task gmner needs a 'box' key on every entity (null for not in the image)"]
    issues, _ = issues_of(lambda: parse_submission([], gold, name="m.jsonl"))
    assert issues[0] == "m.jsonl: empty file: expected one JSON object per tweet"
    assert parse_submission([lines[0]], gold, allow_missing=True).missing == ["2"]


def test_read_submission_reads_an_open_binary_file_such_as_a_gzip_stream(tmp_path, gold):
    import gzip

    path = write_lines(tmp_path, json.dumps(one(OK_ENTITY)), json.dumps(EMPTY2))
    packed = tmp_path / "copy.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with gzip.open(packed, "rb") as f:
        sub = read_submission(f, gold, name="pred.jsonl")
    assert (sub.file, sub.sha256, sub.seen) == ("pred.jsonl", read_submission(path, gold).sha256, {"1", "2"})
    with gzip.open(packed, "rb") as f:
        issues, _ = issues_of(lambda: read_submission(f, gold, name="pred.jsonl", task="smner"))
    assert issues == [
        "pred.jsonl:1: mask: the task smner needs a 'mask' key on every entity (null for not in the image)"
    ]
    with open(packed, "rb") as f:  # the file-level checks come first
        issues, _ = issues_of(lambda: read_submission(f, gold, name="copy.jsonl.gz"))
    assert issues[0].startswith("copy.jsonl.gz: gzip-compressed: decompress it first")


def test_in_memory_lines_may_be_dicts_and_other_values_name_the_argument():
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.scoring import score_lines

    gold = gold_from_rows(
        [{"id": "1", "tokens": ["Ann", "sings"], "entities": [{"start": 0, "end": 1, "text": "Ann", "type": "PER"}]}],
        dataset="demo", split="test", has_boxes=False, has_masks=False,
    )
    line = {"id": "1", "entities": [{"start": 0, "end": 1, "type": "PER"}]}
    as_dict, as_text = score_lines([line], gold), score_lines([json.dumps(line)], gold)
    assert as_dict.main.f1 == as_text.main.f1 == 1.0 and as_dict.submission.sha256 == as_text.submission.sha256
    with pytest.raises(InvalidSubmission, match="box"):  # a dict is validated like its JSON line
        score_lines([{"id": "1", "entities": [{"start": 0, "end": 1, "type": "PER", "box": [float("nan")] * 4}]}], gold)
    with pytest.raises(UsageError, match=r"lines\[0\]: expected a JSON string, bytes or a dict, got int"):
        score_lines([3], gold)


def test_a_file_without_any_box_is_told_so_once(gold):
    """--task gmner on an MNER file listed the same problem for every entity (50 lines and "N more problems"):
    it is one problem, with the count."""
    from smner_bench.benchmark import parse_submission

    no_box = {k: v for k, v in OK_ENTITY.items() if k != "box"}
    lines = [json.dumps({"id": "1", "entities": [no_box, {**no_box, "start": 3, "end": 4, "text": "Oakland"}]}),
             json.dumps(EMPTY2)]  # fmt: skip
    issues, _ = issues_of(lambda: parse_submission(lines, gold, task="gmner", name="m.jsonl"))
    assert issues == [
        "m.jsonl: box: none of the 2 entities has a 'box' key: the task gmner needs a 'box' key on every entity "
        "(null for not in the image); task='mner' scores a file without regions"
    ]
