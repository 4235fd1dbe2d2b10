"""A small deterministic synthetic dataset in the raw release formats, for tests and demos.

``write_sample(out_dir, seed)`` writes about 60 made-up tweets (train 36, dev 12, test 12) with
entities of the four types (PER, LOC, ORG, OTHER) and writes them the way the real releases do::

    out_dir/
      README.md                  what this is, the seed, this layout
      train.txt dev.txt test.txt CoNLL: "IMGID:<id>", then "token<TAB>tag" lines, then a blank line
      xml/<id>.xml               Pascal-VOC boxes (object name = entity text), only for tweets with a
                                 groundable entity
      masks/<id>.json            labelme 5.4.1 shapes (polygon, rectangle, circle, mask); shapes of one
                                 label with the same group_id form one mask, group_id null = own mask
      images/<id>.jpg            RGB JPEG for every tweet: light background, each mask filled with a
                                 flat saturated colour per entity
      knowledge.zip              labels.txt, train.txt, valid.txt, test.txt (CRLF): tweet lines, "<EOS>\\tX",
                                 one knowledge word per line tagged X, blank line; one train tweet left out
      captions/BLIP2_sample.txt  "<id>.jpg :<caption>" per image
      captions/mplug-owl_<split>.txt  "imgid:<id>###<description>" records, possibly multi-line

The module is a world model (``_Tweet``, ``_Entity``, ``_Mask``: the made-up tweets and their regions) and
writers that mirror the readers (:func:`.conll.conll_text`, :func:`.knowledge.knowledge_text`,
:func:`.captions.blip2_text` / :func:`.captions.mplug_text`; the VOC and labelme documents here). Every VOC box
is the tight bounding box of one mask, rasterised by the labelme reader's own
:func:`.labelme.rasterize_shape` (labelme's rules), so boxes, masks and image pixels agree; the tests check
the masks against an independent rasteriser. The same seed gives byte-identical
files. Fixed cases (any seed): s0002's first entity has two boxes and two masks, s0003 has no entity,
s0004's first entity has one mask made of two polygons sharing a group_id, s0005 has entities but no
XML file (all ungroundable).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw

from smner_bench.benchmark.registry import SPLIT_FILES, canonical_split
from smner_bench.benchmark.safe_output import atomic_folder, check_folder
from smner_bench.benchmark.tags import TAG_NAMES, TYPES

from . import knowledge
from .captions import blip2_text, mplug_text
from .conll import conll_text
from .labelme import rasterize_shape

LABELS = (*TAG_NAMES[1:], TAG_NAMES[0])  # labels.txt of the PGIM/RiVEG releases: O last
SPLITS = (("train", 36), ("dev", 12), ("test", 12))  # the sample's splits (dev.txt) and their tweets
SHAPE_TYPES = ("polygon", "rectangle", "circle", "mask")
BACKGROUND = (235, 235, 235)
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
TWO_BOXES, NO_ENTITY, GROUP_MASK, NO_XML = "s0002", "s0003", "s0004", "s0005"

_FIRST = ("Mara", "Tobin", "Elsa", "Ravi", "Joon", "Priya", "Kofi", "Lena", "Ines", "Dario")
_LAST = ("Quill", "Ashdown", "Varga", "Okonkwo", "Lindqvist", "Marsh", "Brandt", "Solis")
_NAMES = {
    "LOC": (
        "Zürich",
        "Port Alder",
        "Lake Vinmoor",
        "New Brasko City",
        "Kelderwick",
        "Saint Orla Bay",
        "Dunmere",
        "East Harrow",
    ),
    "ORG": (
        "Quillcorp",
        "Velvet Ridge FC",
        "Norra Bank",
        "Ostrava Media Group",
        "Lumen Labs",
        "Brightwater Council",
        "Kestrel Air",
    ),
    "OTHER": (
        "Starfall Cup",
        "Neon Harvest",
        "#SummerJam",
        "Iron Echo Tour",
        "Moonlit Saga",
        "Pixel Drift",
        "Crown of Ash",
    ),
}
_TEMPLATES = {
    0: ("Nothing beats a quiet Sunday morning with coffee ☕",),
    1: (
        "Just met {0} and honestly it was amazing",
        "Can not believe what {0} said this morning 😂",
        "Great evening with {0} , highly recommended !",
        "Who else is watching {0} tonight ? #fun",
        "Finally got tickets for {0} !",
    ),
    2: (
        "{0} spotted near {1} earlier today",
        "Breaking : {0} announces new deal with {1}",
        "Loving the new look of {0} , thanks {1} !",
        "{0} is heading to {1} next week",
    ),
    3: ("{0} and {1} visit {2} this weekend", "RT @fan : {0} meets {1} in {2}", "{0} , {1} and {2} all in one photo"),
}
_TYPE_WORDS = {"PER": "person", "LOC": "location", "ORG": "organisation", "OTHER": "other"}
_PALETTE = (
    ((220, 40, 40), "red"),
    ((40, 90, 220), "blue"),
    ((30, 170, 60), "green"),
    ((230, 150, 20), "orange"),
    ((150, 50, 200), "purple"),
    ((20, 170, 190), "teal"),
)
_SHAPE_WORDS = {"polygon": "polygon", "rectangle": "rectangle", "circle": "circle", "mask": "blob"}


@dataclass
class _Mask:
    shapes: list[dict]
    region: np.ndarray
    box: tuple[int, int, int, int]


@dataclass
class _Entity:
    tokens: list[str]
    etype: str
    groundable: bool
    n_masks: int = 1
    grouped: bool = False
    masks: list[_Mask] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass
class _Tweet:
    tid: str
    split: str
    tokens: list[str]
    tags: list[str]
    entities: list[_Entity]
    width: int
    height: int

    @property
    def grounded(self) -> list[_Entity]:
        return [e for e in self.entities if e.groundable]


def _shape(points: list[list[int]], shape_type: str, group_id: int | None, mask: str | None = None) -> dict:
    return {
        "label": "",
        "points": points,
        "group_id": group_id,
        "description": "",
        "shape_type": shape_type,
        "flags": {},
        "mask": mask,
    }


def _slot_shapes(
    rng: random.Random, shape_type: str, x0: int, y0: int, x1: int, y1: int, group_id: int | None
) -> list[dict]:
    """Labelme shapes that fill (roughly) the slot [x0, x1] x [y0, y1] and contain its centre."""
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    if shape_type == "rectangle":
        return [_shape([[x0, y0], [x1, y1]], "rectangle", group_id)]
    if shape_type == "circle":
        return [_shape([[cx, cy], [cx + min(x1 - x0, y1 - y0) // 2, cy]], "circle", group_id)]
    if shape_type == "mask":
        w, h = x1 - x0 + 1, y1 - y0 + 1
        patch = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(patch)
        draw.ellipse([0, 0, w - 1, h - 1], fill=255)
        draw.rectangle([int(w * 0.62), int(h * 0.62), int(w * 0.75), int(h * 0.75)], fill=0)
        buf = io.BytesIO()
        patch.save(buf, format="PNG")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return [_shape([[x0, y0], [x1, y1]], "mask", group_id, data)]
    n = rng.randint(5, 8)
    rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
    points = []
    for j in range(n):
        a = 2 * math.pi * (j + rng.uniform(-0.2, 0.2)) / n
        f = rng.uniform(0.65, 1.0)
        points.append([round(cx + f * rx * math.cos(a)), round(cy + f * ry * math.sin(a))])
    return [_shape(points, "polygon", group_id)]


def _cross(x0: int, y0: int, x1: int, y1: int) -> list[dict]:
    """Two bar polygons sharing group_id 1: one mask shaped like a plus sign."""
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    tx, ty = max(4, (x1 - x0) // 5), max(4, (y1 - y0) // 5)
    return [
        _shape([[x0, cy - ty], [x1, cy - ty], [x1, cy + ty], [x0, cy + ty]], "polygon", 1),
        _shape([[cx - tx, y0], [cx + tx, y0], [cx + tx, y1], [cx - tx, y1]], "polygon", 1),
    ]


def _place_masks(rng: random.Random, tweet: _Tweet, cycle: list[int]) -> None:
    """Give each groundable entity its masks, one per vertical slot of the image, and its boxes."""
    slots = [(e, k) for e in tweet.grounded for k in range(e.n_masks)]
    col = tweet.width / max(1, len(slots))
    for i, (entity, k) in enumerate(slots):
        left, right = int(i * col) + 4, int((i + 1) * col) - 5
        w = rng.randint(int(0.6 * (right - left)), right - left)
        h = rng.randint(int(0.35 * tweet.height), int(0.8 * tweet.height))
        x0 = rng.randint(left, right - w)
        y0 = rng.randint(4, tweet.height - h - 5)
        if entity.grouped:
            shapes = _cross(x0, y0, x0 + w, y0 + h)
        else:
            shape_type = SHAPE_TYPES[cycle[0] % len(SHAPE_TYPES)]
            cycle[0] += 1
            group_id = k + 1 if entity.n_masks > 1 else None
            shapes = _slot_shapes(rng, shape_type, x0, y0, x0 + w, y0 + h, group_id)
        for shape in shapes:
            shape["label"] = entity.text
        region = np.zeros((tweet.height, tweet.width), dtype=bool)
        for shape in shapes:
            region |= rasterize_shape(shape, tweet.height, tweet.width, Path(f"{tweet.tid}.json"), "shape")
        rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
        box = (int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))
        entity.masks.append(_Mask(shapes, region, box))


def _entity_tokens(rng: random.Random, etype: str) -> list[str]:
    if etype != "PER":
        return rng.choice(_NAMES[etype]).split()
    r = rng.random()
    if r < 0.25:
        return [rng.choice(_FIRST)]
    if r < 0.85:
        return [rng.choice(_FIRST), rng.choice(_LAST)]
    return [rng.choice(_FIRST), rng.choice(("de", "van")), rng.choice(_LAST)]


def _make_tweet(rng: random.Random, tid: str, split: str, counter: list[int], offset: int) -> _Tweet:
    k = {NO_ENTITY: 0, NO_XML: 2, TWO_BOXES: rng.choice((1, 2))}.get(tid, rng.choice((1, 1, 2, 2, 3)))
    entities: list[_Entity] = []
    while len(entities) < k:
        etype = TYPES[(offset + counter[0]) % len(TYPES)]
        tokens = _entity_tokens(rng, etype)
        if any(e.tokens == tokens for e in entities):
            continue
        forced = not entities and tid in (TWO_BOXES, GROUP_MASK)
        groundable = tid != NO_XML and (counter[0] % 3 != 2 or forced)
        counter[0] += 1
        entities.append(_Entity(tokens, etype, groundable))
    if entities and tid == TWO_BOXES:
        entities[0].n_masks = 2
    if entities and tid == GROUP_MASK:
        entities[0].grouped = True
    tokens: list[str] = []
    tags: list[str] = []
    for word in rng.choice(_TEMPLATES[k]).split():
        if word.startswith("{") and word.endswith("}"):
            entity = entities[int(word[1:-1])]
            tokens += entity.tokens
            tags += [f"{'I' if j else 'B'}-{entity.etype}" for j in range(len(entity.tokens))]
        else:
            tokens.append(word)
            tags.append("O")
    return _Tweet(tid, split, tokens, tags, entities, rng.randint(160, 320), rng.randint(160, 320))


def _knowledge(tweet: _Tweet) -> str:
    if not tweet.entities:
        text = "Named entities: none. Reasoning: the tweet shares a personal moment and names no {}."
        return text.format("specific person, place or organisation")
    words = ["Named", "entities:"]
    for i, e in enumerate(tweet.entities, 1):
        words += [f"{i}.", *e.tokens, f"({_TYPE_WORDS[e.etype]})"]
    kinds = " and ".join(dict.fromkeys(_TYPE_WORDS[e.etype] for e in tweet.entities))
    return " ".join(words) + f" Reasoning: in this context the capitalised names most likely denote {kinds} entities."


def _voc(tweet: _Tweet) -> str:
    lines = [
        "<annotation>",
        "  <folder>sample</folder>",
        f"  <filename>{tweet.tid}.jpg</filename>",
        f"  <size><width>{tweet.width}</width><height>{tweet.height}</height><depth>3</depth></size>",
        "  <segmented>0</segmented>",
    ]
    for e in tweet.grounded:
        for m in e.masks:
            x0, y0, x1, y1 = m.box
            lines += [
                "  <object>",
                f"    <name>{escape(e.text)}</name>",
                "    <pose>Unspecified</pose>",
                "    <truncated>0</truncated>",
                "    <difficult>0</difficult>",
                f"    <bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>",
                "  </object>",
            ]
    return "\n".join([*lines, "</annotation>", ""])


def _labelme(tweet: _Tweet) -> str:
    shapes = [s for e in tweet.grounded for m in e.masks for s in m.shapes]
    doc = {
        "version": "5.4.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": f"{tweet.tid}.jpg",
        "imageData": None,
        "imageHeight": tweet.height,
        "imageWidth": tweet.width,
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _image(tweet: _Tweet) -> bytes:
    pixels = np.empty((tweet.height, tweet.width, 3), dtype=np.uint8)
    pixels[:] = BACKGROUND
    for i, e in enumerate(tweet.entities):
        for m in e.masks:
            pixels[m.region] = _PALETTE[i % len(_PALETTE)][0]
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=95, subsampling=0)
    return buf.getvalue()


def _caption(tweet: _Tweet) -> str:
    parts = []
    for i, e in enumerate(tweet.entities):
        for m in e.masks:
            kind = "cross" if e.grouped else _SHAPE_WORDS[m.shapes[0]["shape_type"]]
            parts.append(f"a {_PALETTE[i % len(_PALETTE)][1]} {kind}")
    return "a light grey background with " + (", ".join(parts) if parts else "nothing on it")


def _description(tweet: _Tweet) -> str:
    extra = "\n\nThe shapes are flat, evenly lit and do not overlap." if tweet.tid == TWO_BOXES else ""
    return f"The image shows {_caption(tweet)}, drawn on a plain canvas.{extra}"


def _knowledge_zip(by_split: dict[str, list[_Tweet]], missing: str) -> bytes:
    """The release as PGIM/RiVEG ship it: a zip of labels.txt and one CRLF file per split."""
    entries = {"labels.txt": "".join(f"{x}\n" for x in LABELS)}
    for split, tweets in by_split.items():
        records = [(t.tokens, t.tags, _knowledge(t)) for t in tweets if t.tid != missing]
        entries[knowledge.SPLIT_FILES[canonical_split(split)][0]] = knowledge.knowledge_text(records)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name].replace("\n", "\r\n").encode("utf-8"))
    return buf.getvalue()


def _files(seed: int, tweets: list[_Tweet], missing: str) -> dict[str, bytes]:
    """Every output file's bytes, by relative path."""
    by_split = {name: [t for t in tweets if t.split == name] for name, _ in SPLITS}
    files: dict[str, bytes] = {}
    for t in tweets:
        files[f"images/{t.tid}.jpg"] = _image(t)
        if t.grounded:
            files[f"xml/{t.tid}.xml"] = _voc(t).encode("utf-8")
            files[f"masks/{t.tid}.json"] = _labelme(t).encode("utf-8")
    files["knowledge.zip"] = _knowledge_zip(by_split, missing)
    files["captions/BLIP2_sample.txt"] = blip2_text({t.tid: _caption(t) for t in tweets}).encode("utf-8")
    for split, ts in by_split.items():
        files[SPLIT_FILES[canonical_split(split)][0]] = conll_text((t.tid, t.tokens, t.tags) for t in ts).encode()
        files[f"captions/mplug-owl_{split}.txt"] = mplug_text({t.tid: _description(t) for t in ts}).encode("utf-8")
    files["README.md"] = _readme(seed, missing).encode("utf-8")
    return files


def _readme(seed: int, missing: str) -> str:
    return (
        f"# smner-bench synthetic sample\n\nMade-up tweets, images and annotations generated by "
        f"`smner-bench sample` (seed {seed}); not real data.\n\n"
        "- `train.txt`, `dev.txt`, `test.txt`: CoNLL with `IMGID:<id>` lines and BIO tags\n"
        "- `xml/<id>.xml`: Pascal-VOC boxes, object name = entity text (groundable entities)\n"
        "- `masks/<id>.json`: labelme 5.4.1 shapes; same label and group_id = one mask\n"
        "- `images/<id>.jpg`: one RGB image per tweet, masks drawn in flat colours\n"
        f"- `knowledge.zip`: labels.txt, train/valid/test.txt with LLM knowledge (CRLF); {missing} is "
        "left out of train.txt\n"
        "- `captions/BLIP2_sample.txt`, `captions/mplug-owl_<split>.txt`: image captions\n"
    )


def write_sample(out_dir: str | os.PathLike, seed: int = 0) -> dict:
    """Write the synthetic sample into the folder ``out_dir``; return a manifest.

    The folder is written atomically and marked as a ``sample`` folder (``benchmark/safe_output.py``): it is
    created when its parent exists, and an existing folder is replaced only when it is an earlier sample or
    empty; anything else is refused (:class:`~smner_bench.benchmark.safe_output.OutputError`, exit 2).

    The manifest holds ``splits`` (split -> tweet ids), ``counts`` (split -> tweets, entities, groundable,
    boxes, masks, shapes), ``knowledge_missing`` (the train tweet left out of knowledge.zip) and
    ``special`` (the tweets that carry the fixed edge cases).
    """
    out = Path(out_dir)
    check_folder(out, "sample")  # refused before any work
    rng = random.Random(seed)
    tweets: list[_Tweet] = []
    cycle = [rng.randrange(len(SHAPE_TYPES))]
    for split, n in SPLITS:
        counter, offset = [0], rng.randrange(len(TYPES))
        for _ in range(n):
            tweet = _make_tweet(rng, f"s{len(tweets) + 1:04d}", split, counter, offset)
            _place_masks(rng, tweet, cycle)
            tweets.append(tweet)
    missing = rng.choice([t.tid for t in tweets if t.split == "train"][5:])
    files = _files(seed, tweets, missing)
    with atomic_folder(out, "sample") as tmp:
        for rel in sorted(files):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[rel])
    counts = {}
    for split, _ in SPLITS:
        ts = [t for t in tweets if t.split == split]
        ents = [e for t in ts for e in t.entities]
        n_masks = sum(len(e.masks) for e in ents)
        counts[split] = {
            "tweets": len(ts),
            "entities": len(ents),
            "groundable": sum(e.groundable for e in ents),
            "boxes": n_masks,
            "masks": n_masks,
            "shapes": sum(len(m.shapes) for e in ents for m in e.masks),
        }
    first = {t.tid: t.entities[0].text for t in tweets if t.tid in (TWO_BOXES, GROUP_MASK)}
    return {
        "seed": seed,
        "splits": {split: [t.tid for t in tweets if t.split == split] for split, _ in SPLITS},
        "counts": counts,
        "knowledge_missing": missing,
        "special": {
            "two_boxes": {"tweet": TWO_BOXES, "entity": first[TWO_BOXES]},
            "group_mask": {"tweet": GROUP_MASK, "entity": first[GROUP_MASK]},
            "no_entity": NO_ENTITY,
            "no_xml": NO_XML,
        },
    }
