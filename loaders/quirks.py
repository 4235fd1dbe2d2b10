"""The quirk report: everything a reader noticed and did not silently fix.

Every reader appends :class:`Quirk` records to a :class:`QuirkReport` instead of fixing or dropping data
quietly; ``prepare`` prints the report and stores it in the dataset card, the builder stores it with the
Arrow cache, and ``load`` logs a summary.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

QUIRK_KINDS: dict[str, str] = {
    "utf8-bom": "a UTF-8 byte-order mark at the start of a text file (removed before reading)",
    "odd-token": "a token with non-ASCII whitespace, an invisible format character or a C1 control (kept as released)",
    "bio-repair": "I-X after O or after another type: a new entity starts there (conlleval rule)",
    "type-alias": "tag type renamed to the data model's name (MISC -> OTHER)",
    "duplicate-id": "an IMGID that appears more than once in a split (both tweets are kept)",
    "xml-unmatched-name": "a VOC <object> whose <name> equals no entity text of its tweet (box unused)",
    "xml-size": "a VOC file without a usable <size> (absent or 0), or a size that disagrees with the image",
    "xml-box-clipped": "a VOC box that exceeds the image by at most 1 pixel (clipped to the image)",
    "mask-unmatched-label": "a labelme shape whose label equals no entity text of its tweet (mask unused)",
    "mask-skipped-shape": "a labelme shape of a type that is not a region (line, point...), not used",
    "missing-image": "a tweet whose image is not in the image folder (image left empty)",
    "knowledge-unaligned-tweet": "a tweet for which the knowledge release has no record (knowledge empty)",
    "knowledge-unaligned-record": "a knowledge record that matches no tweet of the split (not used)",
    "knowledge-tags-differ": "a knowledge record whose tokens align but whose tags differ from the dataset",
    "missing-caption": "a tweet whose image has no caption / description in the given caption files",
    "manual-unpaired": "a manual annotation found in only one of the two files of its year",
}


@dataclass(frozen=True)
class Quirk:
    kind: str
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"[{self.kind}] {where}: {self.message}"


@dataclass
class QuirkReport:
    """Quirks and the SHA-256 of every raw file read, for one dataset build."""

    quirks: list[Quirk] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, file: str | Path, line: int | None, message: str) -> None:
        if kind not in QUIRK_KINDS:
            raise ValueError(f"unknown quirk kind {kind!r}")
        self.quirks.append(Quirk(kind, str(file), line, message))

    def extend(self, other: QuirkReport) -> None:
        self.quirks.extend(other.quirks)
        self.checksums.update(other.checksums)

    def counts(self) -> dict[str, int]:
        return dict(Counter(q.kind for q in self.quirks))

    def of_kind(self, kind: str) -> list[Quirk]:
        return [q for q in self.quirks if q.kind == kind]

    def summary(self, examples: int = 3) -> str:
        """A few lines per kind: the count, the meaning and the first examples."""
        if not self.quirks:
            return "no quirks"
        lines = []
        for kind, n in self.counts().items():
            lines.append(f"{kind}: {n} ({QUIRK_KINDS[kind]})")
            lines.extend(f"    {q}" for q in self.of_kind(kind)[:examples])
            if n > examples:
                lines.append(f"    ... and {n - examples} more")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {"quirks": [asdict(q) for q in self.quirks], "checksums": self.checksums},
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> QuirkReport:
        data = json.loads(text)
        return cls([Quirk(**q) for q in data["quirks"]], dict(data["checksums"]))
