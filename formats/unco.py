"""The MQSPN/UnCo JSON (repositories tangjielong928/mqspn and tangjielong928/UnCo): their gold file, read as a
:class:`~smner_bench.benchmark.gold.Gold`, and their prediction files, imported as submissions
(``smner-bench import unco``).

Both are a JSON list with one object per tweet: ``image_id`` (``"<id>.jpg"``; UnCo's LLM refinement writes
``img_id``), often ``tokens``, and a list of entity rows, ``gt_entities`` (gold) or ``pre_entities`` (predictions).
A row has ``start`` and ``end`` (token offsets, ``end`` **inclusive**: the last token), ``entity_type`` (PER, LOC,
ORG, MISC; MISC = OTHER), usually ``phrase`` (the span's tokens joined by spaces), and its region: ``region_box``
(``[x1, y1, x2, y2]`` in pixels, ``[]`` for "not in the image"), or ``region`` (1-based index into the row's
``mapping_regions``, 0 for "not in the image"). An entity with several regions is one row per region (their
evaluator counts GMNER and EEG per entity-box pair).

Gold: the rows of one span are one entity with all their boxes (every row of a span must give the same type).

Predictions, by the importers' rule (:mod:`.importers`): what the file says, or an error naming the file, the line
of the tweet's object and the row (``pre_entities[k]``); nothing is written then.

- A span left open (``start``/``end`` missing or null), a type outside PER/LOC/ORG/MISC/OTHER (their evaluator
  drops such rows silently), a ``phrase`` or ``tokens`` that spell other words than the split's tokens at the span,
  a region index without the boxes it indexes, ``region_box`` and ``region`` that disagree, a box the scorer would
  refuse: errors.
- A row without any region (neither ``region_box`` nor ``region``) where other rows have one: an error (their
  evaluator reads it as "not in the image"; the file does not say so). A file whose rows never give a region is an
  MNER submission (no ``box`` keys).
- Rows of one span: the same type and region are one entity (as their evaluator's set of pairs counts them); another
  type is an error; another region is an error unless ``first_box`` (``--first-box``) keeps the first row's region
  (UnCo's ``test.py`` writes a span's regions in its decoder's order). A submission gives one region per entity.
- Overlapping spans in one tweet (the datasets are flat), a repeated tweet, an unknown tweet: errors. Tweets of the
  split the file lacks are not written (score with ``--allow-missing``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smner_bench.benchmark.errors import shown
from smner_bench.benchmark.gold import Gold, GoldTweet, gold_from_rows
from smner_bench.benchmark.submission import box_problem, overlapping_spans
from smner_bench.benchmark.tags import normalize_type, text_identity

from .importers import ImportProblems, ImportReport, _box_or_error, json_items, note_missing

UNCO_TYPES = ("PER", "LOC", "ORG", "MISC", "OTHER")
_UNSET = object()


def _val(value: Any, n: int = 40) -> str:
    """A user's value as a message shows it: a string quoted, anything else as JSON would write it, cut to ``n``."""
    text = shown(value, n) if isinstance(value, str) else repr(value)
    return text if len(text) <= n + 5 else text[:n] + "..."


def _words(text: str) -> str:
    """A text as words are compared: NFC, any run of white space one space (a token may itself hold a space)."""
    return text_identity(" ".join(text.split()))


def _span(row: Mapping[str, Any], n: int) -> tuple[int, int] | str:
    """``(start, end)`` with ``end`` exclusive, or what is wrong with the row's ``start``/``end``."""
    start, end = row.get("start"), row.get("end")
    if start is None or end is None:
        return "start/end: the span is left open (missing or null)"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        return f"start/end: token offsets (integers) expected, got {_val(start, 20)}, {_val(end, 20)}"
    if not 0 <= start <= end < n:
        return f"start/end: [{start}, {end}] (end inclusive) is empty or outside the {n} tokens"
    return start, end + 1


def _type(row: Mapping[str, Any]) -> str:
    kind = row.get("entity_type")
    if kind not in UNCO_TYPES:
        raise ValueError(f"entity_type: expected one of {', '.join(UNCO_TYPES)}, got {_val(kind, 30)}")
    return kind


def _spelled(row: Mapping[str, Any], tokens: list[str], span: tuple[int, int], own: list[str] | None) -> str | None:
    """Why the row's ``phrase`` (and the file's own tokens at the span) are not the split's words there, or None."""
    words = _words(" ".join(tokens[span[0] : span[1]]))
    if own is not None and _words(" ".join(own[span[0] : span[1]])) != words:
        return (
            f"the file's tokens {span[0]}..{span[1] - 1} are {shown(' '.join(own[span[0] : span[1]]), 40)}, "
            f"the split's are {shown(' '.join(tokens[span[0] : span[1]]), 40)}: the file was made on other tokens"
        )
    phrase = row.get("phrase", _UNSET)
    if phrase is _UNSET or phrase is None:
        return None
    if not isinstance(phrase, str) or _words(phrase) != words:
        return (
            f"phrase {_val(phrase)} is not the tokens {span[0]}..{span[1] - 1} "
            f"({shown(' '.join(tokens[span[0] : span[1]]), 40)})"
        )
    return None


def _tweet_id(item: Mapping[str, Any]) -> str | None:
    value = item.get("image_id", item.get("img_id"))
    if not isinstance(value, str) or not value.removesuffix(".jpg"):
        return None
    return value.removesuffix(".jpg")


def _items(path: Path, rows_key: str, errors: list[str]) -> list[tuple[str, str, dict, list]]:
    """``(where, tweet id, item, rows)`` of each well-formed tweet object; problems go to ``errors``."""
    out = []
    for line, _, item in json_items(path, kinds="[l"):
        where = f"{path}:{line}"
        if not isinstance(item, dict):
            errors.append(f"{where}: expected an object per tweet, got {type(item).__name__}")
            continue
        tweet = _tweet_id(item)
        if tweet is None:
            errors.append(f"{where}: image_id: expected '<id>.jpg', got {_val(item.get('image_id'))}")
            continue
        rows = item.get(rows_key)
        if not isinstance(rows, list):
            errors.append(f"{where}: {rows_key}: expected a list of entity rows, got {type(rows).__name__}")
            continue
        tokens = item.get("tokens", _UNSET)
        if tokens is not _UNSET and (not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)):
            errors.append(f"{where}: tokens: expected a list of strings")
            continue
        out.append((where, tweet, item, rows))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Gold
# ---------------------------------------------------------------------------------------------------------------


def read_unco_gold(path: str | os.PathLike, *, dataset: str = "unco", split: str = "test") -> Gold:
    """The gold of an MQSPN/UnCo gold file (``annotations/twitter_gmner_gt.json``): one entity per span with every
    box of its rows, MISC read as OTHER, no image sizes (the file has none). Raises :class:`ImportProblems` listing
    every problem (file:line of the tweet's object, the row)."""
    path = Path(path)
    errors: list[str] = []
    seen: dict[str, str] = {}
    rows_out = []
    for where, tweet, item, rows in _items(path, "gt_entities", errors):
        here = f"{where} (tweet {shown(tweet, 30)})"
        tokens = item.get("tokens")
        if not isinstance(tokens, list) or not tokens:
            errors.append(f"{here}: tokens: the gold needs the tweet's tokens (a non-empty list)")
            continue
        if tweet in seen:
            errors.append(f"{here}: image_id repeats the tweet at {seen[tweet]}")
            continue
        seen[tweet] = where
        entities: dict[tuple[int, int], dict] = {}
        first: dict[tuple[int, int], int] = {}
        for k, row in enumerate(rows):
            at = f"{here}: gt_entities[{k}]"
            if not isinstance(row, dict):
                errors.append(f"{at}: expected an object")
                continue
            span = _span(row, len(tokens))
            if isinstance(span, str):
                errors.append(f"{at}.{span}")
                continue
            try:
                kind = normalize_type(_type(row))
            except ValueError as exc:
                errors.append(f"{at}.{exc}")
                continue
            problem = _spelled(row, tokens, span, None)
            box = row.get("region_box", _UNSET)
            if problem is None and not isinstance(box, list):
                problem = f"region_box: expected [x1, y1, x2, y2], or [] for not in the image, got {_val(box)}"
                problem = problem if box is not _UNSET else "region_box: missing ([] for an entity not in the image)"
            elif problem is None and box != []:
                problem = box_problem(box, None, None)
                problem = problem and f"region_box: {problem}"
            if problem is not None:
                errors.append(f"{at}: {problem}")
                continue
            entity = entities.get(span)
            if entity is None:
                first[span] = k
                text = " ".join(tokens[span[0] : span[1]])
                entity = entities[span] = {"start": span[0], "end": span[1], "text": text, "type": kind, "boxes": []}
            elif entity["type"] != kind:
                errors.append(f"{at}: entity_type {row['entity_type']} differs from gt_entities[{first[span]}] ("
                              f"{entity['type']}) of the same span")  # fmt: skip
                continue
            if box and [float(v) for v in box] not in entity["boxes"]:
                entity["boxes"].append([float(v) for v in box])
        for later, earlier in overlapping_spans(entities):
            errors.append(
                f"{here}: gt_entities[{first[later]}] [{later[0]}, {later[1] - 1}] overlaps gt_entities"
                f"[{first[earlier]}] [{earlier[0]}, {earlier[1] - 1}] (end inclusive): the datasets are flat"
            )
        spans = sorted(entities)
        rows_out.append({"id": tweet, "tokens": tokens, "width": None, "height": None,
                         "entities": [entities[s] for s in spans]})  # fmt: skip
    if not rows_out and not errors:
        errors.append(f"{path}: no tweet")
    if errors:
        raise ImportProblems(errors, outcome="the gold was not read")
    return gold_from_rows(rows_out, dataset=dataset, split=split, has_boxes=True, has_masks=False)


# ---------------------------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Row:
    where: str
    index: int
    span: tuple[int, int]
    text: str  # the split's tokens at the span (checked against the row's phrase and tokens)
    type: str
    region: Any  # a box (list), None (not in the image) or _UNSET (the row gives no region)


def _region(row: Mapping[str, Any], tweet: GoldTweet, at: str, errors: list[str]) -> Any:
    """The row's region: a checked box, None ("not in the image"), :data:`_UNSET` (none given), or False after an
    error. ``region_box`` is what their evaluator reads first; ``region`` (with ``mapping_regions`` when there is no
    ``region_box``) must agree with it."""
    box = row.get("region_box", _UNSET)
    index = row.get("region", _UNSET)
    mapping = row.get("mapping_regions", _UNSET)
    if box is not _UNSET and not isinstance(box, list):
        errors.append(f"{at}.region_box: expected [x1, y1, x2, y2], or [] for not in the image, got {_val(box)}")
        return False
    if index is not _UNSET:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            errors.append(f"{at}.region: expected 0 (not in the image) or a 1-based index, got {_val(index, 20)}")
            return False
        indexed: Any = None if index == 0 else _UNSET
        if index and mapping is not _UNSET:
            if not isinstance(mapping, list) or index > len(mapping):
                count = len(mapping) if isinstance(mapping, list) else type(mapping).__name__
                errors.append(f"{at}.region: {index} is outside mapping_regions ({count})")
                return False
            indexed = mapping[index - 1]
        if box is _UNSET:
            if indexed is _UNSET:
                errors.append(f"{at}.region: {index} indexes boxes the row does not give (no mapping_regions)")
                return False
            box = [] if indexed is None else indexed
        elif (index == 0) != (box == []) or (indexed not in (None, _UNSET) and box != indexed):
            errors.append(f"{at}: region {index} and region_box {_val(box)} disagree")
            return False
    if box is _UNSET:
        return _UNSET
    if box == []:
        return None
    return _box_or_error(box, tweet, f"{at}.region_box", errors) or False


def import_unco(path: str | os.PathLike, gold: Gold, *, first_box: bool = False):
    """(submission lines, report) from an MQSPN/UnCo prediction file; raises :class:`ImportProblems` listing every
    problem. With ``first_box``, rows of one span with other regions keep the first row's region (a note)."""
    path = Path(path)
    errors: list[str] = []
    report = ImportReport(task="gmner")
    done: dict[str, str] = {}
    tweets: dict[str, list[_Row]] = {}
    for where, tweet_id, item, rows in _items(path, "pre_entities", errors):
        here = f"{where} (tweet {shown(tweet_id, 30)})"
        if tweet_id not in gold.by_id:
            errors.append(f"{here}: not a tweet of {gold.name} (another split?)")
            continue
        if tweet_id in done:
            errors.append(f"{here}: repeats the tweet at {done[tweet_id]}")
            continue
        done[tweet_id] = where
        tweet = gold.by_id[tweet_id]
        own = item.get("tokens")
        if own is not None and own != tweet.tokens:
            report.note(f"{here}: the file's tokens differ from {gold.name}'s (the spans' words were checked)")
        out = tweets[tweet_id] = []
        for k, row in enumerate(rows):
            at = f"{here}: pre_entities[{k}]"
            if not isinstance(row, dict):
                errors.append(f"{at}: expected an object")
                continue
            span = _span(row, len(tweet.tokens))
            if isinstance(span, str):
                errors.append(f"{at}.{span}")
                continue
            if own is not None and span[1] > len(own):
                errors.append(f"{at}: [{span[0]}, {span[1] - 1}] lies outside the file's own {len(own)} tokens")
                continue
            try:
                kind = _type(row)
            except ValueError as exc:
                errors.append(f"{at}.{exc}")
                continue
            problem = _spelled(row, tweet.tokens, span, own)
            if problem is not None:
                errors.append(f"{at}: {problem}")
                continue
            region = _region(row, tweet, at, errors)
            if region is not False:
                out.append(_Row(at, k, span, " ".join(tweet.tokens[span[0] : span[1]]), kind, region))
    given = [r for rows in tweets.values() for r in rows if r.region is not _UNSET]
    if not given:
        report.task = "mner"
    lines: dict[str, list[dict]] = {}
    for tweet_id, rows in tweets.items():
        lines[tweet_id] = _entities(rows, report, errors, first_box=first_box)
    if not done and not errors:
        errors.append(f"{path}: no tweet")
    if errors:
        raise ImportProblems(errors)
    note_missing(report, gold, done, "are not in the file")
    if report.task == "mner":
        report.note("no row gives a region (region_box, or region + mapping_regions): wrote an MNER submission")
    return [{"id": t.id, "entities": lines[t.id]} for t in gold.tweets if t.id in lines], report


def _entities(rows: list[_Row], report: ImportReport, errors: list[str], *, first_box: bool) -> list[dict]:
    """One entity per span of a tweet's rows, in the order of the rows; conflicts go to ``errors``."""
    by_span: dict[tuple[int, int], _Row] = {}
    for r in rows:
        first = by_span.get(r.span)
        if report.task == "gmner" and r.region is _UNSET:
            errors.append(
                f"{r.where}: no region_box (nor region + mapping_regions) where other rows give one: whether the "
                "entity is in the image is left open"
            )
        elif first is None:
            by_span[r.span] = r
        elif normalize_type(first.type) != normalize_type(r.type):
            errors.append(f"{r.where}: entity_type {r.type} where pre_entities[{first.index}] of the same span says "
                          f"{first.type}")  # fmt: skip
        elif first.region != r.region and not first_box:
            errors.append(
                f"{r.where}: repeats the span of pre_entities[{first.index}] with another region: a submission gives "
                "one region per entity (--first-box keeps the first row's)"
            )
        elif first.region != r.region:
            report.note(f"{r.where}: another region for the span of pre_entities[{first.index}]: kept the first")
    for later, earlier in overlapping_spans(by_span):
        a, b = by_span[later], by_span[earlier]
        first, second = sorted((a, b), key=lambda r: r.index)
        errors.append(
            f"{second.where}: [{second.span[0]}, {second.span[1] - 1}] overlaps pre_entities[{first.index}] "
            f"[{first.span[0]}, {first.span[1] - 1}] (end inclusive): the datasets are flat"
        )
    out = []
    for r in by_span.values():
        entity: dict[str, Any] = {"start": r.span[0], "end": r.span[1], "text": r.text, "type": r.type}
        if report.task == "gmner":
            entity["box"] = r.region
            report.in_image += r.region is not None
            report.boxes += r.region is not None
        out.append(entity)
        report.entities += 1
    return out
