"""Importers of other systems' outputs into GMNER submissions (``smner-bench import``).

- RiVEG release files: lines ``Imageid:<id>.jpg#<4 hex>###<Entity>(<TYPE>)###<expression>###<0|2>`` (2 = judged
  groundable) and the grounding output, a JSON list of ``{"uniq_id": "<id>.jpg#<4 hex>", "box": [x1, y1, x2, y2]}``
  for the groundable lines.
- H-Index prediction files: per tweet a line with the raw words, a line ``Pred: (span , [region ids] , TYPE ) ...``,
  a line `` GT : ...`` and a blank line; the file ends with a metrics dict. Tweets carry no id: they are aligned
  with the split by order and words. Region ids index the tweet's candidate boxes, given as a JSON file mapping the
  image id to the list of boxes in the order the model saw them (for H-Index: its VinVL detections of the image,
  in the order of its feature file); an id equal to the number of candidates means "no region". When a tuple
  lists several region ids, the first is taken.
Spans are recovered by finding the entity's words among the tweet's tokens (occurrences taken in order);
entities that cannot be placed keep their text only. Everything that could not be mapped is reported.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.benchmark.gold import Gold

TYPE_SUFFIX = re.compile(r"^(.*)\((PER|LOC|ORG|OTHER|MISC)\)$")
HINDEX_TUPLE = re.compile(r"\((.+?) , \[([0-9, ]*)\] , (PER|LOC|ORG|OTHER|MISC) \)")


@dataclass
class ImportReport:
    problems: list[str] = field(default_factory=list)
    entities: int = 0
    without_span: int = 0

    def add(self, message: str) -> None:
        self.problems.append(message)


def _text(path: Path) -> str:
    if not path.is_file():
        raise MissingDataError("file not found", file=path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 ({exc.reason})", file=path) from None


def locate(tokens: list[str], text: str, taken: set[tuple[int, int]]) -> tuple[int, int] | None:
    """The first span of ``tokens`` spelling ``text`` (words joined by one space) that is not yet taken."""
    words = text.split()
    n = len(words)
    for start in range(len(tokens) - n + 1):
        if tokens[start : start + n] == words and (start, start + n) not in taken:
            return start, start + n
    return None


def _entity(tokens: list[str], text: str, kind: str, box, taken: set, report: ImportReport, where: str) -> dict:
    report.entities += 1
    span = locate(tokens, text, taken)
    item: dict = {"text": text, "type": kind, "box": box}
    if span is None:
        report.without_span += 1
        report.add(f"{where}: {text!r} is not among the tweet's tokens: kept as text only")
    else:
        taken.add(span)
        item = {"start": span[0], "end": span[1], **item}
    return item


def _lines(gold: Gold, entities: dict[str, list[dict]]) -> list[dict]:
    return [{"id": t.id, "entities": entities.get(t.id, [])} for t in gold.tweets]


def import_riveg(lines_path: str | os.PathLike, grounding_path: str | os.PathLike, gold: Gold):
    """(submission lines, report) from RiVEG's entity lines and grounding output."""
    lines_path, grounding_path = Path(lines_path), Path(grounding_path)
    try:
        grounding = json.loads(_text(grounding_path))
        boxes = {g["uniq_id"]: [float(v) for v in g["box"]] for g in grounding}
    except (json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise DataFormatError(f"expected a JSON list of {{uniq_id, box}} ({exc})", file=grounding_path) from None
    report = ImportReport()
    entities: dict[str, list[dict]] = defaultdict(list)
    taken: dict[str, set] = defaultdict(set)
    used = set()
    for lineno, line in enumerate(_text(lines_path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{lines_path.name}:{lineno}"
        parts = line.split("###")
        if len(parts) != 4 or not parts[0].startswith("Imageid:") or ".jpg#" not in parts[0]:
            report.add(f"{where}: not 'Imageid:<id>.jpg#<hex>###<Entity>(<TYPE>)###<expression>###<0|2>'")
            continue
        uniq = parts[0][len("Imageid:") :]
        tweet_id = uniq.split(".jpg#")[0]
        match = TYPE_SUFFIX.match(parts[1].strip())
        if match is None or parts[3].strip() not in ("0", "1", "2"):
            report.add(f"{where}: cannot read the entity {parts[1]!r} or the label {parts[3]!r}")
            continue
        tweet = gold.by_id.get(tweet_id)
        if tweet is None:
            report.add(f"{where}: tweet {tweet_id} is not in {gold.name}")
            continue
        box = None
        if parts[3].strip() == "2":
            box = boxes.get(uniq)
            if box is None:
                report.add(f"{where}: judged groundable but {uniq} has no box in {grounding_path.name}")
            used.add(uniq)
        text, kind = match.group(1).strip(), match.group(2)
        entities[tweet_id].append(_entity(tweet.tokens, text, kind, box, taken[tweet_id], report, where))
    for uniq in sorted(set(boxes) - used):
        report.add(f"{grounding_path.name}: box of {uniq} matches no groundable line")
    return _lines(gold, entities), report


def import_hindex(pred_path: str | os.PathLike, candidates_path: str | os.PathLike, gold: Gold):
    """(submission lines, report) from an H-Index prediction file and the candidate boxes it chose from."""
    pred_path, candidates_path = Path(pred_path), Path(candidates_path)
    try:
        candidates = {str(k).removesuffix(".jpg"): v for k, v in json.loads(_text(candidates_path)).items()}
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataFormatError(
            f"expected a JSON object image id -> list of boxes ({exc})", file=candidates_path
        ) from None
    report = ImportReport()
    entities: dict[str, list[dict]] = {}
    by_words: dict[str, list[str]] = defaultdict(list)
    for t in gold.tweets:
        by_words[" ".join(t.tokens)].append(t.id)
    raw = _text(pred_path).splitlines()
    blocks, current, start = [], [], 1
    for lineno, line in enumerate(raw, start=1):
        if line.strip().startswith("{") and not current:  # the closing metrics dict
            break
        if not line.strip():
            if current:
                blocks.append((start, current))
            current = []
            continue
        if not current:
            start = lineno
        current.append(line)
    if current:
        blocks.append((start, current))
    position = 0
    for lineno, block in blocks:
        where = f"{pred_path.name}:{lineno}"
        if len(block) < 2 or not block[1].lstrip().startswith("Pred:"):
            report.add(f"{where}: expected the words, then a 'Pred:' line")
            continue
        words = " ".join(block[0].split())
        tweet = gold.tweets[position] if position < len(gold.tweets) else None
        if tweet is None or " ".join(tweet.tokens) != words:
            ids = [i for i in by_words.get(words, []) if i not in entities]
            if not ids:
                report.add(f"{where}: the words match no tweet of {gold.name}: {words[:60]!r}")
                continue
            tweet = gold.by_id[ids[0]]
            report.add(f"{where}: aligned by words to tweet {tweet.id} (not in split order)")
        position = tweet.index + 1
        boxes = candidates.get(tweet.id, [])
        taken: set = set()
        items = []
        for text, ids, kind in HINDEX_TUPLE.findall(block[1]):
            region = [int(v) for v in ids.replace(" ", "").split(",") if v]
            box = None
            if region and region[0] != len(boxes):
                if region[0] < len(boxes):
                    box = [float(v) for v in boxes[region[0]]]
                else:
                    report.add(f"{where}: region {region[0]} but tweet {tweet.id} has {len(boxes)} candidates")
            items.append(_entity(tweet.tokens, text.strip(), kind, box, taken, report, where))
        entities[tweet.id] = items
    missing = [t.id for t in gold.tweets if t.id not in entities]
    if missing:
        report.add(f"{len(missing)} tweets of {gold.name} have no block (written with no entity)")
    return _lines(gold, entities), report
