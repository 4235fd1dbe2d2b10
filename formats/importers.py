"""Importers of other systems' outputs into submissions (``smner-bench import``).

The rule: an importer writes only what the source says. A box is written only where the source gives one; ``null``
("not in the image") only where the source judged the entity not in the image; anything the source leaves open is
an error (nothing is written), never a guess. Boxes are checked with the scorer's own rule
(:func:`smner_bench.benchmark.submission.box_problem`) at import, so an imported file never fails validation later.

- **RiVEG release files**: lines ``Imageid:<id>.jpg#<hex>###<Entity>(<TYPE>)###<expression>###<0|2>`` (2: the
  visual-entailment stage judged the entity to be in the image; 0: not). The authors released these judgements, not
  their grounding boxes. Without a grounding file the import is an MNER submission (no ``box`` keys); with one (a
  JSON list, or JSON Lines, of ``{"uniq_id": "<id>.jpg#<hex>", "box": [x1, y1, x2, y2]}``), every entity judged 2
  needs exactly one box there and every entity judged 0 gets ``box: null``.
- **H-Index prediction files** (``test.py`` of NUSTM/GMNER): per tweet a line with the raw words, a line
  ``Pred: (<span> , [<region ids>] , <TYPE> ) ...``, a line `` GT : ...`` and a blank line; the file ends with a
  metrics dict. Tweets carry no id: they are aligned with the split by order and words. The span is H-Index's
  decoding of the first sub-word of each word, so a word may appear cut (placed by word prefixes). Types are
  ``PER``/``LOC``/``ORG``/``OTHER`` or H-Index's own tokens ``<<person>>``, ``<<location>>``, ``<<organization>>``,
  ``<<others>>``. Region ids index the first ``box_num`` candidate boxes of the image (H-Index's ``--box_num``,
  default 16: its VinVL detections in the order of its feature file, zero-padded to ``box_num``); the id
  ``box_num`` means "no region". Without a candidates file the import is an MNER submission; with one (a JSON
  object image id -> list of boxes), the first listed region id gives the box (ids are top-k, most confident
  first), ``box_num`` gives ``null``, and an id that points at a padding slot or past ``box_num`` is an error.

Spans are recovered by finding the entity's words among the tweet's tokens, all the entities of a tweet together
(:func:`place_all`): the datasets are flat, so no two spans overlap, as many entities as possible are placed and the
earlier lines get the earlier occurrences. An entity whose words are not in the tweet, or lie inside a placed entity
wherever they occur, keeps its text only (a note). A line that names an entity more often than the tweet
contains it, a repeated id, a malformed line, an unknown tweet are errors naming file:line (both lines for a
repeat). Errors are collected and raised together as :class:`ImportProblems` (exit 1); notes come back in the
:class:`ImportReport`.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smner_bench.benchmark.arguments import arg
from smner_bench.benchmark.errors import DataFormatError, MissingDataError, shown
from smner_bench.benchmark.gold import Gold, GoldTweet
from smner_bench.benchmark.submission import box_problem

TYPE_SUFFIX = re.compile(r"^(.*)\((PER|LOC|ORG|OTHER|MISC)\)$", re.DOTALL)
RIVEG_ID = re.compile(r"^Imageid:(?P<uniq>(?P<tweet>[^\s#]+)\.jpg#[0-9A-Fa-f]+)$")
HINDEX_TYPES = {
    "<<person>>": "PER",
    "<<location>>": "LOC",
    "<<organization>>": "ORG",
    "<<others>>": "OTHER",
    **{t: t for t in ("PER", "LOC", "ORG", "OTHER", "MISC")},
}
HINDEX_TAIL = re.compile(r" , \[([^\][]*)\] , (" + "|".join(re.escape(t) for t in HINDEX_TYPES) + r") \)")
"""The end of an H-Index tuple, `` , [<ids>] , <TYPE> )``: found without backtracking over the span, which
precedes it after ``(`` (a span may itself hold parentheses or commas)."""

HINDEX_BOX_NUM = 16  # H-Index's default --box_num
SHOWN = 20  # errors listed in an ImportProblems message (all are counted)


class ImportProblems(DataFormatError):
    """The source files cannot be imported as they are; every problem is listed (up to :data:`SHOWN`), nothing
    was written."""

    def __init__(self, problems: list[str], *, outcome: str = "nothing was written") -> None:
        self.problems = problems
        n = len(problems)
        more = f"\n  ... and {n - SHOWN} more" if n > SHOWN else ""
        lines = "\n".join(f"  {p}" for p in problems[:SHOWN])
        super().__init__(f"{n} problem{'s' * (n != 1)} in the imported files; {outcome}:\n{lines}{more}")


@dataclass
class ImportReport:
    """What an import did: counts and notes (things written as the source says them, worth knowing)."""

    task: str = "mner"  # "mner" (no box keys) or "gmner" (a box or null on every entity)
    entities: int = 0
    without_span: int = 0
    in_image: int = 0  # entities the source judged to be in the image (RiVEG label 2 / an H-Index region)
    boxes: int = 0  # boxes written
    tweets_missing: int = 0  # tweets of the split not written (H-Index: no block)
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.notes.append(message)


def _text(path: Path) -> str:
    if not path.is_file():
        raise MissingDataError("file not found (or not a regular file)", file=path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        raise DataFormatError("a gzip file: decompress it first (gunzip)", file=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(f"not UTF-8 ({exc.reason} at byte {exc.start})", file=path, line=line) from None
    return text.removeprefix("\ufeff")


# ---------------------------------------------------------------------------------------------------------------
# JSON with line numbers: the top-level items of a list, an object or JSON Lines, each with the line it starts on
# ---------------------------------------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"duplicate key {shown(key)} in one object")
        out[key] = value
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
_SPACE = re.compile(r"[ \t\r\n]*")


def json_items(path: Path, *, kinds: str = "[{") -> list[tuple[int, str | None, Any]]:
    """``(line, key, value)`` for each top-level item of ``path``: a JSON list (key None), a JSON object (when
    ``kinds`` has ``{``: its keys) or JSON Lines (when ``kinds`` has ``l``: one object per line, key None).
    Duplicate keys anywhere, bad JSON, deep nesting and huge numbers are :class:`DataFormatError` with the line."""
    text = _text(path)
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    def fail(pos: int, message: str):
        return DataFormatError(message, file=path, line=line_of(pos))

    def decode(pos: int) -> tuple[Any, int]:
        try:
            return _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, f"not JSON ({exc.msg}, column {exc.colno})") from None
        except _DuplicateKey as exc:
            raise fail(pos, str(exc)) from None
        except RecursionError:
            raise fail(pos, "JSON nested too deeply") from None
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            raise fail(pos, f"not JSON ({str(exc)[:80]})") from None

    def skip(pos: int) -> int:
        return _SPACE.match(text, pos).end()  # type: ignore[union-attr]

    pos = skip(0)
    items: list[tuple[int, str | None, Any]] = []
    if pos == len(text):
        raise DataFormatError("empty file", file=path)
    opening = text[pos]
    if opening == "{" and "l" in kinds:  # JSON Lines
        while pos < len(text):
            value, end = decode(pos)
            items.append((line_of(pos), None, value))
            pos = skip(end)
        return items
    if opening not in kinds or opening not in "[{":
        expected = " or ".join([{"[": "a JSON list", "{": "a JSON object", "l": "JSON Lines"}[k] for k in kinds])
        raise fail(pos, f"expected {expected}")
    closing = "]" if opening == "[" else "}"
    keys: dict[str, int] = {}
    pos = skip(pos + 1)
    if text[pos : pos + 1] == closing:
        pos += 1
    else:
        while True:
            start, key = pos, None
            if opening == "{":
                key, pos = decode(pos)
                if not isinstance(key, str):
                    raise fail(start, "expected a key (a string)")
                if key in keys:
                    raise fail(start, f"duplicate key {shown(key)} (first at line {keys[key]})")
                keys[key] = line_of(start)
                pos = skip(pos)
                if text[pos : pos + 1] != ":":
                    raise fail(pos, "expected ':' after the key")
                pos = skip(pos + 1)
            value, pos = decode(pos)
            items.append((line_of(start), key, value))
            pos = skip(pos)
            sep = text[pos : pos + 1]
            if sep == closing:
                pos += 1
                break
            if sep != ",":
                raise fail(pos, f"expected ',' or '{closing}'")
            pos = skip(pos + 1)
    if skip(pos) != len(text):
        raise fail(skip(pos), "unexpected text after the end of the JSON value")
    return items


# ---------------------------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------------------------


def locate(
    tokens: list[str], text: str, taken: set[tuple[int, int]], *, prefix: bool = False
) -> tuple[int, int] | None:
    """The first span of ``tokens`` spelling ``text`` (words joined by one space) that is not yet taken; with
    ``prefix``, each word may be the beginning of its token (H-Index prints the first sub-word of each word)."""
    words = text.split()
    n = len(words)
    if n == 0:
        return None
    for start in range(len(tokens) - n + 1):
        window = tokens[start : start + n]
        same = window == words if not prefix else all(t.startswith(w) for t, w in zip(window, words, strict=True))
        if same and (start, start + n) not in taken:
            return start, start + n
    return None


def occurrences(tokens: list[str], text: str, *, prefix: bool = False) -> list[tuple[int, int]]:
    """Every span of ``tokens`` spelling ``text``, in order (overlapping ones included); with ``prefix``, those
    spelled exactly first, then those spelled by word prefixes only.

    >>> occurrences("Klay Thompson . Thompson".split(), "Thompson")
    [(1, 2), (3, 4)]
    """
    words = text.split()
    n = len(words)
    exact, by_prefix = [], []
    for start in range(len(tokens) - n + 1) if n else ():
        window = tokens[start : start + n]
        if window == words:
            exact.append((start, start + n))
        elif prefix and all(t.startswith(w) for t, w in zip(window, words, strict=True)):
            by_prefix.append((start, start + n))
    return exact + by_prefix


PLACEMENT_STEPS = 20_000
"""Most steps of the search for the best placement of one tweet's entities (then the best found so far)."""


def place_all(options: list[list[tuple[int, int]]], *, steps: int = PLACEMENT_STEPS) -> list[tuple[int, int] | None]:
    """A span for each entity of a tweet, chosen among its ``options`` (its occurrences, best first), such that no
    two spans overlap (the datasets are flat): as many entities placed as possible, and among such placements the
    one that gives each entity, in file order, its earliest option. Nothing is ever placed on a span that overlaps
    another: ``Thompson`` after ``Klay Thompson`` takes a free ``Thompson``, whichever the file names first.

    >>> tokens = "Klay Thompson . Thompson scores".split()
    >>> place_all([occurrences(tokens, "Thompson"), occurrences(tokens, "Klay Thompson")])
    [(3, 4), (0, 2)]
    >>> place_all([[(0, 2)], [(1, 2)]])  # no free Thompson: the second stays unplaced
    [(0, 2), None]
    """
    greedy: list[tuple[int, int] | None] = []  # each entity, in file order, on its first free option
    used: set[int] = set()
    skip: dict[int, int] = {}  # options of one list already found taken (they stay taken): linear in all
    for o in options:
        k = skip.get(id(o), 0)
        while k < len(o) and not used.isdisjoint(range(*o[k])):
            k += 1
        skip[id(o)] = k
        span = o[k] if k < len(o) else None
        used.update(range(*span) if span else ())
        greedy.append(span)
    n = len(options)
    best, best_count = greedy, sum(s is not None for s in greedy)
    if n > 100:  # a hostile file naming hundreds of entities in one tweet: the greedy placement
        return best
    chosen: list[tuple[int, int] | None] = []
    left = steps

    def free(span: tuple[int, int]) -> bool:
        return all(c is None or span[1] <= c[0] or c[1] <= span[0] for c in chosen)

    def search(i: int, count: int) -> None:  # depth-first in preference order; only a strictly better leaf counts
        nonlocal best, best_count, left
        possible = count + sum(1 for o in options[i:] if o)
        if possible <= best_count or left <= 0:
            return
        if i == n:
            best, best_count = list(chosen), count
            return
        for span in options[i]:
            left -= 1
            if free(span):
                chosen.append(span)
                search(i + 1, count + 1)
                chosen.pop()
            if best_count == possible or left <= 0:
                return
        chosen.append(None)
        search(i + 1, count)
        chosen.pop()

    search(0, 0)
    return best


@dataclass
class _Request:
    """An entity as the source names it, waiting for its span (the dict is what the submission gets)."""

    entity: dict
    text: str
    where: str
    prefix: bool


@dataclass
class _Tweet:
    """Entities being imported for one tweet; their spans are chosen together (:func:`_settle`)."""

    gold: GoldTweet
    entities: list[dict] = field(default_factory=list)
    requests: list[_Request] = field(default_factory=list)


_NO_BOX = object()


def _place(t: _Tweet, text: str, kind: str, where: str, report: ImportReport, *, prefix: bool = False) -> dict:
    """The entity dict of a named entity, added to ``t``: its span is chosen with the tweet's others (:func:`_settle`);
    a box may be attached meanwhile."""
    entity = {"text": text, "type": kind}
    t.entities.append(entity)
    t.requests.append(_Request(entity, text, where, prefix))
    report.entities += 1
    return entity


def _settle(tweets: Iterable[_Tweet], report: ImportReport, errors: list[str]) -> None:
    """Give every requested entity its span (:func:`place_all`: no two overlap). An entity left without one keeps its
    text (a note) when the tweet lacks its words or each occurrence overlaps a placed entity; naming a text more
    often than the tweet contains it is an error naming every line that named it."""
    for t in tweets:
        tokens = t.gold.tokens
        found = {(r.text, r.prefix): occurrences(tokens, r.text, prefix=r.prefix) for r in t.requests}
        spans = place_all([found[r.text, r.prefix] for r in t.requests])
        named: dict[str, list[str]] = defaultdict(list)
        for r, span in zip(t.requests, spans, strict=True):
            earlier = named[r.text]
            count = len(found[r.text, r.prefix])
            if span is not None or len(earlier) < max(count, 1):
                earlier.append(r.where)
            box = r.entity.pop("box", _NO_BOX)
            if span is not None:
                kind = r.entity.pop("type")
                r.entity.clear()  # the keys in the submission's order
                r.entity.update(start=span[0], end=span[1], text=" ".join(tokens[span[0] : span[1]]), type=kind)
                if r.prefix and tokens[span[0] : span[1]] != r.text.split():
                    where = f"{r.where}: {shown(r.text)} placed at tokens {span[0]}:{span[1]}"
                    report.note(f"{where} (placed by word prefixes)")
            elif earlier[-1] != r.where:  # named before as often as the tweet has it (once if never)
                errors.append(
                    f"{r.where}: {shown(r.text)} repeats {_show_ids(earlier, 3)}: tweet {t.gold.id} contains it "
                    f"{count} time{'s' * (count != 1)} (a repeated prediction, not another mention)"
                )
            else:
                report.without_span += 1
                why = "is not among the tweet's tokens" if not count else "overlaps a placed entity wherever it occurs"
                report.note(f"{r.where}: {shown(r.text)} {why}: kept as text only")
            if box is not _NO_BOX:
                r.entity["box"] = box


def _box_or_error(box: Any, tweet: GoldTweet, where: str, errors: list[str]) -> list[float] | None:
    problem = box_problem(box, tweet.width, tweet.height)
    if problem is not None:
        errors.append(f"{where}: {problem[:200]}")
        return None
    return [float(v) for v in box]


def note_missing(report: ImportReport, gold: Gold, present, why: str) -> None:
    """Count the gold tweets the source does not give (``present``: the ids it gives) and note them."""
    missing = [t.id for t in gold.tweets if t.id not in present]
    report.tweets_missing = len(missing)
    if missing:
        report.note(
            f"{len(missing)} tweets of {gold.name} {why} ({_show_ids(missing)}): not written; score with "
            f"{arg('allow_missing', True)} to count them as empty"
        )


def _show_ids(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f" ... ({len(ids)} in all)" if len(ids) > n else "")


# ---------------------------------------------------------------------------------------------------------------
# RiVEG
# ---------------------------------------------------------------------------------------------------------------


RIVEG_NO_GROUNDING = (
    "no --grounding file: wrote an MNER submission (no 'box' keys). The RiVEG release holds the authors' "
    "visual-entailment judgements ({in_image} of {entities} entities judged in the image), not their grounding "
    "boxes (never released), so GMNER and EEG cannot be scored from it: 'in the image' is not a box, and writing "
    "null would claim 'not in the image'. To score GMNER, give --grounding FILE with a box for each of those "
    "{in_image} entities."
)


@dataclass
class _RivegLine:
    where: str
    tweet: str
    label: str
    entity: dict


def _read_grounding(path: Path, errors: list[str]) -> dict[str, tuple[str, Any]]:
    """uniq_id -> (where, box) from a grounding file; problems go to ``errors``."""
    out: dict[str, tuple[str, Any]] = {}
    for line, _, item in json_items(path, kinds="[l"):
        where = f"{path}:{line}"
        if not isinstance(item, dict) or set(item) != {"uniq_id", "box"}:
            keys = sorted(item)[:5] if isinstance(item, dict) else type(item).__name__
            errors.append(f'{where}: expected {{"uniq_id": "<id>.jpg#<hex>", "box": [x1, y1, x2, y2]}}, got {keys}')
            continue
        uniq = item["uniq_id"]
        if not isinstance(uniq, str) or RIVEG_ID.match("Imageid:" + uniq) is None:
            errors.append(f"{where}: uniq_id: expected '<id>.jpg#<hex>', got {shown(uniq)}")
            continue
        if uniq in out:
            errors.append(f"{where}: uniq_id: duplicate {shown(uniq)} (first at {out[uniq][0]})")
            continue
        out[uniq] = (where, item["box"])
    return out


def import_riveg(lines_path: str | os.PathLike, grounding_path: str | os.PathLike | None, gold: Gold):
    """(submission lines, report) from RiVEG's entity lines and, optionally, a grounding output.

    Without ``grounding_path`` the lines are an MNER submission (no ``box`` keys). Raises :class:`ImportProblems`
    listing every problem (nothing is returned then)."""
    lines_path = Path(lines_path)
    grounding_path = Path(grounding_path) if grounding_path is not None else None
    errors: list[str] = []
    report = ImportReport(task="mner" if grounding_path is None else "gmner")
    tweets: dict[str, _Tweet] = {}
    entries: dict[str, _RivegLine] = {}  # uniq_id -> line
    text = _text(lines_path)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{lines_path}:{lineno}"
        parts = line.strip().split("###")
        head = RIVEG_ID.match(parts[0])
        if len(parts) < 4 or head is None:
            errors.append(
                f"{where}: expected 'Imageid:<id>.jpg#<hex>###<Entity>(<TYPE>)###<expression>###<0|2>', "
                f"got {shown(line)}"
            )
            continue
        match = TYPE_SUFFIX.match(parts[1].strip())
        label = parts[-1].strip()
        if match is None or not match.group(1).strip():
            errors.append(
                f"{where}: expected '<Entity>(<TYPE>)' with TYPE in PER/LOC/ORG/OTHER/MISC, got {shown(parts[1])}"
            )
            continue
        if label not in ("0", "2"):
            errors.append(f"{where}: expected the label 0 (not in the image) or 2 (in the image), got {shown(label)}")
            continue
        uniq, tweet_id = head.group("uniq"), head.group("tweet")
        if uniq in entries:
            errors.append(f"{where}: duplicate id {uniq} (first at {entries[uniq].where})")
            continue
        if tweet_id not in gold.by_id:
            errors.append(f"{where}: tweet {shown(tweet_id)} is not in {gold.name} (another split?)")
            continue
        t = tweets.setdefault(tweet_id, _Tweet(gold.by_id[tweet_id]))
        entity = _place(t, match.group(1).strip(), match.group(2), where, report)
        entries[uniq] = _RivegLine(where, tweet_id, label, entity)
        report.in_image += label == "2"
    if not entries and not errors:
        errors.append(f"{lines_path}: no entity line")
    _settle(tweets.values(), report, errors)
    if grounding_path is not None:
        _attach_boxes(grounding_path, entries, gold, report, errors)
    if errors:
        raise ImportProblems(errors)
    if grounding_path is None:
        report.note(RIVEG_NO_GROUNDING.format(in_image=report.in_image, entities=report.entities))
    return [{"id": t.id, "entities": tweets[t.id].entities if t.id in tweets else []} for t in gold.tweets], report


def _attach_boxes(
    path: Path, entries: dict[str, _RivegLine], gold: Gold, report: ImportReport, errors: list[str]
) -> None:
    """A box on every entity judged in the image (from the grounding file), null on the others."""
    boxes = _read_grounding(path, errors)
    for uniq, (where, box) in boxes.items():
        entry = entries.get(uniq)
        if entry is None:
            errors.append(f"{where}: uniq_id {uniq} matches no entity line of the release")
        elif entry.label == "0":
            errors.append(
                f"{where}: uniq_id {uniq}: a box for an entity the release judged not in the image "
                f"({entry.where}, label 0)"
            )
        else:
            value = _box_or_error(box, gold.by_id[entry.tweet], f"{where}: box", errors)
            if value is not None:
                entry.entity["box"] = value
                report.boxes += 1
    missing = [u for u, e in entries.items() if e.label == "2" and u not in boxes]
    if missing:
        errors.append(
            f"{path}: {len(missing)} of the {report.in_image} entities judged in the image (label 2) have no box: "
            f"{_show_ids(missing)}. The release does not say where they are: give a box for each (null would "
            "claim 'not in the image'), or import without --grounding for an MNER submission"
        )
    for e in entries.values():
        if e.label == "0":
            e.entity["box"] = None


# ---------------------------------------------------------------------------------------------------------------
# H-Index
# ---------------------------------------------------------------------------------------------------------------


HINDEX_NO_CANDIDATES = (
    "no --candidates file: wrote an MNER submission (no 'box' keys). An H-Index prediction file names regions by "
    "their index among the image's candidate boxes ({in_image} of {entities} entities point at a region), not by "
    "coordinates; give --candidates FILE (image id -> boxes in the order H-Index saw them) to write GMNER."
)


def _read_candidates(path: Path, errors: list[str]) -> dict[str, tuple[int, list]]:
    """image id -> (line, boxes); ``<id>.jpg`` keys are the same image as ``<id>``."""
    out: dict[str, tuple[int, list]] = {}
    for line, key, boxes in json_items(path, kinds="{"):
        image = str(key).removesuffix(".jpg")
        if image in out:
            errors.append(f"{path}:{line}: image {shown(key)} repeats line {out[image][0]} ('<id>' = '<id>.jpg')")
            continue
        if not isinstance(boxes, list):
            errors.append(f"{path}:{line}: {shown(key)}: expected a list of [x1, y1, x2, y2] boxes")
            continue
        out[image] = (line, boxes)
    return out


def _hindex_tuples(body: str) -> list[tuple[str, str, str]] | str:
    """``(span, ids, type)`` of each tuple of a ``Pred:`` line, or the first text that is not part of a tuple.
    Linear in the line's length (a hostile line cannot make a regular expression backtrack)."""
    out, pos = [], 0
    for tail in HINDEX_TAIL.finditer(body):
        head = body[pos : tail.start()].lstrip()
        if not head.startswith("(") or not head[1:].strip():
            return head or body[tail.start() : tail.end()]
        out.append((head[1:], tail.group(1), tail.group(2)))
        pos = tail.end()
    rest = body[pos:].strip()
    return rest if rest else out


def _hindex_blocks(raw: list[str]) -> list[tuple[int, list[tuple[int, str]]]]:
    """(first line, [(line number, text)...]) of each tweet block, up to the closing metrics dict."""
    blocks: list[tuple[int, list[tuple[int, str]]]] = []
    current: list[tuple[int, str]] = []
    for lineno, line in enumerate(raw, start=1):
        if line.strip().startswith("{") and not current:  # the closing metrics dict
            break
        if not line.strip():
            if current:
                blocks.append((current[0][0], current))
            current = []
            continue
        current.append((lineno, line))
    if current:
        blocks.append((current[0][0], current))
    return blocks


def import_hindex(
    pred_path: str | os.PathLike,
    candidates_path: str | os.PathLike | None,
    gold: Gold,
    *,
    box_num: int = HINDEX_BOX_NUM,
):
    """(submission lines, report) from an H-Index prediction file and, optionally, the candidate boxes it chose
    from. Raises :class:`ImportProblems` listing every problem. Tweets without a block are not written (score with
    ``--allow-missing`` to count them as empty): the file says nothing about them."""
    pred_path = Path(pred_path)
    candidates_path = Path(candidates_path) if candidates_path is not None else None
    errors: list[str] = []
    report = ImportReport(task="mner" if candidates_path is None else "gmner")
    candidates = _read_candidates(candidates_path, errors) if candidates_path is not None else {}
    by_words: dict[str, list[str]] = defaultdict(list)
    for t in gold.tweets:
        by_words[" ".join(t.tokens)].append(t.id)
    done: dict[str, str] = {}  # tweet id -> where its block starts
    tweets: dict[str, _Tweet] = {}
    position = 0
    for lineno, block in _hindex_blocks(_text(pred_path).splitlines()):
        where = f"{pred_path}:{lineno}"
        if len(block) < 2 or not block[1][1].lstrip().startswith("Pred:"):
            errors.append(f"{where}: expected the tweet's words, then a 'Pred:' line")
            continue
        words = " ".join(block[0][1].split())
        tweet = gold.tweets[position] if position < len(gold.tweets) else None
        if tweet is None or " ".join(tweet.tokens) != words or tweet.id in done:
            ids = by_words.get(words, [])
            free = [i for i in ids if i not in done]
            if not free:
                if ids:
                    errors.append(f"{where}: repeats the block of tweet {ids[0]} at {done[ids[0]]}")
                else:
                    errors.append(f"{where}: the words match no tweet of {gold.name}: {shown(words)}")
                continue
            tweet = gold.by_id[free[0]]
            report.note(f"{where}: aligned by words to tweet {tweet.id} (not in split order)")
        position = tweet.index + 1
        done[tweet.id] = where
        t = tweets[tweet.id] = _Tweet(tweet)
        pred_no, pred = block[1]
        pred_where = f"{pred_path}:{pred_no}"
        tuples = _hindex_tuples(pred.lstrip()[len("Pred:") :])
        if isinstance(tuples, str):
            errors.append(f"{pred_where}: not '(<span> , [<region ids>] , <TYPE> )' tuples: {shown(tuples)}")
            continue
        for k, (text, ids, kind) in enumerate(tuples):
            here = f"{pred_where}: tuple {k + 1}"
            try:
                region = [int(v) for v in ids.split(",") if v.strip()]
            except ValueError:
                errors.append(f"{here}: region ids must be integers, got [{shown(ids)}]")
                continue
            entity = _place(t, text.strip(), HINDEX_TYPES[kind], here, report, prefix=True)
            if not region:
                errors.append(f"{here}: an empty region list (H-Index writes [{box_num}] for 'no region')")
                continue
            report.in_image += region[0] != box_num
            if candidates_path is not None:
                box = _hindex_box(region[0], tweet, candidates, candidates_path, box_num, here, errors)
                if box is not False:
                    entity["box"] = box
                    report.boxes += box is not None
    if candidates_path is not None:
        for image, (line, boxes) in candidates.items():
            if image in done and len(boxes) > box_num:
                report.note(
                    f"{candidates_path}:{line}: image {image} has {len(boxes)} candidates; H-Index saw the first "
                    f"{box_num}"
                )
    _settle(tweets.values(), report, errors)
    if not tweets and not errors:
        errors.append(f"{pred_path}: no tweet block")
    if errors:
        raise ImportProblems(errors)
    note_missing(report, gold, tweets, "have no block")
    if candidates_path is None:
        report.note(HINDEX_NO_CANDIDATES.format(in_image=report.in_image, entities=report.entities))
    return [{"id": t.id, "entities": tweets[t.id].entities} for t in gold.tweets if t.id in tweets], report


def _hindex_box(
    region: int,
    tweet: GoldTweet,
    candidates: dict[str, tuple[int, list]],
    path: Path,
    box_num: int,
    where: str,
    errors: list[str],
):
    """The box of ``region`` (None for 'no region'), or False after recording an error."""
    if region == box_num:
        return None
    if not 0 <= region < box_num:
        errors.append(f"{where}: region {region} is outside 0..{box_num} (is --box-num {box_num} H-Index's?)")
        return False
    if tweet.id not in candidates:
        errors.append(f"{where}: region {region}, but {path} has no candidates for image {tweet.id}")
        return False
    line, boxes = candidates[tweet.id]
    if region >= len(boxes):
        errors.append(
            f"{where}: region {region} is a padding slot: image {tweet.id} has {len(boxes)} candidates ({path}:{line})"
        )
        return False
    return _box_or_error(boxes[region], tweet, f"{path}:{line}: {tweet.id}[{region}]", errors) or False
