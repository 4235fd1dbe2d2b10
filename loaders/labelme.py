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

Bounds (checked before anything is allocated; each violation is a :class:`DataFormatError` naming the
file and the field, exit 1): ``imageWidth``/``imageHeight`` are whole numbers within the size limits of
:mod:`.rawfile` and equal to the image's size (else the VOC ``<size>``) when one is known; at most
:data:`MAX_SHAPES` shapes and :data:`MAX_POINTS` points per shape; every point finite and inside the image
up to :data:`~smner_bench.benchmark.submission.BOX_TOLERANCE` pixel (labelme itself keeps points on the
image); an embedded ``mask`` PNG no larger than the image; a shape that covers no pixel is an error.
Shapes are encoded to RLE one at a time and groups merged as RLE, so memory stays at one image canvas.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from smner_bench.benchmark.errors import DataFormatError
from smner_bench.benchmark.io import parse_json
from smner_bench.benchmark.regions import encode_rle, merge_rles
from smner_bench.benchmark.submission import BOX_TOLERANCE

from .quirks import QuirkReport
from .rawfile import MAX_LABELME_BYTES, check_size, read_text

REGION_SHAPES = ("polygon", "rectangle", "circle", "mask")
MAX_SHAPES = 1000  # shapes in one file
MAX_POINTS = 10_000  # points in one shape


@dataclass
class LabelmeAnnotation:
    width: int
    height: int
    masks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> COCO RLE dicts


def _points(shape: dict, path: Path, n: int | None, where: str, size: tuple[int, int]) -> list[tuple[float, float]]:
    points = shape.get("points")
    if not isinstance(points, list):
        raise DataFormatError(f"{where}: 'points' must be a list of [x, y]", file=path, field="points")
    if len(points) > MAX_POINTS:
        raise DataFormatError(f"{where}: {len(points)} points, more than {MAX_POINTS}", file=path, field="points")
    try:
        xy = [(float(p[0]), float(p[1])) for p in points if isinstance(p, list) and len(p) == 2]
    except (TypeError, ValueError, OverflowError):
        xy = []
    if len(xy) != len(points) or any(isinstance(v, (bool, str)) for p in points for v in p):
        raise DataFormatError(f"{where}: 'points' must be a list of [x, y] numbers", file=path, field="points")
    if not all(math.isfinite(v) for p in xy for v in p):
        raise DataFormatError(f"{where}: 'points' are not finite", file=path, field="points")
    if n is not None and len(xy) != n:
        raise DataFormatError(f"{where}: expected {n} points, got {len(xy)}", file=path, field="points")
    width, height = size
    for x, y in xy:
        if not (-BOX_TOLERANCE <= x <= width + BOX_TOLERANCE and -BOX_TOLERANCE <= y <= height + BOX_TOLERANCE):
            raise DataFormatError(
                f"{where}: point [{x:g}, {y:g}] lies outside the {width}x{height} image by more than "
                f"{BOX_TOLERANCE:g} pixel",
                file=path,
                field="points",
            )
    return xy


def _png_patch(data: Any, path: Path, where: str, size: tuple[int, int]) -> np.ndarray:
    """The boolean patch of an embedded base64 PNG, its size checked before its pixels are decoded."""
    try:
        png = base64.b64decode(data, validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png)) as im:
                if im.width > size[0] or im.height > size[1]:
                    raise DataFormatError(
                        f"{where}: the mask PNG is {im.width}x{im.height}, larger than the {size[0]}x{size[1]} image",
                        file=path,
                        field="mask",
                    )
                patch = np.asarray(im) != 0
    except DataFormatError:
        raise
    except Exception as exc:  # any decoding failure of the embedded PNG (binascii, PIL, bomb)
        raise DataFormatError(
            f"{where}: 'mask' is not a base64 PNG ({type(exc).__name__}: {str(exc)[:100]})", file=path, field="mask"
        ) from None
    if patch.ndim == 3:
        patch = patch.any(axis=2)
    if patch.ndim != 2:
        raise DataFormatError(f"{where}: 'mask' is not a 2-D image", file=path, field="mask")
    return patch


def rasterize_shape(shape: dict, height: int, width: int, path: Path, where: str) -> np.ndarray:
    """The boolean mask of one labelme region shape, as labelme's ``shape_to_mask`` draws it."""
    kind = shape.get("shape_type") or "polygon"
    size = (width, height)
    if kind == "mask":
        (x1, y1), _ = _points(shape, path, 2, where, size)
        x0, y0 = round(x1), round(y1)
        if x0 < 0 or y0 < 0:
            raise DataFormatError(f"{where}: mask origin ({x0}, {y0}) outside the image", file=path, field="points")
        patch = _png_patch(shape.get("mask"), path, where, size)
        out = np.zeros((height, width), dtype=bool)
        h = max(0, min(patch.shape[0], height - y0))
        w = max(0, min(patch.shape[1], width - x0))
        out[y0 : y0 + h, x0 : x0 + w] = patch[:h, :w]
        return out
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "circle":
        (cx, cy), (px, py) = _points(shape, path, 2, where, size)
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif kind == "rectangle":
        (xa, ya), (xb, yb) = _points(shape, path, 2, where, size)
        draw.rectangle([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], outline=1, fill=1)
    else:  # polygon
        xy = _points(shape, path, None, where, size)
        if len(xy) < 3:
            raise DataFormatError(f"{where}: a polygon needs at least 3 points", file=path, field="points")
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def _dimension(data: dict, key: str, path: Path) -> int:
    value = data.get(key)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataFormatError(
            f"{key} must be a whole number of pixels, got {str(value)[:40]!r}"
            if key in data
            else "imageHeight and imageWidth must be integers",
            file=path,
            field=key,
        )
    return value


def read_labelme(
    path: str | Path, report: QuirkReport | None = None, expected_size: tuple[int, int] | None = None
) -> LabelmeAnnotation:
    """Read one labelme file into per-label lists of COCO RLE masks (see the module docstring).

    ``expected_size`` is ``(width, height)`` of the image (or of the VOC ``<size>``) when known: a labelme
    size that differs is an error, found before any mask is drawn.
    """
    path = Path(path)
    report = report if report is not None else QuirkReport()
    text = read_text(path, "labelme file", report, MAX_LABELME_BYTES)
    data = parse_json(text, file=path, problem="unreadable JSON")
    if not isinstance(data, dict):
        raise DataFormatError("expected a JSON object", file=path)
    height, width = _dimension(data, "imageHeight", path), _dimension(data, "imageWidth", path)
    if height <= 0 or width <= 0:
        raise DataFormatError(f"image size {width}x{height} is not positive", file=path, field="imageHeight")
    check_size(width, height, file=path, field="imageWidth", what="imageWidth x imageHeight")
    if expected_size is not None and (width, height) != tuple(expected_size):
        raise DataFormatError(
            f"imageWidth x imageHeight {width}x{height} differs from the image's size "
            f"{expected_size[0]}x{expected_size[1]} (every mask must have the image's size)",
            file=path,
            field="imageWidth",
        )
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        raise DataFormatError("'shapes' must be a list", file=path, field="shapes")
    if len(shapes) > MAX_SHAPES:
        raise DataFormatError(f"{len(shapes)} shapes, more than {MAX_SHAPES}", file=path, field="shapes")

    groups: dict[tuple[str, Any], list[dict]] = {}  # (label, group key) -> RLEs, first-seen order
    for i, shape in enumerate(shapes):
        where = f"shapes[{i}]"
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
            raise DataFormatError(f"{where} must be an object with a string 'label'", file=path, field="label")
        kind = shape.get("shape_type") or "polygon"
        label = shape["label"]
        short = repr(label) if len(label) <= 60 else repr(label[:60]) + "..."
        if not isinstance(kind, str):
            raise DataFormatError(f"{where}: 'shape_type' must be a string", file=path, field="shape_type")
        if kind not in REGION_SHAPES:
            report.add("mask-skipped-shape", path, None, f"{where} ({short}) is a {kind[:40]}, not a region")
            continue
        group = shape.get("group_id")
        if group is not None and (not isinstance(group, (int, str)) or isinstance(group, bool)):
            raise DataFormatError(
                f"{where}: 'group_id' must be an integer, a string or null", file=path, field="group_id"
            )
        key = (label, ("group", group) if group is not None else ("shape", i))
        mask = rasterize_shape(shape, height, width, path, where)
        if not mask.any():
            raise DataFormatError(
                f"{where} ({short}): the {kind} covers no pixel of the image", file=path, field="points"
            )
        groups.setdefault(key, []).append(encode_rle(mask))
        del mask
    masks: dict[str, list[dict[str, Any]]] = {}
    for (label, _), rles in groups.items():
        masks.setdefault(label, []).append(merge_rles(rles))
    return LabelmeAnnotation(width, height, masks)
