"""Reader of Pascal-VOC XML box annotations (Twitter-GMNER ``xml/<id>.xml``).

One ``<object>`` per box; ``<name>`` is the surface text of the entity that owns the box (tokens joined
by single spaces); ``<size>`` gives the image's width and height. Coordinates are kept as written
(absolute pixels, ``[xmin, ymin, xmax, ymax]``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError


@dataclass
class VocObject:
    name: str
    box: list[float]  # [x1, y1, x2, y2]


@dataclass
class VocAnnotation:
    filename: str | None
    width: int | None  # None when <size> is missing or not positive
    height: int | None
    objects: list[VocObject]


def _number(node: ET.Element, tag: str, path: Path, what: str) -> float:
    child = node.find(tag)
    if child is None or child.text is None:
        raise DataFormatError(f"{what} has no <{tag}>", file=path, field=tag)
    try:
        return float(child.text.strip())
    except ValueError:
        raise DataFormatError(f"<{tag}> of {what} is not a number: {child.text!r}", file=path, field=tag) from None


def read_voc(path: str | Path) -> VocAnnotation:
    """Read one VOC file. Raises :class:`DataFormatError` when it is not well-formed XML or an object has
    no name or an incomplete ``<bndbox>``."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise MissingDataError("XML file not found", file=path) from None
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise DataFormatError(f"unreadable XML ({exc})", file=path, line=line) from None
    width = height = None
    size = root.find("size")
    if size is not None:
        try:
            width = int(float(size.findtext("width", "").strip()))
            height = int(float(size.findtext("height", "").strip()))
        except ValueError:
            width = height = None
        if not width or not height or width <= 0 or height <= 0:
            width = height = None
    objects = []
    for i, obj in enumerate(root.iter("object"), start=1):
        name = obj.findtext("name")
        if name is None:
            raise DataFormatError(f"<object> #{i} has no <name>", file=path, field="name")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataFormatError(f"<object> #{i} ({name!r}) has no <bndbox>", file=path, field="bndbox")
        what = f"<object> #{i} ({name!r})"
        box = [_number(bndbox, t, path, what) for t in ("xmin", "ymin", "xmax", "ymax")]
        objects.append(VocObject(name, box))
    return VocAnnotation(root.findtext("filename"), width, height, objects)
