"""Reader of PGIM's hand-written in-context examples (``manual-annotations/<year>/``).

``<year>train.txt`` alternates a line with an image id and a line with the written analysis
("Named entities: ... Reasoning: ..."); ``<year>train_GPT.txt`` alternates the image id with the
entity list as the annotators wrote it (``['Kawhi Leonard', 'PER'], ...`` or ``None``). CRLF endings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.benchmark.tags import normalize_type

from .quirks import QuirkReport
from .rawfile import read_text


@dataclass
class ManualExample:
    id: str
    analysis: str | None  # from <year>train.txt; None when the id is only in the _GPT file
    entities: list[tuple[str, str]] | None  # (text, type), types canonical; None when only in train.txt


def _pairs(path: Path, report: QuirkReport) -> list[tuple[int, str, str]]:
    text = read_text(path, "manual annotation file", report)
    numbered = [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), start=1)]
    numbered = [(i, line) for i, line in numbered if line.strip()]
    if len(numbered) % 2:
        raise DataFormatError(
            "odd number of non-blank lines: expected id / text pairs", file=path, line=numbered[-1][0]
        )
    return [(numbered[k][0], numbered[k][1].strip(), numbered[k + 1][1]) for k in range(0, len(numbered), 2)]


MAX_LIST_CHARS = 20_000  # the longest real list has a few hundred characters
_ITEM = re.compile(r"""\[\s*(['"])(.*?)\1\s*,\s*['"]([A-Za-z]+)['"]\s*\]""")


def parse_entity_list(text: str, *, file: Path, line: int) -> list[tuple[str, str]]:
    """``"['Kawhi Leonard', 'PER'], ['NBA', 'ORG']"`` -> ``[("Kawhi Leonard", "PER"), ("NBA", "ORG")]``.

    Not a Python literal: the annotators left quotes unescaped (``['Harry Potter and the Sorcerer's
    Stone', 'MISC']``), so each item is matched up to the quote that precedes its type.
    """
    if text.strip() == "None":
        return []
    if len(text) > MAX_LIST_CHARS:
        raise DataFormatError(
            f"an entity list of {len(text)} characters (limit {MAX_LIST_CHARS})", file=file, line=line
        )
    items = list(_ITEM.finditer(text))
    rest = _ITEM.sub("", text).replace(",", "").strip()
    if not items or rest:
        raise DataFormatError(f"expected ['entity', 'TYPE'], ... or None, got {text[:60]!r}", file=file, line=line)
    out = []
    for m in items:
        canonical = normalize_type(m.group(3))
        if canonical is None:
            raise DataFormatError(f"unknown entity type {m.group(3)[:40]!r}", file=file, line=line)
        out.append((m.group(2), canonical))
    return out


def read_manual_annotations(folder: str | Path, report: QuirkReport | None = None) -> list[ManualExample]:
    """The examples of one year's folder, in the order of ``<year>train.txt``, then the ids that only
    the ``_GPT`` file has (reported)."""
    folder = Path(folder)
    report = report if report is not None else QuirkReport()
    analyses = sorted(folder.glob("*train.txt"))
    lists = sorted(folder.glob("*train_GPT.txt"))
    if not analyses or not lists:
        raise MissingDataError("expected <year>train.txt and <year>train_GPT.txt", file=folder)
    examples: dict[str, ManualExample] = {}
    for _, image_id, analysis in _pairs(analyses[0], report):
        examples[image_id] = ManualExample(image_id, analysis.strip(), None)
    for lineno, image_id, entity_list in _pairs(lists[0], report):
        entities = parse_entity_list(entity_list, file=lists[0], line=lineno + 1)
        if image_id in examples:
            examples[image_id].entities = entities
        else:
            report.add("manual-unpaired", lists[0], lineno, f"{image_id} has no analysis in {analyses[0].name}")
            examples[image_id] = ManualExample(image_id, None, entities)
    for ex in examples.values():
        if ex.entities is None:
            report.add("manual-unpaired", analyses[0], None, f"{ex.id} has no entity list in {lists[0].name}")
    return list(examples.values())
