"""Regions, in one place: COCO compressed RLE (encode, decode, merge, strict validation), mask IoU and the box
IoU kernel. Loaders, the scorer, the baselines, the leaderboard and the tests all use these.

Masks are COCO compressed RLE dicts ``{"size": [h, w], "counts": "<str>"}`` (string counts, as JSON keeps them);
pycocotools does the work. pycocotools decodes a counts string without checking it: a malformed string can make
it write past its buffer, and a value wider than its 32-bit counts is read as another number.
:func:`rle_problem` checks the string first (the character range, values pycocotools reads as written, runs
that fit its 32-bit counts and add up to exactly ``h * w``), with the same decoding rules as pycocotools'
``rleFrString``, vectorised; decode only what it accepted (or what this module encoded). :func:`rles_valid`
gives its yes or no for many masks at once (a submission's), in a few passes over their strings.

Boxes are ``[x1, y1, x2, y2]`` on continuous coordinates; :func:`box_iou_pairs` is the one IoU kernel
(:func:`box_ious` and the scorer's matching call it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

# What pycocotools' C reader (maskApi.c rleFrString) reads as written. It adds each character's 5 payload bits
# into a value with an ``int`` shift of 5 * position, then the sign as ``-1 << 5 * length`` (also an ``int``),
# and keeps the run in a 32-bit ``uint``; counts after the third are differences with the count two places
# before. So a value's low 32 bits are right while the shifts stay below 32: up to 7 characters (positions
# 0..6), and a negative value up to 6 (a 7-character one shifts its sign by 35: x86 builds shift by 3 and read
# another number). Its writer (rleToString) writes a 32-bit count difference in at most 7 characters.
MAX_VALUE_CHARS = 7
COUNT_LIMIT = 2**32  # runs are uint: 0 <= run < 2**32, and pycocotools counts a mask's pixels in 32 bits too
_MAX_COUNTS_CHARS = 2**28  # values < 2**35, so the running sums below stay far inside int64
_COUNT_CHARS = bytes(range(48, 112))  # '0'..'o'
_PAYLOAD = np.zeros(256, dtype=np.int64)
_PAYLOAD[48:112] = np.arange(64) & 0x1F


def rle_runs(counts: str) -> np.ndarray:
    """The run lengths encoded by a compressed counts string, exactly as pycocotools reads them (int64);
    ValueError saying what is wrong when pycocotools would read other runs (a character outside '0'..'o',
    an unfinished value, a value longer than 7 characters, a negative 7-character value) or a run is
    outside its 32-bit counts (negative, or 2**32 and more).

    >>> rle_runs("62304").tolist()   # a 5x4 mask with a 2x2 square: 6 zeros, 2 ones, 3 zeros, 2 ones, 4 zeros
    [6, 2, 3, 2, 7]
    """
    if len(counts) > _MAX_COUNTS_CHARS:
        raise ValueError(f"longer than {_MAX_COUNTS_CHARS} characters")
    try:
        data = counts.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("a character outside '0'..'o'") from None
    if not data:
        return np.zeros(0, dtype=np.int64)
    if data.translate(None, _COUNT_CHARS):  # what is left is outside '0'..'o'
        raise ValueError("a character outside '0'..'o'")
    if data[-1] >= 80:  # its 0x20 bit (of the character - 48) says that the value goes on
        raise ValueError("the last value is unfinished")
    # (few numpy calls, each on the whole string: a submission's thousands of masks are checked one by one)
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw < 80)  # the last character of each value: its 0x20 bit is clear
    lengths = ends + 1
    lengths[1:] -= ends[:-1] + 1
    longest = int(lengths.max())
    if longest > MAX_VALUE_CHARS:
        raise ValueError(
            f"value {int(np.argmax(lengths > MAX_VALUE_CHARS))} has more than {MAX_VALUE_CHARS} characters "
            "(pycocotools reads 32-bit counts: it would read another number)"
        )
    if longest == MAX_VALUE_CHARS:
        wrong = (raw[ends] >= 64) & (lengths == MAX_VALUE_CHARS)  # negative: the 0x10 bit of the last character
        if wrong.any():
            raise ValueError(
                f"value {int(np.argmax(wrong))} is a negative "
                f"{MAX_VALUE_CHARS}-character value (pycocotools would read another number)"
            )
    payload = _PAYLOAD[raw]  # the 5 low bits of each character - 48
    if longest == 1:
        values = payload
    else:
        starts = ends + 1 - lengths
        position = np.arange(raw.size) - np.repeat(starts, lengths)
        values = np.add.reduceat(payload << (5 * position), starts)  # each below 2**35 in magnitude
    values -= (payload[ends] >> 4) << (5 * lengths)  # a negative value's sign, as -1 << 5 * length
    # counts after the third are stored as differences with the count two places before: runs 1, 3, 5... and
    # 2, 4, 6... are the running sums of their values, the two columns of the pairs (1, 2), (3, 4)...
    runs = np.zeros(values.size + 1 - values.size % 2, dtype=np.int64)  # an odd size: pairs after the first
    runs[: values.size] = values
    np.cumsum(runs[1:].reshape(-1, 2), axis=0, out=runs[1:].reshape(-1, 2))
    runs = runs[: values.size]
    if runs.min() < 0:
        raise ValueError(f"run {int(np.argmax(runs < 0))} is negative")
    if runs.max() >= COUNT_LIMIT:
        wide = int(np.argmax(runs >= COUNT_LIMIT))
        raise ValueError(f"run {wide} is {int(runs[wide])} pixels, more than pycocotools' 32-bit counts hold")
    return runs


def _shape_problem(rle: Any) -> str | None:
    """What is wrong with an RLE dict before its counts string is read (its keys, its size, the type of its
    counts), or None: the checks :func:`rle_problem` and :func:`rles_valid` share."""
    if not isinstance(rle, dict) or set(rle) != {"size", "counts"}:
        return 'expected {"size": [h, w], "counts": "<compressed string>"}'
    size = rle["size"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return "size must be [h, w] with two positive integers"
    if size[0] * size[1] >= COUNT_LIMIT:
        return f"size {size} has 2**32 pixels or more (pycocotools counts pixels in 32 bits)"
    if not isinstance(rle["counts"], str):
        return "counts must be the compressed RLE string (uncompressed lists are not accepted)"
    return None


def rle_problem(rle: Any) -> str | None:
    """What is wrong with a COCO compressed RLE dict, or None when it is valid: pycocotools reads exactly the
    runs of :func:`rle_runs` from it, and they add up to ``h * w`` (below 2**32).

    >>> rle_problem({"size": [5, 4], "counts": "62304"}) is None
    True
    >>> rle_problem({"size": [5, 5], "counts": "62304"})
    'the runs cover 20 pixels, the size [5, 5] has 25'
    """
    problem = _shape_problem(rle)
    if problem is not None:
        return problem
    size, counts = rle["size"], rle["counts"]
    try:
        runs = rle_runs(counts)
    except ValueError as exc:
        return f"counts is not a compressed RLE string: {exc}"
    total = int(runs.sum())  # runs < 2**32 and fewer than 2**28 of them: no overflow
    if total != size[0] * size[1]:
        return f"the runs cover {total} pixels, the size {size} has {size[0] * size[1]}"
    return None


# characters of counts read by one vectorised pass of rles_valid: its int64 arrays (8 bytes a character) stay in
# the CPU's cache and below malloc's mmap threshold (128 KiB), which every larger array pays in page faults (on a
# submission of 2,500 masks at 640x640: 20 ms in passes of 8,192 characters, 40-50 ms in passes of 16,384 or 1M)
_BATCH_CHARS = 1 << 13


def rles_valid(rles: Sequence[Any]) -> np.ndarray:
    """For each item, whether :func:`rle_problem` accepts it (``rle_problem(rle) is None``), with the counts
    strings of many masks read in a few vectorised passes over their concatenation instead of one pass each
    (a submission's thousands of short strings cost mostly numpy's fixed cost per call). Only a yes or no: ask
    :func:`rle_problem` why one is refused.

    >>> rles_valid([{"size": [5, 4], "counts": "62304"}, {"size": [5, 5], "counts": "62304"}, None]).tolist()
    [True, False, False]
    """
    ok = np.zeros(len(rles), dtype=bool)
    picked: list[int] = []  # the items whose shape is right; their strings are read below
    strings: list[str] = []
    pixels: list[int] = []
    for i, rle in enumerate(rles):  # rle_problem's checks before the string, in plain Python
        if _shape_problem(rle) is not None:
            continue
        size, counts = rle["size"], rle["counts"]
        # an empty string has no runs (h * w >= 1 pixels); a long or non-ASCII one is refused by rle_runs
        if not counts or not counts.isascii() or len(counts) > _MAX_COUNTS_CHARS:
            continue
        picked.append(i)
        strings.append(counts)
        pixels.append(size[0] * size[1])
    first = 0
    while first < len(strings):  # batches of about _BATCH_CHARS characters (at least one string)
        last, chars = first + 1, len(strings[first])
        while last < len(strings) and chars + len(strings[last]) <= _BATCH_CHARS:
            chars += len(strings[last])
            last += 1
        good = _strings_cover(strings[first:last], np.array(pixels[first:last], dtype=np.int64))
        ok[np.array(picked[first:last])[good]] = True
        first = last
    return ok


def _strings_cover(strings: list[str], pixels: np.ndarray) -> np.ndarray:
    """Whether each non-empty ASCII counts string is one :func:`rle_runs` reads, with runs adding up to the
    pixels given for it: rle_runs' steps on the concatenated strings, with every value ended at the end of its
    string and the running sums of the runs restarted at each string."""
    data = "".join(strings).encode("ascii")
    raw = np.frombuffer(data, dtype=np.uint8)
    string_ends = np.cumsum(np.fromiter(map(len, strings), dtype=np.intp, count=len(strings))) - 1
    bad = raw[string_ends] >= 80  # the last value is unfinished
    if data.translate(None, _COUNT_CHARS):  # a character outside '0'..'o' (rare: which strings, one by one)
        bad |= np.array([bool(s.encode("ascii").translate(None, _COUNT_CHARS)) for s in strings])
    finished = raw < 80
    finished[string_ends] = True  # no value goes on into the next string
    ends = np.flatnonzero(finished)
    last_value = np.searchsorted(ends, string_ends)  # the index of each string's last value
    first_value = np.r_[0, last_value[:-1] + 1]
    lengths = np.diff(ends, prepend=-1)
    longest = int(lengths.max())
    if longest >= MAX_VALUE_CHARS:  # pycocotools would read another number: a value of 8+ or a negative of 7
        wrong = (lengths > MAX_VALUE_CHARS) | ((lengths == MAX_VALUE_CHARS) & (raw[ends] >= 64))
        bad |= np.logical_or.reduceat(wrong, first_value)
    # the values of the strings still in the running are those of rle_runs; the others' are only kept finite
    # most values have one character: the last character of each, shifted into place, plus the few others
    last = _PAYLOAD[raw[ends]]
    sign = last >> 4
    shifts = 5 * np.minimum(lengths, MAX_VALUE_CHARS)  # (the ones of longer values, refused, are kept small)
    if longest == 1:
        values = last
    else:
        values = last << (shifts - 5)
        inner = np.flatnonzero(~finished)  # the characters before the last of a value
        owner = np.searchsorted(ends, inner)  # the value of each
        position = np.minimum(inner - (ends[owner] + 1 - lengths[owner]), MAX_VALUE_CHARS)
        np.add.at(values, owner, _PAYLOAD[raw[inner]] << (5 * position))
    values -= sign << shifts
    # runs: value 0 of a string is its run 0; its runs 1, 3, 5... (2, 4, 6...) are the running sums of its values
    # 1, 3, 5... (2, 4, 6...): the running sums over the batch of the values of one parity of index (``sums``,
    # behind two zeros) less that sum as it stood before the string's value 1 (at its value 0, for runs 2, 4...).
    # (int64 sums wrap around, but the difference of two is exact where the true sum it stands for fits.)
    n_values = values.size
    sums = np.zeros(n_values + 2 + n_values % 2, dtype=np.int64)
    sums[2 : 2 + n_values] = values
    pairs = sums.reshape(-1, 2)
    np.cumsum(pairs, axis=0, out=pairs)
    first = np.repeat(first_value, last_value + 1 - first_value)  # each value's string's value 0
    runs = sums[2 : 2 + n_values] - sums[first + 2 - ((np.arange(n_values) - first) & 1)]
    runs[first_value] = values[first_value]
    bad |= np.logical_or.reduceat(runs.view(np.uint64) >= COUNT_LIMIT, first_value)  # negative, or 2**32 and more
    return ~bad & (np.add.reduceat(runs, first_value) == pixels)


def _coco(rle: dict[str, Any]) -> dict[str, Any]:
    return {"size": list(rle["size"]), "counts": rle["counts"].encode("ascii")}


def _plain(rle: dict[str, Any]) -> dict[str, Any]:
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE ``{"size": [h, w], "counts": str}`` of a 2-D boolean array.

    >>> encode_rle(np.pad(np.ones((2, 2), dtype=bool), ((1, 2), (1, 1))))
    {'size': [5, 4], 'counts': '62304'}
    """
    return _plain(mask_utils.encode(np.asfortranarray(np.asarray(mask).astype(np.uint8))))


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """The boolean ``(h, w)`` array of a COCO compressed RLE dict (inverse of :func:`encode_rle`); give it only
    an RLE that :func:`rle_problem` accepts.

    >>> decode_rle({"size": [5, 4], "counts": "62304"}).astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    return mask_utils.decode(_coco(rle)).astype(bool)


def merge_rles(rles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The union of RLE masks of one size, as one RLE (computed on the runs, no canvas)."""
    if len(rles) == 1:
        return {"size": list(rles[0]["size"]), "counts": rles[0]["counts"]}
    return _plain(mask_utils.merge([_coco(r) for r in rles], intersect=False))


def mask_ious(pred: dict[str, Any], golds: Sequence[dict[str, Any]]) -> np.ndarray:
    """Pixel IoU of one valid RLE with each of ``golds``, by pycocotools; 0 with a gold of another size, which
    never reaches pycocotools (it gives -1 for it, and first computes every mask's box with a division by the
    height: a gold of height 0 killed the process with SIGFPE)."""
    size = list(pred["size"])
    same = [i for i, g in enumerate(golds) if list(g["size"]) == size]
    if same and len(same) == len(golds):  # the usual case: every gold of the image's size
        return np.asarray(mask_utils.iou([_coco(pred)], [_coco(g) for g in golds], [0] * len(golds))).reshape(-1)
    out = np.zeros(len(golds))
    if same:
        ious = mask_utils.iou([_coco(pred)], [_coco(golds[i]) for i in same], [0] * len(same))
        out[same] = np.asarray(ious).reshape(-1)
    return out


def box_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each row of ``a`` with the same row of ``b`` (both n x 4, ``[x1, y1, x2, y2]``), on continuous
    coordinates: intersection area / union area with area = (x2 - x1) * (y2 - y1); 0 where the union is empty.

    >>> box_iou_pairs(np.array([[0, 0, 2, 2], [0, 0, 1, 1]]), np.array([[1, 1, 3, 3], [2, 2, 3, 3]])).tolist()
    [0.14285714285714285, 0.0]
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_ious(box: Sequence[float], golds: np.ndarray) -> np.ndarray:
    """IoU of one box ``[x1, y1, x2, y2]`` with each row of ``golds`` (k x 4), by :func:`box_iou_pairs`.

    >>> box_ious([0, 0, 2, 2], np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])).tolist()
    [0.14285714285714285, 1.0, 0.0]
    """
    golds = np.asarray(golds, dtype=np.float64).reshape(-1, 4)
    return box_iou_pairs(np.broadcast_to(np.asarray(box, dtype=np.float64).reshape(1, 4), golds.shape), golds)
