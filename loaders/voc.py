"""Reader of Pascal-VOC XML box annotations (Twitter-GMNER ``xml/<id>.xml``).

One ``<object>`` per box; ``<name>`` is the surface text of the entity that owns the box (tokens joined
by single spaces); ``<size>`` gives the image's width and height. Coordinates are kept as written
(absolute pixels, ``[xmin, ymin, xmax, ymax]``) when they describe a box inside the image.

Gold boxes obey the submission validator's own rule (finite, ``x1 < x2``, ``y1 < y2``, inside the image
up to :data:`~smner_bench.benchmark.submission.BOX_TOLERANCE` pixel):

- an error (file:line: element: what was expected, exit 1): a coordinate or size that is not a finite
  number, a negative, fractional or over-limit size, an inverted or empty box, a box outside the image by
  more than the tolerance (or, when the size is unknown, beyond the size limit);
- a quirk ``xml-box-clipped``: a box that exceeds the image by at most the tolerance is clipped to it;
- a quirk ``xml-size`` (reported by the assembler): ``<size>`` absent, or a width/height absent or 0
  (what VOC tools write when they do not know), so the size is unknown.

No real release has a box of the first two kinds (Twitter-GMNER v1 and v2.0: 8061 and 8058 boxes, all
inside their image), so the real boxes are kept exactly as written.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import numpy as np

from smner_bench.benchmark.errors import DataFormatError, shown
from smner_bench.benchmark.submission import BOX_TOLERANCE

from .quirks import QuirkReport
from .rawfile import MAX_PIXELS, MAX_SIDE, MAX_XML_BYTES, read_bytes

MAX_DEPTH = 64  # element nesting; a VOC file has 4 levels


@dataclass
class VocObject:
    name: str
    box: list[float]  # [x1, y1, x2, y2]
    line: int | None = None  # line of the <object> element


@dataclass
class VocAnnotation:
    filename: str | None
    width: int | None  # None when <size> is missing or 0
    height: int | None
    objects: list[VocObject] = field(default_factory=list)


class _Refused(Exception):
    pass


def parse_xml(data: bytes, path: Path) -> tuple[ET.Element, dict[int, int]]:
    """The element tree of ``data`` and the line of every element (by ``id``). Refuses DTDs and entity
    declarations (a VOC file has none) and nesting deeper than :data:`MAX_DEPTH`."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: dict[int, int] = {}
    depth = [0]

    def start(tag, attrs):
        depth[0] += 1
        if depth[0] > MAX_DEPTH:
            raise _Refused(f"elements nested deeper than {MAX_DEPTH} levels")
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    def end(tag):
        depth[0] -= 1
        builder.end(tag)

    def doctype(*_):
        raise _Refused("a DOCTYPE or entity declaration (VOC files have none)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise DataFormatError(f"unreadable XML ({expat.ErrorString(exc.code)})", file=path, line=exc.lineno) from None
    except _Refused as exc:
        raise DataFormatError(f"refused XML: {exc}", file=path, line=parser.CurrentLineNumber) from None
    return builder.close(), lines


def _number(node: ET.Element, tag: str, path: Path, what: str, lines: dict[int, int]) -> tuple[float, int | None]:
    child = node.find(tag)
    line = lines.get(id(node))
    if child is None or not (child.text or "").strip():
        raise DataFormatError(f"{what} has no <{tag}> (expected a number)", file=path, line=line, field=tag)
    line = lines.get(id(child), line)
    text = child.text.strip()  # type: ignore[union-attr]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataFormatError(
            f"<{tag}> of {what} is {shown(text)}, expected a finite number", file=path, line=line, field=tag
        )
    return value, line


def _size(root: ET.Element, path: Path, lines: dict[int, int]) -> tuple[int | None, int | None]:
    size = root.find("size")
    if size is None:
        return None, None
    values = []
    for tag in ("width", "height"):
        child = size.find(tag)
        text = (child.text or "").strip() if child is not None else ""
        if not text:
            return None, None
        value, line = _number(size, tag, path, "<size>", lines)
        if value < 0 or not value.is_integer():
            raise DataFormatError(
                f"<size> <{tag}> is {shown(text)}, expected a whole number of pixels", file=path, line=line, field=tag
            )
        if value > MAX_SIDE:
            raise DataFormatError(
                f"<size> <{tag}> is {value:g}, more than the limit of {MAX_SIDE} pixels",
                file=path,
                line=line,
                field=tag,
            )
        values.append(int(value))
    width, height = values
    if not width or not height:
        return None, None
    if width * height > MAX_PIXELS:
        raise DataFormatError(
            f"<size> {width}x{height} has more than {MAX_PIXELS} pixels",
            file=path,
            line=lines.get(id(size)),
            field="size",
        )
    return width, height


def check_box(
    box: list[float],
    size: tuple[int, int] | None,
    *,
    path: Path,
    line: int | None,
    what: str,
    report: QuirkReport,
) -> list[float]:
    """The box as gold keeps it (see the module docstring): the same, or clipped by at most the tolerance;
    a :class:`DataFormatError` when the validator would refuse it as a prediction."""
    x1, y1, x2, y2 = box
    empty = DataFormatError(
        f"{what}: box {box} is inverted or empty (expected xmin < xmax and ymin < ymax)",
        file=path,
        line=line,
        field="bndbox",
    )
    if not (x1 < x2 and y1 < y2):
        raise empty
    width, height = size if size is not None else (MAX_SIDE, MAX_SIDE)
    where = f"the {width}x{height} image" if size is not None else f"the size limit of {MAX_SIDE} pixels"
    tol = BOX_TOLERANCE
    if min(x1, y1) < -tol or x2 > width + tol or y2 > height + tol:
        raise DataFormatError(
            f"{what}: box {box} lies outside {where} by more than {tol:g} pixel", file=path, line=line, field="bndbox"
        )
    if not (np.float32(x1) < np.float32(x2) and np.float32(y1) < np.float32(y2)):  # as the dataset stores it
        raise empty
    if size is None:
        width, height = math.inf, math.inf  # type: ignore[assignment]
    clipped = [max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)]
    if clipped != box:
        if not (np.float32(clipped[0]) < np.float32(clipped[2]) and np.float32(clipped[1]) < np.float32(clipped[3])):
            raise DataFormatError(
                f"{what}: box {box} lies outside {where} (empty once clipped)", file=path, line=line, field="bndbox"
            )
        report.add("xml-box-clipped", path, line, f"{what}: box {box} clipped to {clipped}")
    return clipped


def read_voc(
    path: str | Path, report: QuirkReport | None = None, image_size: tuple[int, int] | None = None
) -> VocAnnotation:
    """Read one VOC file; every box is checked (see the module docstring) against ``image_size`` when
    given (the image's own size), else the file's ``<size>``. Raises :class:`DataFormatError` naming the
    file, the line and the element; clipped boxes go to ``report``."""
    path = Path(path)
    report = report if report is not None else QuirkReport()
    root, lines = parse_xml(read_bytes(path, "VOC XML file", MAX_XML_BYTES), path)
    if root.tag != "annotation":
        raise DataFormatError(
            f"the root element is <{shown(root.tag, quote=False)}>, expected <annotation>", file=path, line=1
        )
    width, height = _size(root, path, lines)
    size = image_size or ((width, height) if width and height else None)
    objects = []
    for i, obj in enumerate(root.iter("object"), start=1):
        line = lines.get(id(obj))
        name = obj.findtext("name")
        if name is None:
            raise DataFormatError(f"<object> #{i} has no <name>", file=path, line=line, field="name")
        what = f"<object> #{i} ({shown(name)})"
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataFormatError(f"{what} has no <bndbox>", file=path, line=line, field="bndbox")
        box = [_number(bndbox, t, path, what, lines)[0] for t in ("xmin", "ymin", "xmax", "ymax")]
        box_line = lines.get(id(bndbox), line)
        objects.append(VocObject(name, check_box(box, size, path=path, line=box_line, what=what, report=report), line))
    return VocAnnotation(root.findtext("filename"), width, height, objects)
