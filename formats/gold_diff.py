"""What differs between two golds of one split (``smner-bench gold-diff``): a pure comparison.

Tweets are aligned by id. In a tweet present in both, the tokens are compared position by position, and the
entities are paired: first those with the same span, then, among the rest, those with the same text (moved to other
tokens), then those whose spans overlap (other boundaries); what is left is an entity only in the reference
(``missing``) or only in the other gold (``extra``). Each pair is compared by span, type (MISC = OTHER: both golds
are read as the data model), and boxes: ``groundable`` when one side has boxes and the other none, ``boxes`` when
both have boxes but not the same set.

The counts give each side's tweets, entities, boxes and entity-box pairs (the unit the UnCo/MQSPN evaluator counts:
one per box, one for an entity without a box), and how many tweets and entities differ in each way.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from smner_bench.benchmark.gold import Gold, GoldEntity, GoldTweet

KINDS = ("missing", "extra", "span", "type", "groundable", "boxes")
"""The entity differences, in the order a summary lists them."""


@dataclass
class TweetDiff:
    id: str
    tokens: dict[str, Any] | None = None  # {"reference": n, "other": n, "positions": [[i, ref, other], ...]}
    entities: list[dict[str, Any]] = field(default_factory=list)  # one per difference, "kind" in KINDS
    same: int = 0  # entities equal on both sides (span, type, boxes)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "tokens": self.tokens, "entities": self.entities}


@dataclass
class GoldDiff:
    reference: str
    other: str
    counts: dict[str, Any]
    tweets: list[TweetDiff]  # the tweets that differ, in the reference's order
    only_reference: list[str]  # tweet ids
    only_other: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "other": self.other,
            "counts": self.counts,
            "only_in_reference": self.only_reference,
            "only_in_other": self.only_other,
            "tweets": [t.as_json() for t in self.tweets],
        }


def _boxes(e: GoldEntity) -> list[list[float]]:
    return sorted({tuple(float(v) for v in b) for b in e.boxes.tolist()})  # type: ignore[misc]


def _entity(e: GoldEntity) -> dict[str, Any]:
    return {"span": [e.start, e.end], "text": e.text, "type": e.type, "boxes": [list(b) for b in _boxes(e)]}


def _pairs(ref: list[GoldEntity], other: list[GoldEntity]) -> tuple[list[tuple[GoldEntity, GoldEntity]], list, list]:
    """(paired entities, reference entities left, other entities left): same span, then same text, then
    overlapping spans, each reference entity in order taking the first free match. Linear but for a sort, whatever
    a tweet holds (a hostile gold file of a million one-token entities is compared in seconds)."""
    pairs: list[tuple[GoldEntity, GoldEntity]] = []
    left = list(ref)
    free = {id(b): b for b in other}  # insertion-ordered: the other gold's order
    for key in (lambda e: (e.start, e.end), lambda e: e.text):
        index: dict[Any, deque[GoldEntity]] = {}
        for b in free.values():
            index.setdefault(key(b), deque()).append(b)
        rest = []
        for a in left:
            found = index.get(key(a))
            while found and id(found[0]) not in free:
                found.popleft()
            if found:
                b = found.popleft()
                del free[id(b)]
                pairs.append((a, b))
            else:
                rest.append(a)
        left = rest
    by_start = sorted(free.values(), key=lambda e: (e.start, e.end))
    starts = [b.start for b in by_start]
    rest = []
    for a in left:  # overlapping spans: of the free ones starting before a's end, the earliest reaching into it
        b = None
        for j in range(bisect.bisect_left(starts, a.end) - 1, -1, -1):  # flat gold: those reaching a are a suffix
            if by_start[j].end <= a.start:
                break
            b = by_start[j] if id(by_start[j]) in free else b
        if b is None:
            rest.append(a)
            continue
        del free[id(b)]
        pairs.append((a, b))
    return pairs, rest, list(free.values())


def _token_diff(a: GoldTweet, b: GoldTweet, shown: int = 5) -> dict[str, Any] | None:
    if a.tokens == b.tokens:
        return None
    n = max(len(a.tokens), len(b.tokens))
    positions = [
        [i, a.tokens[i] if i < len(a.tokens) else None, b.tokens[i] if i < len(b.tokens) else None]
        for i in range(n)
        if i >= len(a.tokens) or i >= len(b.tokens) or a.tokens[i] != b.tokens[i]
    ]
    return {"reference": len(a.tokens), "other": len(b.tokens), "differing": len(positions),
            "positions": positions[:shown]}  # fmt: skip


def tweet_diff(a: GoldTweet, b: GoldTweet) -> TweetDiff:
    """The differences of one tweet's gold ``b`` from the reference ``a``."""
    out = TweetDiff(a.id, tokens=_token_diff(a, b))
    pairs, missing, extra = _pairs(a.entities, b.entities)
    changes = []
    for x, y in pairs:
        kinds = []
        if (x.start, x.end) != (y.start, y.end):
            kinds.append("span")
        if x.type != y.type:
            kinds.append("type")
        bx, by = _boxes(x), _boxes(y)
        if bool(bx) != bool(by):
            kinds.append("groundable")
        elif bx != by:
            kinds.append("boxes")
        out.same += not kinds
        for kind in kinds:
            changes.append((x.start, {"kind": kind, "reference": _entity(x), "other": _entity(y)}))
    changes += [(x.start, {"kind": "missing", "reference": _entity(x), "other": None}) for x in missing]
    changes += [(y.start, {"kind": "extra", "reference": None, "other": _entity(y)}) for y in extra]
    out.entities = [c for _, c in sorted(changes, key=lambda c: (c[0], KINDS.index(c[1]["kind"])))]
    return out


def _side(gold: Gold) -> dict[str, int]:
    return {
        "tweets": len(gold.tweets),
        "entities": len(gold.entities),
        "groundable": sum(1 for e in gold.entities if len(e.boxes)),
        "boxes": sum(len(e.boxes) for e in gold.entities),
        "entity_box_pairs": sum(max(1, len(e.boxes)) for e in gold.entities),
    }


def gold_diff(reference: Gold, other: Gold, *, reference_name: str | None = None, other_name: str | None = None):
    """:class:`GoldDiff` of ``other`` against ``reference``."""
    common = [t for t in reference.tweets if t.id in other.by_id]
    every = [tweet_diff(t, other.by_id[t.id]) for t in common]
    diffs = [d for d in every if d.tokens or d.entities]
    only_ref = [t.id for t in reference.tweets if t.id not in other.by_id]
    only_other = [t.id for t in other.tweets if t.id not in reference.by_id]
    entity_counts = {k: sum(1 for d in diffs for c in d.entities if c["kind"] == k) for k in KINDS}
    tweet_counts = {k: sum(1 for d in diffs if any(c["kind"] == k for c in d.entities)) for k in KINDS}
    counts = {
        "reference": _side(reference),
        "other": _side(other),
        "tweets": {
            "common": len(common),
            "only_in_reference": len(only_ref),
            "only_in_other": len(only_other),
            "identical": len(common) - len(diffs),
            "differing": len(diffs),
            "tokens": sum(1 for d in diffs if d.tokens),
            "entities": sum(1 for d in diffs if d.entities),
            **{f"with_{k}": v for k, v in tweet_counts.items()},
        },
        "entities": {"same": sum(d.same for d in every), **entity_counts},
    }
    return GoldDiff(reference_name or reference.name, other_name or other.name, counts, diffs, only_ref, only_other)


def summary(diff: GoldDiff, *, show: int = 10) -> list[str]:
    """The terminal's view of a diff: the counts, then up to ``show`` differing tweets."""
    c = diff.counts
    r, o, t, e = c["reference"], c["other"], c["tweets"], c["entities"]
    lines = [
        f"reference {diff.reference}: {r['tweets']} tweets, {r['entities']} entities ({r['groundable']} with boxes, "
        f"{r['boxes']} boxes, {r['entity_box_pairs']} entity-box pairs)",
        f"other     {diff.other}: {o['tweets']} tweets, {o['entities']} entities ({o['groundable']} with boxes, "
        f"{o['boxes']} boxes, {o['entity_box_pairs']} entity-box pairs)",
        f"tweets: {t['common']} in both ({t['identical']} identical, {t['differing']} differ: {t['tokens']} in their "
        f"tokens, {t['entities']} in their entities), {t['only_in_reference']} only in the reference, "
        f"{t['only_in_other']} only in the other",
        f"entities: {e['same']} the same; {e['missing']} only in the reference, {e['extra']} only in the other, "
        f"{e['span']} with other tokens (span), {e['type']} of another type, {e['groundable']} grounded on one side "
        f"only, {e['boxes']} with other boxes (in {t['with_boxes']} tweets)",
    ]
    for d in diff.tweets[:show]:
        lines.append(f"tweet {d.id}:")
        if d.tokens:
            shown = ", ".join(f"{i}: {a!r} / {b!r}" for i, a, b in d.tokens["positions"])
            lines.append(f"  tokens: {d.tokens['differing']} positions differ ({d.tokens['reference']} / "
                         f"{d.tokens['other']} tokens): {shown}")  # fmt: skip
        for ch in d.entities:
            lines.append(f"  {ch['kind']}: {_show(ch['reference'])} / {_show(ch['other'])}")
    if len(diff.tweets) > show:
        lines.append(f"... and {len(diff.tweets) - show} more differing tweets (--show N, or --json FILE for all)")
    return lines


def _show(e: dict[str, Any] | None) -> str:
    if e is None:
        return "-"
    boxes = "; ".join(",".join(f"{v:g}" for v in b) for b in e["boxes"]) or "no box"
    return f"{e['text']!r} [{e['span'][0]}, {e['span'][1]}) {e['type']} ({boxes})"
