"""A multimodal LLM as a GMNER baseline (``smner-bench baseline mllm``): prompts, answers, boxes.

Each tweet goes to an OpenAI-compatible chat endpoint as one user message: the instructions, optionally K
demonstrations (train tweets with their gold entities and boxes, chosen by MSEA's rule), then the tweet's image
(a base64 data URL) and text. The model answers a JSON list of ``{"entity", "type", "box"}``; this module turns
the answer into submission entities, and counts everything it had to forgive or refuse (:class:`MllmReport`).

**Box conventions** (``--box-format``): what the model's ``[x1, y1, x2, y2]`` are measured in, mapped back to
pixels of the original image (the submission's frame):

- ``pixels``: absolute pixels of the original image (the prompt states its width and height);
- ``resized-pixels``: absolute pixels of the image as the model's processor resized it, by the Qwen2-VL /
  Qwen2.5-VL rule (:func:`smart_resize`): each side rounded to the nearest multiple of 28 (at least 28), then, if
  the area exceeds ``max_pixels``, both sides scaled by ``sqrt(h * w / max_pixels)`` and rounded down to multiples
  of 28; if it is under ``min_pixels``, scaled by ``sqrt(min_pixels / (h * w))`` and rounded up. Qwen2.5-VL's
  defaults are ``min_pixels`` 3136 (56 x 56) and ``max_pixels`` 12845056 (28 x 28 x 16384); give the values the
  server uses if it was started with others. A box ``x`` maps back as ``x * width / resized_width``;
- ``norm1000``: coordinates normalised to 0-1000 (``x * width / 1000``);
- ``norm1``: fractions of the width and height (``x * width``).

A box outside the image is clipped to it (counted, by tweet); a box that is empty or inverted (``x2 <= x1`` or
``y2 <= y1``, after clipping) becomes ``null`` (counted, by tweet).

**Answers**: forgiving in form, strict in meaning. The JSON may sit in a ````` fence or among prose; the box key may
be ``box``, ``bbox`` or ``bbox_2d``; the text key ``entity``, ``text`` or ``name``; the type key ``type`` or
``label``; types in other spellings (``person``, ``Location``, ``organisation``, ``misc``...) are mapped to PER,
LOC, ORG, OTHER and each spelling is counted. Anything else is refused: an answer with no JSON list, an item that
is not an object, an unknown type, a box that is not 4 numbers or null, a missing box key (when boxes were asked
for): the whole answer is counted invalid (by tweet id, with the reason) and the tweet is written with no entities.
Entity texts become token spans by exact words (then ignoring case, counted), never overlapping an entity placed
before; where several occurrences are free, the first after the previous entity (the prompt asks for the tweet's
order; counted as ambiguous). A text that is not among the tweet's tokens is left out and reported (it cannot be a
span of the tweet), as is a mention repeated more often than the tweet contains it.

**Without images** (no ``--images``) the request carries no image and asks for no box: the output is an MNER
submission (no ``box`` keys), since ``null`` would claim "not in the image".

**Demonstrations** (``--shots K``): MSEA's selection rule (``baselines/msea.py``: the K most similar pool examples
by cosine, best first, never the tweet itself by id or by normalised text) over TF-IDF vectors of the tweets'
words: a text-only similarity (MSEA's image-caption features would need a captioning model and an encoder).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, shown
from smner_bench.benchmark.tags import TYPES
from smner_bench.formats.importers import locate

from .config import Config
from .msea import normalized_text
from .providers.http import check_url
from .providers.llm import ImagePart, Request

log = logging.getLogger(__name__)

BOX_FORMATS = ("pixels", "resized-pixels", "norm1000", "norm1")
QWEN_FACTOR = 28
QWEN_MIN_PIXELS = 3136  # 56 * 56, Qwen2.5-VL's processor default
QWEN_MAX_PIXELS = 12845056  # 28 * 28 * 16384
PROMPT_VERSION = 1  # recorded in the metadata; bump when the prompt's wording changes

ENTITY_KEYS = ("entity", "text", "name")
TYPE_KEYS = ("type", "label")
BOX_KEYS = ("box", "bbox", "bbox_2d")
MAX_ANSWER_CHARS = 100_000  # an answer longer than this is invalid (a tweet's entities fit in a few hundred)
MAX_DECODE_ATTEMPTS = 64  # brackets in the text from which a JSON value is tried, at most
MAX_COORDINATE = 1e6  # a box number larger in magnitude is invalid (no image or convention comes near it)
TYPE_SPELLINGS = {
    **{k: "PER" for k in ("per", "person", "persons", "people", "personname")},
    **{k: "LOC" for k in ("loc", "location", "locations", "place", "places", "gpe")},
    **{
        k: "ORG"
        for k in ("org", "orgs", "organization", "organizations", "organisation", "organisations", "organizationname")
    },
    **{k: "OTHER" for k in ("other", "others", "misc", "miscellaneous")},
}
"""Lower-case spellings (letters only) of the four types."""


def check_endpoint(url: str) -> str:
    """The ``--endpoint`` option: an OpenAI-compatible base URL (``http(s)://host[:port]/v1``), or a usage error.

    >>> check_endpoint("http://localhost:8000/v1")
    'http://localhost:8000/v1'
    """
    return check_url(url, "--endpoint")


# ---------------------------------------------------------------------------------------------------------------
# Box conventions
# ---------------------------------------------------------------------------------------------------------------


def smart_resize(
    height: int,
    width: int,
    factor: int = QWEN_FACTOR,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> tuple[int, int]:
    """``(height, width)`` of the image as a Qwen2-VL / Qwen2.5-VL processor resizes it (see the module's doc).

    >>> smart_resize(1080, 1920), smart_resize(20, 30)
    ((1092, 1932), (56, 84))
    """
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


@dataclass(frozen=True)
class Frame:
    """How one image's model coordinates relate to its original pixels: ``fmt``, the image's size as sent
    (``width`` x ``height``), the gold's size when it differs (``target``), and the model's input size for
    ``resized-pixels``."""

    fmt: str
    width: int
    height: int
    resized: tuple[int, int] | None = None  # (width, height) of the model's input
    target: tuple[int, int] | None = None  # (width, height) of the gold, when it differs from the image's

    @property
    def unit(self) -> tuple[float, float]:
        """The model's coordinate range along x and y."""
        if self.fmt == "pixels":
            return float(self.width), float(self.height)
        if self.fmt == "resized-pixels":
            return float(self.resized[0]), float(self.resized[1])  # type: ignore[index]
        return (1000.0, 1000.0) if self.fmt == "norm1000" else (1.0, 1.0)

    @property
    def size(self) -> tuple[int, int]:
        """The submission's frame: the gold's width and height."""
        return self.target or (self.width, self.height)

    def to_original(self, box: Sequence[float]) -> list[float]:
        (ux, uy), (w, h) = self.unit, self.size
        return [box[0] * w / ux, box[1] * h / uy, box[2] * w / ux, box[3] * h / uy]

    def from_original(self, box: Sequence[float]) -> list[float]:
        """A gold box in the model's convention (demonstrations): integers, or 3 decimals for ``norm1``."""
        (ux, uy), (w, h) = self.unit, self.size
        out = [box[0] * ux / w, box[1] * uy / h, box[2] * ux / w, box[3] * uy / h]
        return [round(v, 3) for v in out] if self.fmt == "norm1" else [round(v) for v in out]

    def describe(self) -> str:
        """The convention, as the prompt states it for this image."""
        if self.fmt == "pixels":
            return f"in pixels of this image ({self.width} x {self.height} pixels, origin at the top left)"
        if self.fmt == "resized-pixels":
            w, h = self.resized  # type: ignore[misc]
            return f"in pixels of the image as you see it ({w} x {h} pixels, origin at the top left)"
        if self.fmt == "norm1000":
            return "normalised to 0-1000 (0, 0 the top left corner, 1000, 1000 the bottom right corner)"
        return "as fractions of the image's width and height, from 0 to 1 (0, 0 the top left corner)"


def make_frame(
    fmt: str,
    width: int,
    height: int,
    gold_size: tuple[int | None, int | None] = (None, None),
    *,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> Frame:
    """The :class:`Frame` of a ``width`` x ``height`` image (its gold size, when known and different, is the
    submission's frame)."""
    if fmt not in BOX_FORMATS:
        raise UsageError(f"unknown box format {fmt!r} (expected {', '.join(BOX_FORMATS)})")
    resized = None
    if fmt == "resized-pixels":
        h, w = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
        resized = (w, h)
    gw, gh = gold_size
    target = (gw, gh) if gw and gh and (gw, gh) != (width, height) else None
    return Frame(fmt, width, height, resized, target)


# ---------------------------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------------------------


TYPES_TEXT = (
    "PER (person), LOC (location), ORG (organization) or OTHER (any other named entity: events, products, works, "
    "teams' nicknames...)"
)


def instructions(grounded: bool) -> str:
    """The head of every prompt."""
    if not grounded:
        return (
            "You are an expert in named entity recognition on social media. Find the named entities of the tweet "
            f"and their types: {TYPES_TEXT}. Answer with a JSON list only, one object per mention, in the order "
            'of the tweet: {"entity": "<the exact words of the tweet>", "type": "PER|LOC|ORG|OTHER"}. '
            "Answer [] when the tweet has no named entity."
        )
    return (
        "You are an expert in grounded named entity recognition on social media. Find the named entities of the "
        f"tweet, their types: {TYPES_TEXT}, and where each one appears in the tweet's image. Answer with a JSON "
        "list only, one object per mention, in the order of the tweet: "
        '{"entity": "<the exact words of the tweet>", "type": "PER|LOC|ORG|OTHER", "box": [x1, y1, x2, y2]}, '
        "the box around the entity in the image, in the coordinates stated with the image, or null when the "
        "entity is not shown in the image. Answer [] when the tweet has no named entity."
    )


@dataclass(frozen=True)
class Shot:
    """A tweet as the prompt shows it: its text, image and frame (None without images), and for a
    demonstration its gold entities (``[{"entity", "type", "box"}]``, box in original pixels or None)."""

    id: str
    tokens: list[str]
    image: ImagePart | None = None
    frame: Frame | None = None
    entities: list[dict] | None = None


def answer_json(shot: Shot) -> str:
    """A demonstration's answer: its gold entities as the model is asked to write them."""
    items = []
    for e in shot.entities or []:
        item = {"entity": e["entity"], "type": e["type"]}
        if shot.frame is not None:
            item["box"] = None if e["box"] is None else shot.frame.from_original(e["box"])
        items.append(item)
    return json.dumps(items, ensure_ascii=False)


def build_request(shot: Shot, demos: Sequence[Shot] = ()) -> Request:
    """The request of one tweet: instructions, demonstrations (each: image, text, answer), then the tweet.
    Without images, a text prompt; with images, the message's parts (``prompt`` is their text, ``<image>``
    marking each image)."""
    grounded = shot.image is not None
    parts: list[str | ImagePart] = [instructions(grounded)]
    blocks = [(d, f"Example {k}.") for k, d in enumerate(demos, start=1)]
    blocks.append((shot, "Now this tweet." if demos else "The tweet."))
    for s, title in blocks:
        answer = answer_json(s) if s is not shot else ""
        tail = f"Tweet: {' '.join(s.tokens)}\nAnswer: {answer}".rstrip(" ")
        if grounded:
            parts.append(f"\n\n{title}\nImage; box coordinates {s.frame.describe()}:")  # type: ignore[union-attr]
            parts.append(s.image)  # type: ignore[arg-type]
            parts.append("\n" + tail)
        else:
            parts.append(f"\n\n{title}\n{tail}")
    text = "".join(p if isinstance(p, str) else "<image>" for p in parts)
    if not grounded:
        return Request(text, key=shot.id)
    merged: list[str | ImagePart] = []
    for p in parts:  # neighbouring texts as one part
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    return Request(text, key=shot.id, parts=tuple(merged))


# ---------------------------------------------------------------------------------------------------------------
# Demonstrations: MSEA's rule over TF-IDF vectors of the words
# ---------------------------------------------------------------------------------------------------------------


_WORD = re.compile(r"[^\W_]+")


def _words(tokens: Sequence[str]) -> list[str]:
    return _WORD.findall(" ".join(tokens).lower())


def choose_demos(
    queries: Sequence[tuple[str, list[str]]], pool: Sequence[tuple[str, list[str]]], k: int
) -> list[list[int]]:
    """For each query ``(id, tokens)``, the indices of its ``k`` most similar ``pool`` tweets (cosine of TF-IDF
    vectors of their words, IDF from the pool), best first, ties to the lower index, never the query itself (same
    id, or same :func:`~.msea.normalized_text`).

    >>> choose_demos([("q", ["Paris", "rain"])], [("a", ["Rome", "sun"]), ("b", ["rain", "in", "Paris"]),
    ...     ("q", ["Paris", "rain"])], 2)
    [[1, 0]]
    """
    if k == 0 or not pool:
        return [[] for _ in queries]
    counts = [Counter(_words(tokens)) for _, tokens in pool]
    df = Counter(w for c in counts for w in c)
    idf = {w: math.log((1 + len(pool)) / (1 + n)) + 1 for w, n in df.items()}
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for j, c in enumerate(counts):
        weights = {w: n * idf[w] for w, n in c.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        for w, v in weights.items():
            postings[w].append((j, v / norm))
    pool_ids = [i for i, _ in pool]
    pool_keys = [normalized_text(" ".join(tokens)) for _, tokens in pool]
    out = []
    for qid, tokens in queries:
        weights = {w: n * idf[w] for w, n in Counter(_words(tokens)).items() if w in idf}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        similarity = np.zeros(len(pool))
        for w, v in weights.items():
            for j, pv in postings[w]:
                similarity[j] += v / norm * pv
        key = normalized_text(" ".join(tokens))
        order = np.argsort(-similarity, kind="stable")
        chosen = [int(j) for j in order if pool_ids[j] != qid and not (key and pool_keys[j] == key)]
        out.append(chosen[:k])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------------------------


class InvalidAnswer(ValueError):
    """An answer this module refuses (the reason is the message)."""


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def _entities_of(value: Any) -> list | None:
    """The entity list a decoded JSON value holds: a list, ``{"entities": [...]}``, or one entity object."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("entities"), list) and len(value) == 1:
            return value["entities"]
        if any(k in value for k in ENTITY_KEYS):
            return [value]
    return None


def extract_entities(answer: str) -> list:
    """The JSON entity list of an answer: the whole answer, else the first ``` block that is one, else the
    first JSON list (or object) found in the text that holds only objects, else the first list found (its items
    are then refused by :func:`check_items`). :class:`InvalidAnswer` when there is none.

    >>> extract_entities('Sure! ```json\\n[{"entity": "Paris", "type": "LOC"}]\\n```')
    [{'entity': 'Paris', 'type': 'LOC'}]
    >>> extract_entities('The entities are [] since the tweet names none.')
    []
    """
    text = answer.strip()
    if not text:
        raise InvalidAnswer("an empty answer")
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(f"an answer of {len(text)} characters (at most {MAX_ANSWER_CHARS} are read)")
    for candidate in (text, *(m.group(1).strip() for m in _FENCE.finditer(text))):
        found = _entities_of(_decode(candidate))
        if found is not None:
            return found
    first = None  # the first list found, when none holds only objects
    for n, m in enumerate(re.finditer(r"[\[{]", text)):
        if n == MAX_DECODE_ATTEMPTS:  # each attempt may read to the end: the work stays linear in the text
            break
        found = _entities_of(_decode(text, m.start()))
        if found is not None and all(isinstance(item, dict) for item in found):
            return found
        first = found if first is None else first
    if first is not None:
        return first
    raise InvalidAnswer(f"no JSON list of entities in the answer: {shown(text)}")


def _decode(text: str, start: int | None = None) -> Any:
    """The JSON value ``text`` is (``start`` None) or begins with at ``start``, or None when there is none (a
    ValueError covers JSONDecodeError and an integer of over 4,300 digits; RecursionError a value nested too
    deeply)."""
    try:
        return json.loads(text) if start is None else _DECODER.raw_decode(text, start)[0]
    except (ValueError, RecursionError):
        return None


def canonical_type(name: Any) -> str | None:
    """PER, LOC, ORG or OTHER for a type name in any of :data:`TYPE_SPELLINGS`, else None.

    >>> canonical_type("Person"), canonical_type("ORGANISATION"), canonical_type("misc"), canonical_type("DATE")
    ('PER', 'ORG', 'OTHER', None)
    """
    if not isinstance(name, str):
        return None
    if name in TYPES:
        return name
    return TYPE_SPELLINGS.get(re.sub(r"[^a-z]", "", name.lower()))


def _first(item: dict, keys: Sequence[str]) -> tuple[str | None, Any]:
    for k in keys:
        if k in item:
            return k, item[k]
    return None, None


def _number(v: Any) -> bool:
    """A JSON number a box may hold: finite and at most :data:`MAX_COORDINATE` in magnitude (compared exactly, so
    an integer of hundreds of digits is refused, not converted to a float that overflows)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and not math.isfinite(v):
        return False
    return -MAX_COORDINATE <= v <= MAX_COORDINATE


def check_items(items: list, grounded: bool) -> list[tuple[str, str, str, Any]]:
    """``(text, type as written, canonical type, box)`` of each item, or :class:`InvalidAnswer` naming the first
    item that breaks the rules (1-based)."""
    out = []
    for n, item in enumerate(items, start=1):
        where = f"item {n}"
        if not isinstance(item, dict):
            raise InvalidAnswer(f"{where}: expected an object, got {shown(json.dumps(item))}")
        _, text = _first(item, ENTITY_KEYS)
        if not isinstance(text, str) or not text.split():
            raise InvalidAnswer(f"{where}: no entity text (keys {', '.join(ENTITY_KEYS)}): {shown(json.dumps(item))}")
        _, raw_type = _first(item, TYPE_KEYS)
        kind = canonical_type(raw_type)
        if kind is None:
            raise InvalidAnswer(f"{where}: unknown type {shown(raw_type)} (expected PER, LOC, ORG or OTHER)")
        box_key, box = _first(item, BOX_KEYS)
        if grounded:
            if box_key is None:
                raise InvalidAnswer(f"{where}: no box (keys {', '.join(BOX_KEYS)}; null when not in the image)")
            if box is not None and not (isinstance(box, list) and len(box) == 4 and all(map(_number, box))):
                raise InvalidAnswer(
                    f"{where}: {box_key}: expected [x1, y1, x2, y2] (4 numbers of at most {MAX_COORDINATE:g} in "
                    f"magnitude) or null, got {shown(box)}"
                )
        out.append((text, raw_type, kind, box))
    return out


@dataclass
class MllmReport:
    """What a run forgave and refused, by tweet id (all counted; the command prints the first ``show``)."""

    tweets: int = 0
    entities: int = 0  # written
    boxes: int = 0  # written boxes
    null_boxes: int = 0  # written nulls (the model's, and degenerate boxes)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (tweet, reason): written with no entities
    unplaceable: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): left out
    repeated: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): more mentions than the tweet has
    case_placed: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): found ignoring case
    ambiguous: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): several free occurrences
    type_spellings: Counter = field(default_factory=Counter)  # spelling -> count (other than PER/LOC/ORG/OTHER)
    clipped: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): box clipped to the image
    degenerate: list[tuple[str, str]] = field(default_factory=list)  # (tweet, text): empty box, written null

    def as_dict(self) -> dict:
        pairs = ("unplaceable", "repeated", "case_placed", "ambiguous", "clipped", "degenerate")
        return {
            "tweets": self.tweets,
            "entities": self.entities,
            "boxes": self.boxes,
            "null_boxes": self.null_boxes,
            "invalid_answers": len(self.invalid),
            "invalid": [{"id": i, "reason": r} for i, r in self.invalid],
            "type_spellings": dict(sorted(self.type_spellings.items())),
            **{f"{k}_count": len(getattr(self, k)) for k in pairs},
            **{k: [{"id": i, "text": t} for i, t in getattr(self, k)] for k in pairs},
        }

    def lines(self, show: int = 20) -> list[str]:
        """The summary, then up to ``show`` notes of each kind."""
        spellings = ", ".join(f"{k!r} x{n}" for k, n in sorted(self.type_spellings.items())) or "none"
        out = [
            f"{self.tweets} tweets, {self.entities} entities ({self.boxes} boxes, {self.null_boxes} null); "
            f"{len(self.invalid)} invalid answers (written with no entities); {len(self.unplaceable)} entities not "
            f"among the tweet's tokens and {len(self.repeated)} repeated mentions left out; "
            f"{len(self.case_placed)} placed ignoring case; {len(self.ambiguous)} placed among several occurrences "
            f"(the first after the previous entity); {len(self.clipped)} boxes clipped to the image; "
            f"{len(self.degenerate)} empty boxes written null; type spellings mapped: {spellings}"
        ]
        notes = [
            *(f"invalid answer for tweet {i}: {r}" for i, r in self.invalid),
            *(f"tweet {i}: {shown(t)} is not among the tweet's tokens: left out" for i, t in self.unplaceable),
            *(f"tweet {i}: {shown(t)} named more often than the tweet has it: left out" for i, t in self.repeated),
            *(f"tweet {i}: {shown(t)}: box clipped to the image" for i, t in self.clipped),
            *(f"tweet {i}: {shown(t)}: empty or inverted box, written null" for i, t in self.degenerate),
        ]
        out += [f"note: {n}" for n in notes[:show]]
        if len(notes) > show:
            out.append(f"note: ... and {len(notes) - show} more (all in the metadata file)")
        return out


def _clip(box: list[float], size: tuple[int, int]) -> tuple[list[float], bool]:
    w, h = size
    clipped = [min(max(box[0], 0.0), w), min(max(box[1], 0.0), h), min(max(box[2], 0.0), w), min(max(box[3], 0.0), h)]
    return clipped, clipped != box


def occurrences(tokens: list[str], text: str) -> list[tuple[int, int]]:
    """Every span of ``tokens`` that spells ``text`` (words joined by one space), in order (overlaps included)."""
    found: set[tuple[int, int]] = set()
    while (span := locate(tokens, text, found)) is not None:
        found.add(span)
    return sorted(found)


def place(
    tokens: list[str], text: str, taken: Sequence[tuple[int, int]], after: int
) -> tuple[tuple[int, int] | None, int]:
    """Where a named entity goes: among the occurrences of ``text`` that overlap no ``taken`` span, the first one
    starting at or after ``after`` (answers list entities in the tweet's order), else the first one; and how many
    such occurrences there were (more than one: the answer's text alone does not say which).

    >>> place("RT @ KTLA : fire in Silver Lake ; KTLA".split(), "KTLA", [(6, 8)], 8)
    ((9, 10), 2)
    >>> place("Klay Thompson . Thompson scores".split(), "Thompson", [(0, 2)], 2)
    ((3, 4), 1)
    """
    free = [s for s in occurrences(tokens, text) if all(s[1] <= a or s[0] >= b for a, b in taken)]
    if not free:
        return None, 0
    return next((s for s in free if s[0] >= after), free[0]), len(free)


def parse_answer(
    tweet_id: str, tokens: list[str], answer: str | None, frame: Frame | None, report: MllmReport
) -> list[dict]:
    """The submission entities of one answer (``frame`` None: no images, no box keys), everything forgiven or
    refused recorded in ``report``; an invalid answer gives ``[]``."""
    report.tweets += 1
    grounded = frame is not None
    try:
        if answer is None:
            raise InvalidAnswer("no answer: the prompt does not fit the model's context")
        items = check_items(extract_entities(answer), grounded)
    except InvalidAnswer as exc:
        report.invalid.append((tweet_id, str(exc)))
        return []
    taken: list[tuple[int, int]] = []
    lowered = [t.lower() for t in tokens]
    out = []
    for text, raw_type, kind, box in items:
        text = " ".join(text.split())
        if raw_type != kind:
            report.type_spellings[raw_type] += 1
        after = taken[-1][1] if taken else 0
        span, candidates = place(tokens, text, taken, after)
        if span is None:
            span, candidates = place(lowered, text.lower(), taken, after)
            if span is not None:
                report.case_placed.append((tweet_id, text))
        if span is None:
            if occurrences(lowered, text.lower()):  # the tweet has it, but every occurrence is taken
                report.repeated.append((tweet_id, text))
            else:
                report.unplaceable.append((tweet_id, text))
            continue
        if candidates > 1:
            report.ambiguous.append((tweet_id, text))
        taken.append(span)
        entity: dict[str, Any] = {
            "start": span[0],
            "end": span[1],
            "text": " ".join(tokens[span[0] : span[1]]),
            "type": kind,
        }
        if grounded:
            value = None
            if box is not None:
                value, clipped = _clip(frame.to_original([float(v) for v in box]), frame.size)  # type: ignore[union-attr]
                if clipped:
                    report.clipped.append((tweet_id, text))
                if value[2] <= value[0] or value[3] <= value[1]:
                    report.degenerate.append((tweet_id, text))
                    value = None
            entity["box"] = value
            report.boxes += value is not None
            report.null_boxes += value is None
        report.entities += 1
        out.append(entity)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Tweets as the prompt shows them
# ---------------------------------------------------------------------------------------------------------------


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file (its header only), or :class:`DataFormatError` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataFormatError(f"not an image PIL can read ({str(exc)[:120]})", file=path) from None


def gold_entities(tweet) -> list[dict]:
    """A gold tweet's entities as a demonstration shows them (first gold box, or None when not in the image)."""
    return [
        {"entity": e.text, "type": e.type, "box": [float(v) for v in e.boxes[0]] if len(e.boxes) else None}
        for e in tweet.entities
    ]


def tweet_shot(
    tweet,
    images: str | os.PathLike | None,
    fmt: str | None,
    *,
    demo: bool = False,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> Shot | None:
    """The :class:`Shot` of a gold tweet (``demo``: with its gold entities); with ``images``, its image
    ``<images>/<id>.jpg`` (None when that file is missing) and frame."""
    entities = gold_entities(tweet) if demo else None
    if images is None:
        return Shot(tweet.id, list(tweet.tokens), entities=entities)
    path = Path(images) / f"{tweet.id}.jpg"
    if not path.is_file():
        return None
    width, height = image_size(path)
    frame = make_frame(fmt, width, height, (tweet.width, tweet.height), min_pixels=min_pixels, max_pixels=max_pixels)  # type: ignore[arg-type]
    return Shot(tweet.id, list(tweet.tokens), ImagePart.from_file(path), frame, entities)


def metadata_path(output: str | os.PathLike) -> Path:
    """Where a run's metadata goes: next to the output, ``<name>.meta.json`` (``out.jsonl`` -> ``out.meta.json``).

    >>> str(metadata_path("runs/out.jsonl"))
    'runs/out.meta.json'
    """
    p = Path(output)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(stem + ".meta.json")


# ---------------------------------------------------------------------------------------------------------------
# The whole run, from Python: a config, a gold split in, submission lines and metadata out
# ---------------------------------------------------------------------------------------------------------------


class MllmConfig(Config):
    """Everything a run of the MLLM baseline needs besides the gold split (``baseline mllm``'s options, one field
    each). ``images`` None makes a text-only MNER run; ``cache`` a resumable answer cache (JSON Lines)."""

    model_config = ConfigDict(frozen=True)  # and Config's: unknown keys refused, every number finite

    endpoint: str
    model: str = Field(min_length=1)
    images: str | None = None
    box_format: Literal["pixels", "resized-pixels", "norm1000", "norm1"] | None = None
    min_pixels: int = Field(QWEN_MIN_PIXELS, gt=0)
    max_pixels: int = Field(QWEN_MAX_PIXELS, gt=0)
    shots: int = Field(0, ge=0)
    cache: str | None = None
    concurrency: int = Field(4, ge=1)
    retries: int = Field(5, ge=0)
    timeout: float = Field(120.0, gt=0, allow_inf_nan=False)
    max_tokens: int = Field(1024, gt=0)
    temperature: float = Field(0.0, ge=0, allow_inf_nan=False)
    api_key_env: str = "OPENAI_API_KEY"

    @property
    def grounded(self) -> bool:
        return self.images is not None

    def check(self) -> MllmConfig:
        """The rules across fields, as usage errors (exit 2) that name the option."""
        check_endpoint(self.endpoint)
        if self.grounded and self.box_format is None:
            raise UsageError(f"--box-format is needed with --images ({', '.join(BOX_FORMATS)})")
        if self.min_pixels > self.max_pixels:
            raise UsageError(f"--min-pixels {self.min_pixels} is larger than --max-pixels {self.max_pixels}")
        if self.grounded and not Path(self.images).is_dir():  # type: ignore[arg-type]
            raise MissingDataError("image folder not found", file=self.images)
        return self


@dataclass
class MllmResult:
    """A run's submission lines (one per gold tweet, in order), its report and its metadata (what the command writes
    to ``<output>.meta.json``, less the command line)."""

    lines: list[dict]
    report: MllmReport
    metadata: dict


def _shots(config: MllmConfig, gold, train) -> tuple[list[Shot], list[list[Shot]]]:
    fmt = config.box_format if config.grounded else None
    pixels = {"min_pixels": config.min_pixels, "max_pixels": config.max_pixels}
    shots = [tweet_shot(t, config.images, fmt, **pixels) for t in gold.tweets]
    missing = [t.id for t, s in zip(gold.tweets, shots, strict=True) if s is None]
    if missing:
        raise MissingDataError(
            f"{len(missing)} of the {len(gold.tweets)} tweets of {gold.name} have no image <id>.jpg here "
            f"(first: {', '.join(missing[:5])})",
            file=config.images,
        )
    if not config.shots:
        return shots, [[] for _ in shots]  # type: ignore[misc]
    if train is None:
        raise UsageError("shots > 0 needs the train split (the pool of demonstrations)")
    if config.grounded and not train.has_boxes:
        raise UsageError(f"--shots with --images: {train.name} has no gold boxes to demonstrate")
    pool = [t for t in train.tweets if not config.grounded or (Path(config.images) / f"{t.id}.jpg").is_file()]
    if len(pool) < len(train.tweets):
        log.warning("%d train tweets without an image left out of the demonstrations", len(train.tweets) - len(pool))
    chosen = choose_demos([(s.id, s.tokens) for s in shots], [(t.id, t.tokens) for t in pool], config.shots)  # type: ignore[union-attr]
    needed = sorted({j for c in chosen for j in c})
    demos = {j: tweet_shot(pool[j], config.images, fmt, demo=True, **pixels) for j in needed}
    return shots, [[demos[j] for j in c] for c in chosen]  # type: ignore[misc]


class _CheckedFirst:
    """The endpoint, checked once before its first request (``GET /models``: it is reachable, the key is accepted,
    it serves the model asked for; an unknown model is a usage error naming those it serves). A run answered
    wholly from the answer cache asks nothing and checks nothing."""

    def __init__(self, llm, config: MllmConfig) -> None:
        self.llm, self.config, self.checked = llm, config, False
        self.backend, self.model = llm.backend, llm.model

    def _check(self) -> None:
        if self.checked:
            return
        self.checked = True
        served = self.llm.served_models()
        if served is None:
            log.info("%s does not list its models: %s is not checked first", self.config.endpoint, self.model)
        elif self.model not in served:
            names = ", ".join(shown(m) for m in served[:10])
            names += f" and {len(served) - 10} more" if len(served) > 10 else ""
            raise UsageError(f"--model {shown(self.model)}: {self.config.endpoint} serves {names}")

    def stream(self, requests):
        if requests:
            self._check()
        yield from self.llm.stream(requests)

    def generate(self, requests):
        if requests:
            self._check()
        return self.llm.generate(requests)


def run(config: MllmConfig, gold, train=None, *, llm=None, progress: bool = False) -> MllmResult:
    """Ask the model about every tweet of ``gold`` (a :class:`~smner_bench.benchmark.gold.Gold`; ``train``: the
    pool of demonstrations when ``config.shots`` > 0) and parse its answers into submission lines. ``llm``: a
    backend to use instead of the endpoint (anything with ``generate(requests)``; tests, or a custom client).

    Answers go to ``config.cache`` as they arrive; a :class:`~.providers.llm.ProviderError` (the endpoint could not
    answer after its retries) leaves them there, and a rerun asks only for what is missing."""
    from .providers.cache import AnswerCache
    from .providers.llm import CachedLLM, OpenAICompatibleLLM, ProviderError

    config.check()
    shots, demos = _shots(config, gold, train)
    if llm is None:
        llm = OpenAICompatibleLLM(
            config.endpoint,
            config.model,
            api_key_env=config.api_key_env,
            timeout=config.timeout,
            retries=config.retries,
            concurrency=config.concurrency,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )
    asked = _CheckedFirst(llm, config) if isinstance(llm, OpenAICompatibleLLM) else llm
    requests = [build_request(s, d) for s, d in zip(shots, demos, strict=True)]
    cached = None
    try:
        if config.cache is not None:
            cached = CachedLLM(asked, AnswerCache(config.cache), progress=progress)
            answers: list[str | None] = list(cached.generate(requests))
        else:
            answers = asked.generate(requests)
    except ProviderError as exc:
        kept = f" (the answers received are in {config.cache}: rerun to resume)" if config.cache else ""
        raise ProviderError(f"{exc}{kept}") from None
    finally:
        if cached is not None:
            cached.cache.close()
    report = MllmReport()
    lines = [
        {"id": s.id, "entities": parse_answer(s.id, s.tokens, a, s.frame, report)}
        for s, a in zip(shots, answers, strict=True)
    ]
    usage = getattr(llm, "usage", None)
    fmt = config.box_format if config.grounded else None
    metadata = {
        "baseline": "mllm",
        "dataset": gold.dataset,
        "split": gold.split,
        "task": "gmner" if config.grounded else "mner",
        "endpoint": config.endpoint,
        "model": config.model,
        "images": config.grounded,
        "box_format": fmt,
        **({"min_pixels": config.min_pixels, "max_pixels": config.max_pixels} if fmt == "resized-pixels" else {}),
        "shots": config.shots,
        "demo_selection": "MSEA rule (top-k cosine, never the tweet itself) over TF-IDF word vectors of the train "
        "split: text only"
        if config.shots
        else None,
        "demos": {s.id: [d.id for d in ds] for s, ds in zip(shots, demos, strict=True)} if config.shots else None,
        "prompt_version": PROMPT_VERSION,
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "answers": {
            "from_cache": cached.hits if cached else 0,
            "requested": cached.misses if cached else len(requests),
            "skipped_context": cached.skipped if cached else sum(a is None for a in answers),
        },
        "usage": {
            "requests": usage.requests if usage else 0,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "replies_without_usage": usage.without_usage if usage else 0,
        },
        "report": report.as_dict(),
    }
    return MllmResult(lines, report, metadata)
