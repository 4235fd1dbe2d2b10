"""Prediction files: the submission format (docs/design.md), read line by line and validated strictly.

One JSON object per line and per tweet::

    {"id": "71044", "entities": [{"start": 5, "end": 7, "text": "Garfield Park", "type": "LOC", "box": null}]}

Every violation is collected as an :class:`Issue` naming file, line, field and what was expected; a file
with any issue raises :class:`InvalidSubmission` and is never scored.

Hostile files are bounded: a line is read at most :data:`MAX_LINE_BYTES` at a time, its JSON may nest at most
:data:`MAX_DEPTH` levels and hold at most :data:`MAX_VALUES` values, integers have at most
:data:`MAX_INT_DIGITS` digits, a key appears at most once per object, and every value a message echoes is cut
to a short prefix. A compressed, UTF-16 or binary file, or one that starts with a byte-order mark, is refused
at once with one message saying what it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, ValidationError

from .arguments import arg
from .errors import MissingDataError, SmnerError, UsageError, shown
from .gold import Gold, GoldTweet
from .regions import rle_problem, rles_valid
from .registry import tasks_with_region
from .tags import TYPES, normalize_type, text_identity

BOX_TASKS = tasks_with_region("box")
MASK_TASKS = tasks_with_region("mask")
BOX_TOLERANCE = 1.0  # pixels a box may exceed the image by

MAX_LINE_BYTES = 10 * 1024 * 1024
"""Longest line read (10 MiB); a longer one is an error and is never held in memory whole."""
MAX_DEPTH = 32
"""Deepest JSON nesting of a line (a valid line nests 5 levels: line, entities, entity, mask, size)."""
MAX_VALUES = 100_000
"""Most JSON values (numbers, strings, arrays, objects...) on one line, counted before parsing."""
MAX_INT_DIGITS = 18
"""Longest integer (fits in 64 bits); longer ones are refused before Python converts them."""
SHOWN_CHARS = 40
"""How much of a user's value a message echoes."""
MAX_MESSAGE_CHARS = 200
MAX_FIELD_CHARS = 80
CHUNK_LINES = 256
"""Lines parsed before they are checked, so that the masks of all of them are checked at once
(:func:`~smner_bench.benchmark.regions.rles_valid`): most lines hold a few masks, and checking them one by one
cost mostly numpy's fixed cost per call."""
CHUNK_BYTES = 2**20
"""Most bytes of lines in one such chunk (a longer line is a chunk alone): what is held parsed at once stays
near what one line of :data:`MAX_VALUES` values holds."""

# What the first bytes of a file that is not UTF-8 JSON Lines say it is, and what to do.
_SIGNATURES = (
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip, or gzip -dc FILE > predictions.jsonl)"),
    (b"PK\x03\x04", "a zip archive: extract the JSON Lines file first (unzip)"),
    (b"BZh", "bzip2-compressed: decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (unzstd)"),
    (b"\xef\xbb\xbf", "starts with a UTF-8 byte-order mark (BOM): save it as UTF-8 without a BOM"),
    (b"\xff\xfe", "UTF-16 encoded (byte-order mark FF FE): save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 encoded (byte-order mark FE FF): save it as UTF-8"),
)
_HEAD_BYTES = 8192
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENERS = re.compile(rb"\[+")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # for depth, an object is a bracket like an array


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

    def __init__(self, file: str, issues: list[Issue], total: int, unknown_ids: list[str] | None = None) -> None:
        self.issues, self.total = issues, total
        self.unknown_ids = unknown_ids or []  # ids that are not the split's (a file of another split?)
        hidden = total - len(issues)
        lists = arg("max_issues", metavar="N")
        more = (
            f"\n... and {hidden} more problem{'s' * (hidden != 1)} not shown ({lists} lists more)"
            if hidden
            else ""
        )
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
            out = tasks_with_region(None)
            if all(p.has_box for p in self.predictions):
                out += BOX_TASKS
            if all(p.has_mask for p in self.predictions):
                out += MASK_TASKS
            self._tasks = out
        return self._tasks


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if not isinstance(part, int):
            part = str(part)
            part = part if len(part) <= SHOWN_CHARS and part.isprintable() else shown(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Checker:
    def __init__(self, file: str, gold: Gold, max_issues: int) -> None:
        self.file, self.gold, self.max_issues = file, gold, max_issues
        self.issues: list[Issue] = []
        self.total = 0
        self.unknown_ids: list[str] = []

    def add(self, line: int | None, field: str | None, message: str) -> None:
        self.total += 1
        if len(self.issues) < self.max_issues:  # every message is bounded, whatever it quotes
            field = None if field is None else shown(field, MAX_FIELD_CHARS - 3, quote=False)
            self.issues.append(Issue(self.file, line, field, shown(message, MAX_MESSAGE_CHARS - 3, quote=False)))


def _check_entity(
    c: _Checker, tweet: GoldTweet, e: EntityIn, where: str, lineno: int, order: int, mask_valid: bool
) -> Prediction | None:
    """The prediction of one entity, or None with its problems added to ``c``; ``mask_valid``: ``rles_valid``
    accepted its mask already (rle_problem only says what is wrong with the others)."""
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
            if text is not None and text_identity(text) != text_identity(span_text):  # NFC: one spelling
                c.add(
                    lineno,
                    f"{where}.text",
                    f"{shown(text)} disagrees with the tokens {e.start}:{e.end}: {shown(span_text)}",
                )
                ok = False
            text = span_text
    if text is not None and not text.strip():
        c.add(lineno, f"{where}.text", "empty text")
        ok = False
    canonical = normalize_type(e.type)
    if canonical is None:
        c.add(lineno, f"{where}.type", f"unknown type {shown(e.type)} (expected {', '.join(TYPES)}; MISC = OTHER)")
        ok = False
    box = None
    if e.box is not None:
        box = _check_box(c, tweet, e.box, f"{where}.box", lineno)
        ok = ok and box is not None
    if e.mask is not None:
        problem = None if mask_valid else rle_problem(e.mask)
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


def _finite(v: float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def box_problem(box: Any, width: int | None, height: int | None) -> str | None:
    """Why ``box`` breaks the submission's box rules for a ``width`` x ``height`` image (size unknown: None),
    or None when it is a valid box. Pure; the validator and the importers share it.

    >>> box_problem([0, 0, 10, 10], 20, 20) is None, box_problem([5, 0, 1, 10], 20, 20)
    (True, '[5, 0, 1, 10] is inverted or empty (need x1 < x2 and y1 < y2)')
    """
    if (
        not isinstance(box, (list, tuple))
        or len(box) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) for v in box)
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


class _Refused(Exception):
    """A JSON text the parser hooks refuse (a duplicate key, an integer too long)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {shown(key)} in one object (each key at most once)")
            seen.add(key)
    return obj


def _integer(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _Refused(f"integer {shown(text, 20)} has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _structure_problem(raw: bytes) -> str | None:
    """Too deep or too many values, found on the bytes before parsing (strings blanked out first). Every step
    is a C-level pass over the line that allocates a bounded number of objects, whatever the line holds."""
    quotes = raw.count(b'"')
    if quotes > 4 * MAX_VALUES:  # each string takes two quotes: bounds the blanking below
        return f"about {quotes // 2} JSON strings on one line (at most {MAX_VALUES} values)"
    bare = _STRING.sub(b'""', raw)
    brackets = bare.translate(_ONE_KIND, _NOT_BRACKETS)
    rest, depth = brackets, 0  # peel the innermost pairs, one level per pass
    while rest and depth <= MAX_DEPTH:
        peeled = rest.replace(b"[]", b"")
        if len(peeled) == len(rest):
            break  # unbalanced: the parser says where
        rest, depth = peeled, depth + 1
    if depth > MAX_DEPTH or (rest and max(map(len, _OPENERS.findall(rest)), default=0) > MAX_DEPTH):
        return f"JSON nested deeper than {MAX_DEPTH} levels"  # unbalanced: a run of openers is nested at least
    values = bare.count(b",") + len(brackets) // 2 + 1
    if values > MAX_VALUES:
        return f"about {values} JSON values on one line (at most {MAX_VALUES})"
    return None


def parse_line(raw: bytes) -> Any:
    """One line's JSON value, within the bounds of this module; raises :class:`ValueError` with the reason
    (not UTF-8, not JSON, too deep, too many values, a duplicate key, an integer too long).

    >>> parse_line(b'{"id": "1", "entities": []}')
    {'id': '1', 'entities': []}
    >>> parse_line(b'{"id": "1", "id": "2"}')
    Traceback (most recent call last):
    ValueError: duplicate key 'id' in one object (each key at most once)
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    problem = _structure_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    try:
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg}, column {exc.colno})") from None
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:  # unbalanced brackets the structure check could not measure
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None


def _parsed(raw: bytes) -> Any:
    """:func:`parse_line`, with the ValueError given back instead of raised."""
    try:
        return parse_line(raw)
    except ValueError as exc:
        return exc


def _valid_masks(parsed: list[Any]) -> list[set[int]]:
    """For each parsed line, the entities (by position) whose "mask" :func:`rles_valid` accepts: every mask of
    the lines checked in one call. A line's model keeps its entities in the file's order and its masks as they
    are (strict, ``dict[str, Any]``), so ``entities[k].mask`` is the mask checked here."""
    where: list[tuple[int, int]] = []
    masks: list[Any] = []
    for i, obj in enumerate(parsed):
        entities = obj.get("entities") if isinstance(obj, dict) else None
        if isinstance(entities, list):
            for k, e in enumerate(entities):
                if isinstance(e, dict) and isinstance(e.get("mask"), dict):
                    where.append((i, k))
                    masks.append(e["mask"])
    out: list[set[int]] = [set() for _ in parsed]
    for (i, k), valid in zip(where, rles_valid(masks).tolist(), strict=True):
        if valid:
            out[i].add(k)
    return out


def _chunks(numbered: Iterable[tuple[int, bytes | None]]) -> Iterator[list[tuple[int, bytes | None]]]:
    """Numbered lines in chunks of at most :data:`CHUNK_LINES` lines and :data:`CHUNK_BYTES` bytes."""
    chunk: list[tuple[int, bytes | None]] = []
    size = 0
    for item in numbered:
        length = len(item[1] or b"")
        if chunk and (len(chunk) == CHUNK_LINES or size + length > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


def _check_line(
    c: _Checker, sub: Submission, gold: Gold, obj: Any, lineno: int, first_line: dict[str, int], masks: set[int]
) -> None:
    """Validate one parsed line (or the ValueError of its parsing) and add its predictions to ``sub``; problems
    go to ``c``. ``masks``: the entities whose mask :func:`rles_valid` accepted."""
    if isinstance(obj, ValueError):
        c.add(lineno, None, str(obj))
        return
    if not isinstance(obj, dict):
        c.add(lineno, None, f"expected a JSON object, got {type(obj).__name__}")
        return
    tweet_id = obj.get("id")
    if isinstance(tweet_id, str):  # the id first, so that a line with other problems still counts as present
        if tweet_id not in gold.by_id:
            c.add(lineno, "id", f"unknown id {shown(tweet_id)}: not a tweet of {gold.name}")
            c.unknown_ids.append(tweet_id)
            return
        if tweet_id in first_line:
            c.add(lineno, "id", f"duplicate id {shown(tweet_id)} (first at line {first_line[tweet_id]})")
            return
        first_line[tweet_id] = lineno
        sub.seen.add(tweet_id)
    try:
        parsed = LineIn.model_validate(obj)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            c.add(lineno, _field_path(err["loc"]) or None, err["msg"])
        return
    tweet = gold.by_id[parsed.id]
    spans: dict[tuple[int, int], int] = {}
    for k, e in enumerate(parsed.entities):
        where = f"entities[{k}]"
        pred = _check_entity(c, tweet, e, where, lineno, len(sub.predictions), k in masks)
        if pred is None:
            continue
        if pred.start is not None:
            key = (pred.start, pred.end)
            if key in spans:
                c.add(lineno, where, f"duplicate span [{pred.start}, {pred.end}) (also entities[{spans[key]}])")
                continue
            spans[key] = k  # type: ignore[index]
        sub.predictions.append(pred)
    for pair in overlapping_spans(spans):
        (i, first), (j, second) = sorted((spans[span], span) for span in pair)  # named in the file's order
        c.add(
            lineno,
            f"entities[{j}]",
            f"span [{second[0]}, {second[1]}) overlaps entities[{i}] [{first[0]}, {first[1]}): the datasets are flat "
            "(no nested or crossing entities): keep one of them",
        )


def overlapping_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``(span, other)`` for each span that overlaps a span starting at or before it (the one reaching furthest),
    in order of start: one pair per overlapping span, in O(n log n) whatever a line holds. Equal spans are not
    pairs here (the validator calls them duplicates).

    >>> overlapping_spans([(9, 11), (10, 11), (12, 13)])
    [((10, 11), (9, 11))]
    """
    out = []
    reach: tuple[int, int] | None = None
    for span in sorted(set(spans)):
        if reach is not None and span[0] < reach[1]:
            out.append((span, reach))
        if reach is None or span[1] > reach[1]:
            reach = span
    return out


def _file_kind_problem(head: bytes) -> str | None:
    """What the first bytes say a file is when it cannot be UTF-8 JSON Lines, with what to do."""
    for magic, problem in _SIGNATURES:
        if head.startswith(magic):
            return problem
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"binary data (a NUL byte at byte {nul}): expected UTF-8 JSON Lines text"
    return None


def _lines(f, digest) -> Iterable[tuple[int, bytes | None]]:
    """``(line number, bytes)`` of a binary file, each line read with a bound; ``None`` for a line longer
    than :data:`MAX_LINE_BYTES` (skipped in chunks, never held whole). Every byte goes into ``digest``."""
    lineno = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        digest.update(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = f.readline(1 << 20)
                digest.update(raw)
            yield lineno, None
        else:
            yield lineno, raw


def _text_lines(lines: Iterable[str | bytes | dict], digest) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` of in-memory lines (a string holding newlines is split at them; a dict is one line,
    written as the JSON Lines serialiser writes it); ``None`` for a line longer than :data:`MAX_LINE_BYTES`.
    ``digest`` gets the bytes of the file the lines make, each line ended by a newline (added where a line comes
    without one), as JSON Lines writers write them."""
    if isinstance(lines, (str, bytes, dict)):
        lines = [lines]
    lineno = 0
    for position, item in enumerate(lines):
        if isinstance(item, dict):
            try:
                item = json.dumps(item, ensure_ascii=False)
            except (TypeError, ValueError) as exc:  # a value JSON has no form for: a line that is not JSON
                raise UsageError(f"lines[{position}]: not JSON data ({str(exc)[:100]})") from None
        elif not isinstance(item, (str, bytes)):
            raise UsageError(f"lines[{position}]: expected a JSON string, bytes or a dict, got {type(item).__name__}")
        text = item if isinstance(item, bytes) else item.encode("utf-8", "surrogatepass")
        parts = [text] if b"\n" not in text[:-1] else [p + b"\n" for p in text.split(b"\n")]
        if len(parts) > 1:  # as readline splits: at b"\n" only, the last part keeps what the item ends with
            parts[-1] = parts[-1][:-1]
            parts = parts if parts[-1] else parts[:-1]
        for raw in parts:
            lineno += 1
            digest.update(raw if raw.endswith(b"\n") else raw + b"\n")
            yield lineno, (None if len(raw) - raw.endswith(b"\n") > MAX_LINE_BYTES else raw)


def _parse(
    numbered: Iterable[tuple[int, bytes | None]],
    gold: Gold,
    c: _Checker,
    sub: Submission,
    *,
    task: str | None,
    allow_missing: bool,
) -> Submission:
    """Validate numbered lines (the core of :func:`parse_submission` and :func:`read_submission`)."""
    first_line: dict[str, int] = {}
    empty = True
    for chunk in _chunks(numbered):  # each chunk's lines parsed first, their masks checked at once
        parsed = [None if raw is None or not raw.strip() else _parsed(raw) for _, raw in chunk]
        masks = _valid_masks(parsed)
        for (lineno, raw), obj, valid in zip(chunk, parsed, masks, strict=True):
            if raw is None:
                empty = False
                c.add(lineno, None, f"line longer than {MAX_LINE_BYTES // 2**20} MiB (the limit of one line)")
            elif not raw.strip():
                c.add(lineno, None, "blank line: expected one JSON object per line, with no empty lines")
            else:
                empty = False
                _check_line(c, sub, gold, obj, lineno, first_line, valid)
    if empty:
        c.add(None, None, "empty file: expected one JSON object per tweet")
    sub.missing = [t.id for t in gold.tweets if t.id not in sub.seen]
    if sub.missing and not allow_missing:
        shown_ids = ", ".join(shown(i, SHOWN_CHARS - 3, quote=False) for i in sub.missing[:5])
        shown_ids += " ..." if len(sub.missing) > 5 else ""
        c.add(
            None,
            "id",
            f"{len(sub.missing)} tweets of {gold.name} are missing ({shown_ids}); "
            f'write them with "entities": [] or pass {arg("allow_missing", True)} to count them as empty',
        )
    _check_keys(c, sub, task)
    if c.total:
        raise InvalidSubmission(sub.file, c.issues, c.total, c.unknown_ids)
    return sub


def parse_submission(
    lines: Iterable[str | bytes | dict],
    gold: Gold,
    *,
    name: str = "<lines>",
    task: str | None = None,
    allow_missing: bool = False,
    max_issues: int = 50,
) -> Submission:
    """Validate in-memory submission lines (JSON strings or bytes, one object each, with or without the newline;
    or dicts, as ``json.loads`` gives them) against ``gold``, with the rules and messages of
    :func:`read_submission`; ``name`` stands for the file in messages and in the report. Raises
    :class:`InvalidSubmission`. The submission's ``sha256`` is that of the file the lines make, each ended by a
    newline (``write_submission``'s file of the same lines).

    >>> from smner_bench.benchmark.gold import gold_from_rows
    >>> gold = gold_from_rows([{"id": "1", "tokens": ["Ann", "sings"], "entities": []}], dataset="demo", split="test",
    ...                       has_boxes=False, has_masks=False)
    >>> len(parse_submission(['{"id": "1", "entities": [{"start": 0, "end": 1, "type": "PER"}]}'], gold).predictions)
    1
    >>> try:
    ...     parse_submission(['{"id": "1", "entities": [{"text": "Ann", "type": "CAT"}]}'], gold, name="p.jsonl")
    ... except InvalidSubmission as exc:
    ...     print(exc)
    p.jsonl: 1 problem; nothing was scored:
    p.jsonl:1: entities[0].type: unknown type 'CAT' (expected PER, LOC, ORG, OTHER; MISC = OTHER)
    """
    digest = hashlib.sha256()
    sub = Submission(name, "")
    try:
        return _parse(
            _text_lines(lines, digest),
            gold,
            _Checker(name, gold, max_issues),
            sub,
            task=task,
            allow_missing=allow_missing,
        )
    finally:
        sub.sha256 = digest.hexdigest()


def read_submission(
    path: str | os.PathLike | BinaryIO,
    gold: Gold,
    *,
    name: str | None = None,
    task: str | None = None,
    allow_missing: bool = False,
    max_issues: int = 50,
) -> Submission:
    """Read and validate a submission against ``gold``; raises :class:`InvalidSubmission` listing every
    problem (up to ``max_issues``). ``task`` adds the rule that every entity carries the task's key
    (``box`` for eeg/gmner, ``mask`` for ees/smner); without it, the keys must at least be consistent.
    A blank line (empty or only whitespace) is an error; the newline that ends the last line is not one.

    ``path`` is a file name or a binary file open for reading (e.g. ``gzip.open(...)``; ``name`` then names it
    in messages). The file-level checks come first (a compressed, UTF-16, binary file or a byte-order mark is
    refused at once), then every line, each read with a bound, goes through :func:`parse_submission`'s rules."""
    if not isinstance(path, (str, os.PathLike)):
        return _read(path, gold, name or str(getattr(path, "name", "<file>")), task, allow_missing, max_issues)
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("prediction file not found", file=path)
    with open(path, "rb") as f:
        return _read(f, gold, name or str(path), task, allow_missing, max_issues)


def _read(f: BinaryIO, gold: Gold, name: str, task: str | None, allow_missing: bool, max_issues: int) -> Submission:
    c = _Checker(name, gold, max_issues)
    problem = _file_kind_problem(f.read(_HEAD_BYTES))
    if problem is not None:
        c.add(None, None, problem)
        raise InvalidSubmission(name, c.issues, c.total)
    f.seek(0)
    digest = hashlib.sha256()
    sub = Submission(name, "")
    try:
        return _parse(_lines(f, digest), gold, c, sub, task=task, allow_missing=allow_missing)
    finally:
        sub.sha256 = digest.hexdigest()


def _check_keys(c: _Checker, sub: Submission, task: str | None) -> None:
    """Every entity must carry the key of the task scored; without a task, keys must be consistent."""
    for key, tasks in (("box", BOX_TASKS), ("mask", MASK_TASKS)):
        attr = "has_box" if key == "box" else "has_mask"
        present = [getattr(p, attr) for p in sub.predictions]
        if task in tasks and len(present) > 1 and not any(present):  # said once, not once per entity
            c.add(None, key, f"none of the {len(present)} entities has a '{key}' key: the task {task} needs a "
                  f"'{key}' key on every entity (null for not in the image); {arg('task', 'mner')} scores a file "
                  "without regions")  # fmt: skip
            continue
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
