"""Prediction files: the submission format (DESIGN.md), read line by line and validated strictly.

One JSON object per line and per tweet::

    {"id": "71044", "entities": [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "box": null}]}

Every violation is collected as an :class:`Issue` naming file, line, field and what was expected; a file
with any issue raises :class:`InvalidSubmission` and is never scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import MissingDataError, SmnerError
from .gold import Gold, GoldTweet
from .rle import rle_problem
from .tags import TYPES, normalize_type

TASKS = ("mner", "eeg", "gmner", "ees", "smner")
BOX_TASKS = ("eeg", "gmner")
MASK_TASKS = ("ees", "smner")
BOX_TOLERANCE = 1.0  # pixels a box may exceed the image by


class EntityIn(BaseModel):
    """One predicted entity as written in the file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    start: int | None = None
    end: int | None = None
    text: str | None = None
    type: str
    box: list[float] | None = None
    mask: dict[str, Any] | None = None
    score: float | None = None


class LineIn(BaseModel):
    """One line of a submission: a tweet id and its predicted entities."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str
    entities: list[EntityIn]


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


class InvalidSubmission(SmnerError):
    """A submission that breaks the format; carries every issue found (up to the limit)."""

    exit_code = 1

    def __init__(self, file: str, issues: list[Issue], total: int) -> None:
        self.issues, self.total = issues, total
        more = f"\n... and {total - len(issues)} more" if total > len(issues) else ""
        super().__init__(
            f"{total} problem{'s' * (total != 1)}; nothing was scored:\n" + "\n".join(map(str, issues)) + more,
            file=file,
        )


@dataclass
class Prediction:
    order: int  # position in the file, over all lines
    tweet: int  # index of the gold tweet
    line: int
    start: int | None
    end: int | None
    text: str
    type: str  # canonical (MISC -> OTHER)
    type_raw: str  # as written (the riveg mode compares this)
    box: tuple[float, float, float, float] | None
    mask: dict[str, Any] | None
    has_box: bool  # the "box" key is present
    has_mask: bool
    score: float | None


@dataclass
class Submission:
    file: str
    sha256: str
    predictions: list[Prediction] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    _tasks: tuple[str, ...] | None = field(default=None, repr=False)  # computed once the file is read

    @property
    def has_spans(self) -> bool:
        return all(p.start is not None for p in self.predictions)

    def tasks(self) -> tuple[str, ...]:
        """The tasks this file can be scored on (keys present on every entity)."""
        if self._tasks is None:  # a file without any entity carries every key, vacuously: it scores 0 anywhere
            out = ["mner"]
            if all(p.has_box for p in self.predictions):
                out += ["eeg", "gmner"]
            if all(p.has_mask for p in self.predictions):
                out += ["ees", "smner"]
            self._tasks = tuple(out)
        return self._tasks


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Checker:
    def __init__(self, file: str, gold: Gold, max_issues: int) -> None:
        self.file, self.gold, self.max_issues = file, gold, max_issues
        self.issues: list[Issue] = []
        self.total = 0

    def add(self, line: int | None, field: str | None, message: str) -> None:
        self.total += 1
        if len(self.issues) < self.max_issues:
            self.issues.append(Issue(self.file, line, field, message))


def _check_entity(c: _Checker, tweet: GoldTweet, e: EntityIn, where: str, lineno: int, order: int) -> Prediction | None:
    ok = True
    n = len(tweet.tokens)
    sets = e.model_fields_set
    if (e.start is None) != (e.end is None):
        c.add(lineno, where, "give both 'start' and 'end', or neither")
        ok = False
    elif e.start is None and e.text is None:
        c.add(lineno, where, "give 'start'/'end' (token offsets), 'text', or both")
        ok = False
    text = e.text
    if ok and e.start is not None:
        if not (0 <= e.start < e.end <= n):  # type: ignore[operator]
            c.add(lineno, f"{where}.start", f"span [{e.start}, {e.end}) is empty or outside the {n} tokens")
            ok = False
        else:
            span_text = " ".join(tweet.tokens[e.start : e.end])
            if text is not None and text != span_text:
                c.add(lineno, f"{where}.text", f"{text!r} disagrees with the tokens {e.start}:{e.end}: {span_text!r}")
                ok = False
            text = span_text
    if text is not None and not text.strip():
        c.add(lineno, f"{where}.text", "empty text")
        ok = False
    canonical = normalize_type(e.type)
    if canonical is None:
        c.add(lineno, f"{where}.type", f"unknown type {e.type!r} (expected {', '.join(TYPES)}; MISC = OTHER)")
        ok = False
    box = None
    if e.box is not None:
        box = _check_box(c, tweet, e.box, f"{where}.box", lineno)
        ok = ok and box is not None
    if e.mask is not None:
        problem = rle_problem(e.mask)
        size = tweet.mask_size
        if problem is None and size is not None and list(e.mask["size"]) != size:
            problem = f"size {e.mask['size']} differs from the image's [h, w] = {size}"
        if problem:
            c.add(lineno, f"{where}.mask", problem)
            ok = False
    if e.score is not None and not math.isfinite(e.score):
        c.add(lineno, f"{where}.score", "must be a finite number")
        ok = False
    if not ok:
        return None
    return Prediction(
        order,
        tweet.index,
        lineno,
        e.start,
        e.end,
        text,
        canonical,
        e.type,
        box,
        e.mask,  # type: ignore[arg-type]
        "box" in sets,
        "mask" in sets,
        e.score,
    )


def box_problem(box: Any, width: int | None, height: int | None) -> str | None:
    """Why ``box`` breaks the submission's box rules for a ``width`` x ``height`` image (size unknown: None),
    or None when it is a valid box. Pure; the validator and the importers share it.

    >>> box_problem([0, 0, 10, 10], 20, 20) is None, box_problem([5, 0, 1, 10], 20, 20)
    (True, '[5, 0, 1, 10] is inverted or empty (need x1 < x2 and y1 < y2)')
    """
    if (
        not isinstance(box, (list, tuple))
        or len(box) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)
    ):
        return "expected [x1, y1, x2, y2]: 4 finite numbers, or null"
    x1, y1, x2, y2 = box
    if x1 >= x2 or y1 >= y2:
        return f"{list(box)} is inverted or empty (need x1 < x2 and y1 < y2)"
    if min(box) < 0:
        return f"{list(box)} has a negative coordinate"
    if width and height and (x2 > width + BOX_TOLERANCE or y2 > height + BOX_TOLERANCE):
        return f"{list(box)} lies outside the {width}x{height} image by more than 1 pixel"
    return None


def _check_box(c: _Checker, tweet: GoldTweet, box: list[float], where: str, lineno: int):
    problem = box_problem(box, tweet.width, tweet.height)
    if problem is not None:
        c.add(lineno, where, problem)
        return None
    x1, y1, x2, y2 = box
    return (float(x1), float(y1), float(x2), float(y2))


def _check_line(c: _Checker, sub: Submission, gold: Gold, raw: bytes, lineno: int, first_line: dict[str, int]) -> None:
    """Validate one line and add its predictions to ``sub``; problems go to ``c``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        c.add(lineno, None, f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        c.add(lineno, None, f"not JSON ({exc.msg}, column {exc.colno})")
        return
    if not isinstance(obj, dict):
        c.add(lineno, None, f"expected a JSON object, got {type(obj).__name__}")
        return
    tweet_id = obj.get("id")
    if isinstance(tweet_id, str):  # the id first, so that a line with other problems still counts as present
        if tweet_id not in gold.by_id:
            c.add(lineno, "id", f"unknown id {tweet_id!r}: not a tweet of {gold.name}")
            return
        if tweet_id in first_line:
            c.add(lineno, "id", f"duplicate id {tweet_id!r} (first at line {first_line[tweet_id]})")
            return
        first_line[tweet_id] = lineno
        sub.seen.add(tweet_id)
    try:
        parsed = LineIn.model_validate(obj)
    except ValidationError as exc:
        for err in exc.errors():
            c.add(lineno, _field_path(err["loc"]) or None, err["msg"])
        return
    tweet = gold.by_id[parsed.id]
    spans: dict[tuple[int, int], int] = {}
    for k, e in enumerate(parsed.entities):
        where = f"entities[{k}]"
        pred = _check_entity(c, tweet, e, where, lineno, len(sub.predictions))
        if pred is None:
            continue
        if pred.start is not None:
            key = (pred.start, pred.end)
            if key in spans:
                c.add(lineno, where, f"duplicate span [{pred.start}, {pred.end}) (also entities[{spans[key]}])")
                continue
            spans[key] = k  # type: ignore[index]
        sub.predictions.append(pred)


def read_submission(
    path: str | os.PathLike,
    gold: Gold,
    *,
    task: str | None = None,
    allow_missing: bool = False,
    max_issues: int = 50,
) -> Submission:
    """Read and validate a submission against ``gold``; raises :class:`InvalidSubmission` listing every
    problem (up to ``max_issues``). ``task`` adds the rule that every entity carries the task's key
    (``box`` for eeg/gmner, ``mask`` for ees/smner); without it, the keys must at least be consistent."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("prediction file not found", file=path)
    digest = hashlib.sha256()
    sub = Submission(str(path), "")
    c = _Checker(str(path), gold, max_issues)
    first_line: dict[str, int] = {}
    empty = True
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            digest.update(raw)
            if not raw.strip():
                continue
            empty = False
            _check_line(c, sub, gold, raw, lineno, first_line)
    sub.sha256 = digest.hexdigest()
    if empty:
        c.add(None, None, "empty file: expected one JSON object per tweet")
    sub.missing = [t.id for t in gold.tweets if t.id not in sub.seen]
    if sub.missing and not allow_missing:
        shown = ", ".join(sub.missing[:5]) + (" ..." if len(sub.missing) > 5 else "")
        c.add(
            None,
            "id",
            f"{len(sub.missing)} tweets of {gold.name} are missing ({shown}); "
            'write them with "entities": [] or pass --allow-missing to count them as empty',
        )
    _check_keys(c, sub, task)
    if c.total:
        raise InvalidSubmission(str(path), c.issues, c.total)
    return sub


def _check_keys(c: _Checker, sub: Submission, task: str | None) -> None:
    """Every entity must carry the key of the task scored; without a task, keys must be consistent."""
    for key, tasks in (("box", BOX_TASKS), ("mask", MASK_TASKS)):
        attr = "has_box" if key == "box" else "has_mask"
        present = [getattr(p, attr) for p in sub.predictions]
        if task in tasks:
            need = f"the task {task} needs a '{key}' key on every entity (null for not in the image)"
        elif any(present) and not all(present):
            need = f"'{key}' is given on some entities but not on this one: give it everywhere or nowhere"
        else:
            continue
        for p in sub.predictions:
            if not getattr(p, attr):
                c.add(p.line, key, need)


def gold_as_submission(gold: Gold, *, box: bool = False, mask: bool = False) -> list[dict[str, Any]]:
    """The gold itself as submission lines (first gold box / mask of each entity, or null): a perfect
    submission, the starting point of tests and of the demo's sample predictions."""
    lines = []
    for t in gold.tweets:
        entities = []
        for e in t.entities:
            item: dict[str, Any] = {"start": e.start, "end": e.end, "text": e.text, "type": e.type}
            if box:
                item["box"] = [float(v) for v in e.boxes[0]] if len(e.boxes) else None
            if mask:
                item["mask"] = dict(e.masks[0]) if e.masks else None
            entities.append(item)
        lines.append({"id": t.id, "entities": entities})
    return lines


def write_submission(
    path: str | os.PathLike, lines: list[dict[str, Any]], *, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Write submission lines as JSON Lines (UTF-8), atomically, following the safe-output rules."""
    from .safe_output import write_jsonl

    write_jsonl(path, lines, inputs=inputs)
