"""Reader of labelme JSON mask annotations (Twitter-SMNER), producing COCO compressed RLE.

Assumptions (the real Twitter-SMNER masks are not public yet; the paper says they were drawn with
labelme, https://github.com/labelmeai/labelme):

- one JSON file per image, ``<mask dir>/<image id>.json`` (image id = the tweet's IMGID);
- ``imageHeight`` / ``imageWidth`` give the size of the RLE;
- a shape's ``label`` is the entity's surface text (tokens joined by single spaces), compared exactly;
- shapes of one label that share a non-null ``group_id`` form ONE mask (their union); a shape with
  ``group_id`` null is a mask of its own; masks keep the order of their first shape in the file;
- rasterisation follows labelme's ``shape_to_mask``: ``polygon`` (3 or more points) = PIL
  ``ImageDraw.polygon(outline=1, fill=1)``; ``rectangle`` (2 corner points) = ``ImageDraw.rectangle``;
  ``circle`` (centre, a point on the circle) = ``ImageDraw.ellipse`` of that radius; ``mask`` = the
  base64 PNG in the shape's ``mask`` field (non-zero = inside) pasted with its top-left corner at the
  first point (labelme pastes it at rows ``y1..y2`` and columns ``x1..x2`` of the two points);
- other shape types (line, linestrip, point) are not regions: they are skipped and reported.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from smner_bench.benchmark.errors import DataFormatError, MissingDataError

from .report import Report

REGION_SHAPES = ("polygon", "rectangle", "circle", "mask")


@dataclass
class LabelmeAnnotation:
    width: int
    height: int
    masks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> COCO RLE dicts


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE ``{"size": [h, w], "counts": str}`` of a 2-D boolean array (pycocotools)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """The boolean ``(h, w)`` array of a COCO compressed RLE dict (inverse of :func:`encode_rle`)."""
    counts = rle["counts"]
    return mask_utils.decode({"size": list(rle["size"]), "counts": counts.encode("ascii")}).astype(bool)


def _points(shape: dict, path: Path, n: int | None, where: str) -> list[tuple[float, float]]:
    points = shape.get("points")
    try:
        xy = [(float(p[0]), float(p[1])) for p in points]  # type: ignore[union-attr]
    except (TypeError, ValueError, IndexError):
        raise DataFormatError(f"{where}: 'points' must be a list of [x, y]", file=path, field="points") from None
    if not all(math.isfinite(v) for p in xy for v in p):
        raise DataFormatError(f"{where}: 'points' are not finite", file=path, field="points")
    if n is not None and len(xy) != n:
        raise DataFormatError(f"{where}: expected {n} points, got {len(xy)}", file=path, field="points")
    return xy


def rasterize_shape(shape: dict, height: int, width: int, path: Path, where: str) -> np.ndarray:
    """The boolean mask of one labelme region shape, as labelme's ``shape_to_mask`` draws it."""
    kind = shape.get("shape_type") or "polygon"
    if kind == "mask":
        (x1, y1), _ = _points(shape, path, 2, where)
        try:
            png = base64.b64decode(shape["mask"], validate=True)
            patch = np.asarray(Image.open(io.BytesIO(png))) != 0
        except Exception as exc:  # any decoding failure of the embedded PNG
            raise DataFormatError(f"{where}: 'mask' is not a base64 PNG ({exc})", file=path, field="mask") from None
        if patch.ndim == 3:
            patch = patch.any(axis=2)
        out = np.zeros((height, width), dtype=bool)
        x0, y0 = round(x1), round(y1)
        h = max(0, min(patch.shape[0], height - y0))
        w = max(0, min(patch.shape[1], width - x0))
        if x0 < 0 or y0 < 0:
            raise DataFormatError(f"{where}: mask origin ({x0}, {y0}) outside the image", file=path, field="points")
        out[y0 : y0 + h, x0 : x0 + w] = patch[:h, :w]
        return out
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "circle":
        (cx, cy), (px, py) = _points(shape, path, 2, where)
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif kind == "rectangle":
        (xa, ya), (xb, yb) = _points(shape, path, 2, where)
        draw.rectangle([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], outline=1, fill=1)
    else:  # polygon
        xy = _points(shape, path, None, where)
        if len(xy) < 3:
            raise DataFormatError(f"{where}: a polygon needs at least 3 points", file=path, field="points")
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def read_labelme(path: str | Path, report: Report | None = None) -> LabelmeAnnotation:
    """Read one labelme file into per-label lists of COCO RLE masks (see the module docstring)."""
    path = Path(path)
    report = report if report is not None else Report()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingDataError("labelme file not found", file=path) from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text ({exc.reason})", file=path) from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"unreadable JSON ({exc.msg}, column {exc.colno})", file=path, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DataFormatError("expected a JSON object", file=path)
    try:
        height, width = int(data["imageHeight"]), int(data["imageWidth"])
    except (KeyError, TypeError, ValueError):
        raise DataFormatError("imageHeight and imageWidth must be integers", file=path, field="imageHeight") from None
    if height <= 0 or width <= 0:
        raise DataFormatError(f"image size {width}x{height} is not positive", file=path, field="imageHeight")
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        raise DataFormatError("'shapes' must be a list", file=path, field="shapes")

    groups: dict[tuple[str, Any], np.ndarray] = {}  # (label, group key) -> union mask, in first-seen order
    for i, shape in enumerate(shapes):
        where = f"shapes[{i}]"
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
            raise DataFormatError(f"{where} must be an object with a string 'label'", file=path, field="label")
        kind = shape.get("shape_type") or "polygon"
        if kind not in REGION_SHAPES:
            report.add("mask-skipped-shape", path, None, f"{where} ({shape['label']!r}) is a {kind}, not a region")
            continue
        group = shape.get("group_id")
        key = (shape["label"], ("group", group) if group is not None else ("shape", i))
        mask = rasterize_shape(shape, height, width, path, where)
        groups[key] = groups[key] | mask if key in groups else mask
    masks: dict[str, list[dict[str, Any]]] = {}
    for (label, _), mask in groups.items():
        masks.setdefault(label, []).append(encode_rle(mask))
    return LabelmeAnnotation(width, height, masks)
