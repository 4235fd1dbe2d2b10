"""Regions, in one place: COCO compressed RLE (encode, decode, merge, strict validation), mask IoU and the box
IoU kernel. Loaders, the scorer, the baselines, the leaderboard and the tests all use these.

Masks are COCO compressed RLE dicts ``{"size": [h, w], "counts": "<str>"}`` (string counts, as JSON keeps them);
pycocotools does the work. pycocotools decodes a counts string without checking it: a malformed string can make
it write past its buffer. :func:`rle_problem` checks the string first (the character range, and that the runs are
non-negative and add up to exactly ``h * w``), with the same decoding rules as pycocotools' ``rleFrString``,
vectorised; decode only what it accepted (or what this module encoded).

Boxes are ``[x1, y1, x2, y2]`` on continuous coordinates; :func:`box_iou_pairs` is the one IoU kernel
(:func:`box_ious` and the scorer's matching call it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


def rle_runs(counts: str) -> np.ndarray | None:
    """The run lengths encoded by a compressed counts string, or None when a character is out of range.

    >>> rle_runs("62304").tolist()   # a 5x4 mask with a 2x2 square: 6 zeros, 2 ones, 3 zeros, 2 ones, 4 zeros
    [6, 2, 3, 2, 7]
    """
    try:
        raw = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        return None
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if raw.min() < 0 or raw.max() > 63:
        return None
    more = (raw & 0x20) != 0
    if more[-1]:
        return None  # the last value is unfinished
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.repeat(np.arange(ends.size), ends - starts + 1)
    position = np.arange(raw.size) - starts[group]
    if position.max() > 11:
        return None  # more than 60 bits: not a count pycocotools wrote
    values = np.zeros(ends.size, dtype=np.int64)
    np.add.at(values, group, (raw & 0x1F) << (5 * position))
    negative = (raw[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (position[ends][negative] + 1))
    # counts after the third are stored as differences with the count two places before
    runs = values.copy()
    if runs.size > 3:
        runs[3::2] = runs[1] + np.cumsum(values[3::2])
    if runs.size > 4:
        runs[4::2] = runs[2] + np.cumsum(values[4::2])
    return runs


def rle_problem(rle: Any) -> str | None:
    """What is wrong with a COCO compressed RLE dict, or None when it is valid.

    >>> rle_problem({"size": [5, 4], "counts": "62304"}) is None
    True
    >>> rle_problem({"size": [5, 5], "counts": "62304"})
    'the runs cover 20 pixels, the size [5, 5] has 25'
    """
    if not isinstance(rle, dict) or set(rle) != {"size", "counts"}:
        return 'expected {"size": [h, w], "counts": "<compressed string>"}'
    size, counts = rle["size"], rle["counts"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return "size must be [h, w] with two positive integers"
    if not isinstance(counts, str):
        return "counts must be the compressed RLE string (uncompressed lists are not accepted)"
    runs = rle_runs(counts)
    if runs is None:
        return "counts is not a compressed RLE string (characters outside '0'..'o', or a cut value)"
    if runs.size and runs.min() < 0:
        return "counts decodes to a negative run"
    total = int(runs.sum())
    if total != size[0] * size[1]:
        return f"the runs cover {total} pixels, the size {size} has {size[0] * size[1]}"
    return None


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
    """Pixel IoU of one valid RLE with each of ``golds`` (same size), by pycocotools."""
    if not golds:
        return np.zeros(0)
    return np.asarray(mask_utils.iou([_coco(pred)], [_coco(g) for g in golds], [0] * len(golds))).reshape(-1)


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
