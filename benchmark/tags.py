"""Entity types, BIO tag names and the conlleval rules that turn tags into entity spans.

>>> spans, repairs = tags_to_spans(["B-PER", "I-PER", "O", "I-LOC"])
>>> spans
[(0, 2, 'PER'), (3, 4, 'LOC')]
>>> repairs  # the I-LOC after O starts a new entity (conlleval), and is reported
[3]
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

TYPES: tuple[str, ...] = ("PER", "LOC", "ORG", "OTHER")
"""Entity types of every dataset, in the order of the data model."""

TYPE_ALIASES: dict[str, str] = {"MISC": "OTHER"}
"""Names that some releases (Twitter-2017) and papers use for OTHER."""

TAG_NAMES: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in TYPES for p in ("B", "I")))
"""BIO tag names in the order of the data model's ClassLabel."""


def normalize_type(name: str) -> str | None:
    """The canonical type for ``name`` (``MISC`` -> ``OTHER``), or None when it is no type.

    >>> normalize_type("MISC"), normalize_type("LOC"), normalize_type("DATE")
    ('OTHER', 'LOC', None)
    """
    name = TYPE_ALIASES.get(name, name)
    return name if name in TYPES else None


def text_identity(text: str) -> str:
    """What an entity's text is compared by (the submission check of a text against its span's tokens, the
    ``text`` and ``riveg`` matching modes): its Unicode NFC form, so that one word written with a precomposed or a
    decomposed accent is one text.

    >>> text_identity("Jose\u0301") == text_identity("Jos\u00e9") == "Jos\u00e9"
    True
    """
    return unicodedata.normalize("NFC", text)


def tags_to_spans(tags: Sequence[str]) -> tuple[list[tuple[int, int, str]], list[int]]:
    """Entity spans ``(start, end, type)`` (end exclusive) with conlleval's rules, and the repaired tags.

    An ``I-X`` that follows ``O`` or a tag of another type starts a new entity (conlleval); its position
    is returned in the second list so that callers can report it. Tags must already be valid BIO names
    (``O``, ``B-X``, ``I-X``); types are taken as written.
    """
    spans: list[tuple[int, int, str]] = []
    repairs: list[int] = []
    start: int | None = None
    current: str | None = None
    for i, tag in enumerate(tags):
        if tag == "O":
            prefix, kind = "O", None
        else:
            prefix, kind = tag[0], tag[2:]
        continues = prefix == "I" and current == kind
        if prefix == "I" and not continues:
            repairs.append(i)
        if current is not None and not continues:
            spans.append((start, i, current))  # type: ignore[arg-type]
            current, start = None, None
        if prefix in ("B", "I") and not continues:
            current, start = kind, i
    if current is not None:
        spans.append((start, len(tags), current))  # type: ignore[arg-type]
    return spans, repairs


def from_tags(tags: Sequence[str], tokens: Sequence[str] | None = None) -> list[dict]:
    """Submission entities from one BIO tag sequence, with conlleval's rules, so that a tagger's output can
    be scored. Types are canonical (``MISC`` -> ``OTHER``); ``text`` is added when ``tokens`` are given.
    Raises ``ValueError`` on a tag that is not ``O``, ``B-X`` or ``I-X`` of a known type.

    >>> from_tags(["B-PER", "I-PER", "O", "I-MISC"], ["Kevin", "Durant", "at", "NBA"])[1]
    {'start': 3, 'end': 4, 'type': 'OTHER', 'text': 'NBA'}
    """
    if tokens is not None and len(tokens) != len(tags):
        raise ValueError(f"{len(tags)} tags for {len(tokens)} tokens")
    canonical = []
    for i, tag in enumerate(tags):
        kind = normalize_type(tag[2:]) if tag[:2] in ("B-", "I-") else None
        if tag != "O" and kind is None:
            raise ValueError(f"tag {i} {tag!r} is not O, B-X or I-X with X in {', '.join(TYPES)} (or MISC)")
        canonical.append("O" if tag == "O" else f"{tag[:2]}{kind}")
    entities = []
    for start, end, kind in tags_to_spans(canonical)[0]:
        entity: dict = {"start": start, "end": end, "type": kind}
        if tokens is not None:
            entity["text"] = " ".join(tokens[start:end])
        entities.append(entity)
    return entities
