"""Readers of the two caption formats.

- BLIP-2 captions (``BLIP2_15.txt``, ``BLIP2_17.txt``): one line per image, ``<image file> :<caption>``.
- mPLUG-Owl detailed descriptions (``mplug-owl_{train,dev,test}.txt``): a record starts with a line
  ``imgid:<id>###<description>``; the description continues over the following lines (blank lines
  included) until the next ``imgid:`` line.

Both return a dict keyed by image id (the file name without ``.jpg``). Files are read with the rules of
:mod:`.rawfile` (regular files only, size limit, UTF-8 errors with their line); a byte-order mark is removed
and reported (``utf8-bom``) when a report is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError

from .quirks import QuirkReport
from .rawfile import present, read_text

_MPLUG_PREFIX = "imgid:"


def _lines(path: Path, report: QuirkReport | None = None) -> list[str]:
    text = read_text(path, "caption file", report)
    return [line.rstrip("\r") for line in text.split("\n")]


def _image_id(name: str) -> str:
    name = name.strip()
    return name[: -len(".jpg")] if name.lower().endswith(".jpg") else name


def read_blip2_captions(path: str | Path, report: QuirkReport | None = None) -> dict[str, str]:
    """``{image id: caption}`` from a BLIP-2 caption file."""
    path = Path(path)
    captions: dict[str, str] = {}
    for lineno, line in enumerate(_lines(path, report), start=1):
        if not line.strip():
            continue
        name, sep, caption = line.partition(" :")
        if not sep or not name.strip():
            raise DataFormatError(f"expected '<image file> :<caption>', got {line[:60]!r}", file=path, line=lineno)
        captions[_image_id(name)] = caption.strip()
    if not captions:
        raise DataFormatError("no caption in this file", file=path)
    return captions


def read_mplug_descriptions(path: str | Path, report: QuirkReport | None = None) -> dict[str, str]:
    """``{image id: description}`` from an mPLUG-Owl description file (multi-line records)."""
    path = Path(path)
    descriptions: dict[str, str] = {}
    current: str | None = None
    parts: list[str] = []
    for lineno, line in enumerate(_lines(path, report), start=1):
        if line.startswith(_MPLUG_PREFIX):
            if current is not None:
                descriptions[current] = "\n".join(parts).strip()
            head, sep, first = line[len(_MPLUG_PREFIX) :].partition("###")
            if not sep or not head.strip():
                raise DataFormatError(f"expected 'imgid:<id>###<text>', got {line[:60]!r}", file=path, line=lineno)
            current, parts = _image_id(head), [first]
        elif current is None:
            if line.strip():
                raise DataFormatError("text before the first 'imgid:' line", file=path, line=lineno)
        else:
            parts.append(line)
    if current is not None:
        descriptions[current] = "\n".join(parts).strip()
    if not descriptions:
        raise DataFormatError("no 'imgid:' record in this file", file=path)
    return descriptions


def blip2_text(captions: Mapping[str, str]) -> str:
    """A BLIP-2 caption file of ``{image id: caption}``, as :func:`read_blip2_captions` reads it."""
    return "".join(f"{image_id}.jpg :{caption}\n" for image_id, caption in captions.items())


def mplug_text(descriptions: Mapping[str, str]) -> str:
    """An mPLUG-Owl description file of ``{image id: description}`` (which may span lines), as
    :func:`read_mplug_descriptions` reads it."""
    return "".join(f"{_MPLUG_PREFIX}{image_id}###{text}\n" for image_id, text in descriptions.items())


def caption_format(path: str | Path) -> str:
    """``"mplug"`` when the file's first non-blank line starts with ``imgid:``, else ``"blip2"``."""
    for line in _lines(Path(path)):
        if line.strip():
            return "mplug" if line.startswith(_MPLUG_PREFIX) else "blip2"
    raise DataFormatError("empty caption file", file=path)


def caption_files(paths: Sequence[str | Path]) -> list[Path]:
    """The caption files that ``paths`` name: files as given, folders as every ``*.txt`` inside."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.txt")))
        elif present(p):
            files.append(p)
        else:
            raise MissingDataError("caption file or folder not found", file=p)
    if not files:
        raise MissingDataError("no caption file (*.txt) found", file=", ".join(map(str, paths)))
    return files


def read_captions(
    paths: Sequence[str | Path], report: QuirkReport | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(captions, descriptions)`` from caption files and folders (folders: every ``*.txt`` inside),
    each file's format recognised by :func:`caption_format`."""
    captions: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for f in caption_files(paths):
        if caption_format(f) == "mplug":
            descriptions.update(read_mplug_descriptions(f, report))
        else:
            captions.update(read_blip2_captions(f, report))
    return captions, descriptions
