"""The vectorised RLE reader (benchmark/regions.py ``rle_runs``, made faster for issue 21) against a plain reading
of pycocotools' ``rleFrString`` one character at a time, on random strings: the same runs, or a refusal exactly
when pycocotools would read other runs (a character outside '0'..'o', an unfinished value, a value of more than
7 characters or a negative one of 7, a run outside 0 <= run < 2**32)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from smner_bench.benchmark.regions import encode_rle, mask_ious, rle_runs


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
