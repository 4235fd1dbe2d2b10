"""The vectorised RLE reader (benchmark/regions.py ``rle_runs``, made faster for issue 21) against a plain reading
of pycocotools' ``rleFrString`` one character at a time, on random strings: the same runs, or a refusal exactly
when pycocotools would read other runs (a character outside '0'..'o', an unfinished value, a value of more than
7 characters or a negative one of 7, a run outside 0 <= run < 2**32)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from smner_bench.benchmark.regions import encode_rle, mask_ious, rle_problem, rle_runs, rles_valid


def reference(counts: str) -> list[int] | None:
    """The runs pycocotools reads from ``counts``, or None where the validator must refuse it."""
    if any(not "0" <= ch <= "o" for ch in counts):
        return None
    runs: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p == len(counts):
                return None  # unfinished: pycocotools would read past the string
            c = ord(counts[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                if k == 7:
                    return None  # its sign shifted by 35: another number
                x -= 1 << (5 * k)
        if k > 7:
            return None
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return runs if all(0 <= r < 2**32 for r in runs) else None


def strings(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.choice([0, 1, 2, 3, 5, 8, 13, 30])
        kind = rng.random()
        if kind < 0.1:
            chars = [chr(rng.randint(40, 120)) for _ in range(length)] + ["é"] * (rng.random() < 0.1)
        elif kind < 0.5:  # mostly finished values, short and long
            chars = [chr(rng.choice([rng.randint(48, 79), rng.randint(48, 111)])) for _ in range(length)]
        elif kind < 0.8:
            chars = [chr(rng.randint(48, 111)) for _ in range(length)]
        else:  # one-character values only
            chars = [chr(rng.randint(48, 79)) for _ in range(length)]
        out.append("".join(chars))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_reader_reads_what_pycocotools_reads_or_refuses(seed):
    for counts in strings(seed, 2000):
        expected = reference(counts)
        if expected is None:
            with pytest.raises(ValueError):
                rle_runs(counts)
        else:
            assert rle_runs(counts).tolist() == expected, counts


def test_mask_ious_with_golds_of_the_image_size_or_not():
    canvas = np.zeros((5, 4), dtype=bool)
    canvas[1:3, 1:3] = True
    square = encode_rle(canvas)
    canvas[3, 1] = True
    bigger = encode_rle(canvas)  # the square and one pixel more
    other_size = encode_rle(np.ones((4, 5), dtype=bool))
    ious = mask_ious(square, [square, bigger])
    assert ious.dtype == np.float64 and ious.tolist() == [1.0, pytest.approx(4 / 5)]
    assert mask_ious(square, [bigger, other_size, square]).tolist() == [pytest.approx(4 / 5), 0.0, 1.0]
    assert mask_ious(square, [other_size]).tolist() == [0.0] and mask_ious(square, []).shape == (0,)


# --- the batched check (rles_valid) and the submission reader that uses it ----------------------------------------


def reference_problem_free(rle) -> bool:
    """rle_problem's answer, from the plain reader above."""
    runs = reference(rle["counts"])
    return runs is not None and sum(runs) == rle["size"][0] * rle["size"][1] < 2**32


@pytest.mark.parametrize("seed", range(2))
def test_the_batched_check_answers_as_the_plain_reader_on_random_strings(seed):
    rng = random.Random(seed)
    rles = []
    for counts in strings(seed, 3000):
        runs = reference(counts)
        total = sum(runs) if runs else rng.randint(1, 40)
        rles.append({"size": [1, max(total, 1) + rng.choice([0, 0, 0, 1])], "counts": counts})
    expected = [reference_problem_free(rle) for rle in rles]
    assert rles_valid(rles).tolist() == expected == [rle_problem(rle) is None for rle in rles]
    assert 150 < expected.count(True) < 2850  # both answers, many times


TOKENS = ["Ann", "sings", "in", "Paris"]
N_TWEETS = 600  # more lines than one chunk of the reader
SQUARE = encode_rle(np.pad(np.ones((2, 2), dtype=bool), ((1, 2), (1, 1))))  # [5, 4]


@pytest.fixture(scope="module")
def mask_gold():
    from smner_bench.benchmark.gold import gold_from_rows

    rows = [
        {"id": str(i), "tokens": TOKENS, "width": 4, "height": 5,
         "entities": [{"start": 0, "end": 1, "text": "Ann", "type": "PER", "boxes": [[1, 1, 3, 3]], "masks": [SQUARE]}]}
        for i in range(N_TWEETS + 2)
    ]  # fmt: skip
    return gold_from_rows(rows, dataset="tiny", split="test", has_boxes=True, has_masks=True)


BAD_MASKS = [
    {"size": [5, 5], "counts": "62304"},  # the runs cover 20 pixels
    {"size": [4, 5], "counts": "62304"},  # another size than the image's
    {"size": [5, 4], "counts": "6230P"},  # unfinished
    {"size": [5, 4], "counts": "6230~"},
    {"size": [5, 4], "counts": ""},
    {"size": [5, 4], "counts": [20]},
    {"size": [5, 4, 1], "counts": "62304"},
    {"size": [5, 4], "counts": "62304", "x": 1},
    {"size": [5, 4], "counts": "6" + "3" * 7 + "0", "other": None},
    {"size": [5, 4], "counts": "623" + "Q" * 7 + "0" + "4"},  # a value of 8 characters
]


def mixed_lines() -> tuple[list[str], int, int]:
    """Lines of every tweet: valid masks, refused ones (several on a line, in every chunk), and lines whose other
    problems stop the check before their masks (not JSON, an unknown or duplicate id, a field of the wrong type);
    how many refused masks reach the mask check, and how many of them rle_problem refuses (not those of another
    size than the image's)."""
    rng = random.Random(7)
    lines, reaching, refused = [], 0, 0
    for i in range(N_TWEETS):
        entities = []
        for k in range(rng.choice([1, 1, 2, 3])):
            bad = rng.random() < 0.3
            mask = rng.choice(BAD_MASKS) if bad else dict(SQUARE)
            reaching += bad
            refused += bad and rle_problem(mask) is not None
            entities.append({"start": k, "end": k + 1, "type": "PER", "box": None, "mask": mask})
        lines.append(json.dumps({"id": str(i), "entities": entities}))
    for where, line in [(5, '{"id": "x", "entities": [{"type": "PER", "mask": {"size": [5, 5], "counts": "0"}}]}'),
                        (300, '{"id": "4", "entities": [{"type": "PER", "mask": {"size": [5, 5], "counts": "0"}}]}'),
                        (301, '{"id": "9999", "entities": [{"type": "PER", "mask": {"size": 5, "counts": "0"}}]}'),
                        (302, '{"id": "600", "entities": [{"type": 7, "mask": {"size": [5, 5], "counts": "0"}}]}'),
                        (400, '{"id": "601", "entities": [{"type": "PER", "mask": {"size": [5, 5], "counts": "0"'),
                        (401, "")]:  # fmt: skip
        lines.insert(where, line)
    return lines, reaching, refused


def test_the_reader_asks_rle_problem_only_about_the_refused_masks(monkeypatch, mask_gold):
    """Every mask is checked once by rles_valid; rle_problem (one numpy pass per mask) only says why the refused
    ones are wrong: the same messages, in the same order and at the same lines as when it checked each one."""
    from smner_bench.benchmark import submission

    lines, reaching, refused = mixed_lines()

    def problems(**kw) -> list[str]:
        with pytest.raises(submission.InvalidSubmission) as err:
            submission.parse_submission(lines, mask_gold, name="p.jsonl", max_issues=10_000, allow_missing=True, **kw)
        return [str(issue) for issue in err.value.issues]

    asked = []

    def counted(rle):
        asked.append(rle)
        return rle_problem(rle)

    monkeypatch.setattr(submission, "rle_problem", counted)
    batched = problems()
    assert len(asked) == refused and 100 < refused < reaching
    assert all(rle in BAD_MASKS for rle in asked)
    monkeypatch.setattr(submission, "rles_valid", lambda rles: np.zeros(len(rles), dtype=bool))  # one by one
    asked.clear()
    one_by_one = problems()
    assert batched == one_by_one and len(asked) > reaching  # the valid masks too
    monkeypatch.setattr(submission, "CHUNK_LINES", 3)  # chunks that split the lines anywhere
    assert problems() == one_by_one
    monkeypatch.setattr(submission, "CHUNK_LINES", 256)
    monkeypatch.setattr(submission, "CHUNK_BYTES", 300)  # chunks of a line or a few short ones
    assert problems() == one_by_one
    assert any(":303: entities[0].type" in p for p in one_by_one) and any(":402: blank line" in p for p in one_by_one)
    assert sum(".mask: " in p for p in one_by_one) == reaching
