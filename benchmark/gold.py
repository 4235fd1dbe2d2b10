"""Gold entities of one split, in the shape the scorer needs, from any rows of the data model.

The core scores a :class:`Gold` it is handed: built from rows in memory (:func:`gold_from_rows`), from an
exported Parquet folder (:func:`gold_from_export`: its card checked by :mod:`.exported`, its Parquet files read
with pyarrow), or by the loaders from a raw release folder (:func:`smner_bench.loaders.load_gold`, which takes
either source).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError, MissingDataError, UsageError
from .regions import rle_problem
from .registry import DATASETS, TASKS, canonical_split, check_config
from .tags import TYPES

GOLD_COLUMNS = ("id", "tokens", "width", "height", "entities")
# the gold annotation each task needs (boxes, masks or none), from the registry's region kinds
TASK_CONFIGS = {t.name: {"box": "boxes", "mask": "masks"}.get(t.region) for t in TASKS.values()}


@dataclass
class GoldEntity:
    index: int  # position in the split, in dataset order
    tweet: int  # index of its tweet in the split
    start: int
    end: int
    text: str
    type: str
    boxes: np.ndarray  # (k, 4) float64
    masks: list[dict[str, Any]]  # COCO RLE dicts with str counts


@dataclass
class GoldTweet:
    index: int
    id: str
    tokens: list[str]
    width: int | None
    height: int | None
    entities: list[GoldEntity] = field(default_factory=list)

    @property
    def mask_size(self) -> list[int] | None:
        """``[h, w]`` that masks of this tweet must have, when known."""
        if self.width and self.height:
            return [self.height, self.width]
        for e in self.entities:
            if e.masks:
                return list(e.masks[0]["size"])
        return None


@dataclass
class Gold:
    dataset: str  # a config of the registry, e.g. "gmner" (or any name for hand-made golds)
    split: str  # e.g. "test"
    tweets: list[GoldTweet]
    has_boxes: bool  # the dataset annotates boxes (GMNER, SMNER)
    has_masks: bool  # the dataset annotates masks (SMNER)

    def __post_init__(self) -> None:
        self.by_id = {t.id: t for t in self.tweets}
        self.entities = [e for t in self.tweets for e in t.entities]

    @property
    def name(self) -> str:
        """``dataset/split``, for messages and reports (read ``dataset`` and ``split``, never parse this)."""
        return f"{self.dataset}/{self.split}"

    def records(self) -> list[bytes]:
        """One JSON line per tweet (ids, tokens, sizes, entities with boxes and masks): what :meth:`checksum`
        hashes and the light gold cache stores."""
        lines = []
        for t in self.tweets:
            entities = [
                [e.start, e.end, e.text, e.type, e.boxes.tolist(), [[m["size"], m["counts"]] for m in e.masks]]
                for e in t.entities
            ]
            record = [t.id, t.tokens, t.width, t.height, entities]
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        return lines

    def checksum(self) -> str:
        """SHA-256 of the gold's content (ids, tokens, sizes, entities with boxes and masks), whatever it was
        read from: two golds with the same checksum score every submission the same."""
        digest = hashlib.sha256()
        for line in self.records():
            digest.update(line)
        return digest.hexdigest()

    def supports(self, task: str) -> bool:
        need = TASK_CONFIGS[task]
        return need is None or (need == "boxes" and self.has_boxes) or (need == "masks" and self.has_masks)


def gold_from_rows(
    rows: Iterable[Mapping[str, Any]], *, dataset: str, split: str, has_boxes: bool, has_masks: bool
) -> Gold:
    """Build :class:`Gold` of ``dataset``/``split`` from rows with the data model's fields (``id``, ``tokens``,
    ``width``, ``height``, ``entities``)."""
    tweets: list[GoldTweet] = []
    n = 0
    for i, row in enumerate(rows):
        tweet = GoldTweet(i, str(row["id"]), list(row["tokens"]), row.get("width"), row.get("height"))
        for e in row["entities"]:
            boxes = np.asarray(e.get("boxes") or [], dtype=np.float64).reshape(-1, 4)
            masks = [{"size": list(m["size"]), "counts": m["counts"]} for m in (e.get("masks") or [])]
            tweet.entities.append(GoldEntity(n, i, int(e["start"]), int(e["end"]), e["text"], e["type"], boxes, masks))
            n += 1
        problem = _overlap_problem([(e.start, e.end) for e in tweet.entities])
        if problem:  # a prediction would match two gold entities of one span: precision above 1
            raise DataFormatError(f"tweet {tweet.id!r}: {problem}", field=f"{dataset}/{split}")
        tweets.append(tweet)
    if not tweets:
        raise UsageError(f"the gold split {dataset}/{split} has no tweets")
    return Gold(dataset, split, tweets, has_boxes, has_masks)


def gold_of(rows: Iterable[Mapping[str, Any]], dataset: str, split: str) -> Gold:
    """:func:`gold_from_rows` with the annotations the registry gives ``dataset`` (boxes, masks)."""
    spec = DATASETS[dataset]
    return gold_from_rows(rows, dataset=dataset, split=split, has_boxes=spec.boxes, has_masks=spec.masks)


def gold_from_export(dataset: str, split: str, folder: str | os.PathLike) -> Gold:
    """The gold of ``dataset``/``split`` in an exported Parquet folder (the card's files of that config and split,
    see :func:`_export_rows`)."""
    check_config(dataset)
    split = canonical_split(split)
    folder = Path(folder).expanduser()
    if not (folder / "README.md").is_file():
        raise MissingDataError("not an exported dataset folder (no README.md card)", file=folder)
    from .exported import read_card

    return gold_of(_export_rows(read_card(folder).split_files(dataset, split)), dataset, split)


def _export_rows(files: list[Path]) -> list[dict[str, Any]]:
    """The gold columns of an export's Parquet files (read with pyarrow: no ``datasets`` cache is written or
    trusted), each row checked against the data model: a damaged file or a row of another shape is a
    :class:`DataFormatError` naming the file (and the row), never a wrong score."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    seen: dict[str, tuple[Path, int]] = {}
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
            names = parquet.schema_arrow.names
            read = parquet.read(columns=[c for c in GOLD_COLUMNS if c in names]).to_pylist()
        except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
            why = f"{type(exc).__name__}: {str(exc)[:200]}"
            raise DataFormatError(f"not a readable Parquet file ({why}); export the config again", file=path) from None
        for i, row in enumerate(read):
            problem = _row_problem(row)
            if problem:
                raise DataFormatError(f"row {i}: {problem}", file=path)
            if row["id"] in seen:  # two tweets of one id: the scorer would match predictions to one of them only
                first = seen[row["id"]]
                raise DataFormatError(f"row {i}: id {row['id']!r} again (first in {first[0].name}, row {first[1]})",
                                      file=path)  # fmt: skip
            seen[row["id"]] = (path, i)
        rows += read
    return rows


def _overlap_problem(spans: list[tuple[int, int]]) -> str | None:
    """What makes the entity spans of one gold tweet other than flat (two of one span, or overlapping), or None."""
    ordered = sorted(spans)
    for (a, b), (c, d) in itertools.pairwise(ordered):
        if c < b:
            return f"entities [{a}, {b}) and [{c}, {d}) overlap: a gold is flat (one entity per span)"
    return None


def _row_problem(row: Mapping[str, Any]) -> str | None:
    """What makes ``row`` (an exported gold row) other than the data model, or None."""

    def ints(value: Any, n: int) -> bool:
        return isinstance(value, list) and len(value) == n and all(isinstance(v, int) for v in value)

    tokens = row.get("tokens")
    if not isinstance(row.get("id"), str) or not row["id"]:
        return f"id: a non-empty string expected, found {row.get('id')!r}"
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return "tokens: a list of strings expected"
    for name in ("width", "height"):
        if row.get(name) is not None and (not isinstance(row[name], int) or row[name] <= 0):
            return f"{name}: a positive integer or null expected, found {row[name]!r}"
    if not isinstance(row.get("entities"), list):
        return "entities: a list expected"
    for j, e in enumerate(row["entities"]):
        if not isinstance(e, dict) or not ints([e.get("start"), e.get("end")], 2):
            return f"entities[{j}]: a mapping with integer start and end expected"
        if not 0 <= e["start"] < e["end"] <= len(tokens):
            return f"entities[{j}]: span [{e['start']}, {e['end']}) outside the {len(tokens)} tokens"
        if not isinstance(e.get("text"), str) or e.get("type") not in TYPES:
            return f"entities[{j}]: a text string and a type among {', '.join(TYPES)} expected"
        boxes = e.get("boxes") or []
        if not isinstance(boxes, list) or not all(
            isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b) for b in boxes
        ):
            return f"entities[{j}].boxes: a list of [x1, y1, x2, y2] expected"
        masks = e.get("masks") or []
        if not isinstance(masks, list) or not all(
            isinstance(m, dict) and ints(m.get("size"), 2) and isinstance(m.get("counts"), str) for m in masks
        ):
            return f"entities[{j}].masks: a list of COCO RLE {{size: [h, w], counts: str}} expected"
        for k, m in enumerate(masks):  # read as pycocotools reads it, of the tweet's image size
            size, image = list(m["size"]), [row.get("height"), row.get("width")]
            problem = rle_problem({"size": size, "counts": m["counts"]})
            if problem is None and all(image) and size != image:
                problem = f"size {size} is not the image's {image}"
            if problem:
                return f"entities[{j}].masks[{k}]: {problem}"
    return _overlap_problem([(e["start"], e["end"]) for e in row["entities"]])
