"""Joins the raw readers into data-model examples: CoNLL tweets + VOC boxes + labelme masks + images +
knowledge + captions. Pure Python: :func:`split_files` resolves what one split reads, :func:`generate_examples`
streams its examples (the ``datasets`` builder's ``_split_generators`` and ``_generate_examples`` are these
two), each source attached by a small ``attach_*`` helper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smner_bench.benchmark.errors import MissingDataError
from smner_bench.benchmark.io import sha256_file

from .captions import caption_files, read_captions
from .configs import Sources, split_file
from .conll import ConllTweet, read_conll
from .knowledge import align_knowledge, read_knowledge
from .labelme import read_labelme
from .quirks import QuirkReport
from .rawfile import image_size, present
from .voc import read_voc

__all__ = ["Sources", "SplitFiles", "generate_examples", "iter_examples", "split_files"]

Size = tuple[int, int]


@dataclass(frozen=True)
class SplitFiles:
    """What one split reads, resolved before anything is generated. Folders hold ``<id>.xml``,
    ``<id>.json`` and ``<id>.jpg`` per tweet; ``None`` (or no captions) leaves that source out."""

    split: str
    conll: Path
    xml_dir: Path | None = None
    mask_dir: Path | None = None
    image_dir: Path | None = None
    knowledge: Path | None = None  # the release (zip or folder): read_knowledge finds the split's file in it
    captions: tuple[Path, ...] = ()  # caption files (folders already listed)


def split_files(sources: Sources, split: str) -> SplitFiles:
    """The files of ``split``; :class:`MissingDataError` when the split file or a needed folder is absent."""
    xml_dir = sources.data_dir / "xml" if sources.info.boxes else None
    if xml_dir is not None and not xml_dir.is_dir():
        raise MissingDataError(f"{sources.info.name} needs the VOC boxes in <data dir>/xml", file=xml_dir)
    return SplitFiles(
        split=split,
        conll=split_file(sources.data_dir, split),
        xml_dir=xml_dir,
        mask_dir=sources.mask_dir,
        image_dir=sources.image_dir,
        knowledge=sources.knowledge,
        captions=tuple(caption_files(sources.captions)) if sources.captions else (),
    )


def generate_examples(files: SplitFiles, report: QuirkReport) -> Iterator[dict[str, Any]]:
    """The examples of one split in file order; quirks and checksums go to ``report``."""
    tweets = read_conll(files.conll, report)  # checks that it is a regular file of bounded size first
    record_checksum(report, files.conll)
    knowledge = read_aligned_knowledge(files.knowledge, files.split, tweets, report) if files.knowledge else None
    captions = read_caption_tables(files.captions, report) if files.captions else None
    xml_files, mask_files = FileDigest(), FileDigest()
    for tweet in tweets:
        example = new_example(tweet)
        image = attach_image(example, files.image_dir, report) if files.image_dir else None
        xml = attach_boxes(example, files.xml_dir, image, report, xml_files) if files.xml_dir else None
        mask = attach_masks(example, files.mask_dir, image or xml, report, mask_files) if files.mask_dir else None
        attach_size(example, image or xml or mask)
        if knowledge is not None:
            example["knowledge"] = knowledge.get(tweet.id)
        if captions is not None:
            attach_captions(example, captions, files.conll, tweet.line, report)
        yield example
    xml_files.record(report, files.xml_dir, files.split)
    mask_files.record(report, files.mask_dir, files.split)


def iter_examples(sources: Sources, split: str, report: QuirkReport) -> Iterator[dict[str, Any]]:
    """Stream the examples of one split of ``sources`` (:func:`split_files` then :func:`generate_examples`)."""
    return generate_examples(split_files(sources, split), report)


# --- the sources of an example, one helper each ---


def new_example(tweet: ConllTweet) -> dict[str, Any]:
    """The example of a tweet: its tokens, tags and entities, nothing attached yet."""
    return {
        "id": tweet.id,
        "tokens": tweet.tokens,
        "ner_tags": tweet.tags,
        "image": None,
        "image_id": f"{tweet.id}.jpg",
        "width": None,
        "height": None,
        "entities": [
            {
                "start": s,
                "end": e,
                "text": " ".join(tweet.tokens[s:e]),
                "type": t,
                "groundable": False,
                "boxes": [],
                "masks": [],
            }
            for s, e, t in tweet.spans
        ],
    }


def attach_image(example: dict, image_dir: Path, report: QuirkReport) -> Size | None:
    """The image (by path) and its size, decoded once: a damaged or oversized image is an error."""
    image_file = image_dir / example["image_id"]
    if not present(image_file):
        report.add("missing-image", image_file, None, f"no image for tweet {example['id']}")
        return None
    size = image_size(image_file)
    example["image"] = {"path": str(image_file), "bytes": None}
    return size


def attach_boxes(
    example: dict, xml_dir: Path, image: Size | None, report: QuirkReport, digest: FileDigest
) -> Size | None:
    """The VOC boxes of each entity (by ``<name>``, checked against the image), and the ``<size>``."""
    xml_file = xml_dir / f"{example['id']}.xml"
    if not present(xml_file):
        return None
    voc = read_voc(xml_file, report, image_size=image)
    digest.add(xml_file)
    boxes: dict[str, list] = {}
    for obj in voc.objects:
        boxes.setdefault(obj.name, []).append(obj.box)
    _attach_regions(example, "boxes", boxes, xml_file, "xml-unmatched-name", report, "<object> name")
    if voc.width is None:
        report.add("xml-size", xml_file, None, "no usable <size>")
        return None
    size = (voc.width, voc.height)
    if image and size != image:
        report.add("xml-size", xml_file, None, f"<size> {size} but image is {image}")
    return size


def attach_masks(
    example: dict, mask_dir: Path, known: Size | None, report: QuirkReport, digest: FileDigest
) -> Size | None:
    """The labelme masks of each entity (by ``label``); the labelme size must equal ``known`` (the image's,
    else the VOC size), checked before any drawing."""
    mask_file = mask_dir / f"{example['id']}.json"
    if not present(mask_file):
        return None
    ann = read_labelme(mask_file, report, expected_size=known)
    digest.add(mask_file)
    _attach_regions(example, "masks", ann.masks, mask_file, "mask-unmatched-label", report, "shape label")
    return (ann.width, ann.height)


def attach_size(example: dict, size: Size | None) -> None:
    """Width and height (the image's, else the VOC's, else the labelme's); the groundable flags."""
    example["width"], example["height"] = size if size else (None, None)
    for e in example["entities"]:
        e["groundable"] = bool(e["boxes"] or e["masks"])


def attach_captions(example: dict, tables: tuple[dict, dict], conll: Path, line: int, report: QuirkReport) -> None:
    """The BLIP-2 caption and the mPLUG-Owl description of the tweet's image (None where a table lacks it)."""
    for key, table in zip(("caption", "description"), tables, strict=True):
        example[key] = table.get(example["id"])
        if table and example[key] is None:
            report.add("missing-caption", conll, line, f"no {key} for image {example['image_id']}")


def _attach_regions(
    example: dict, key: str, by_label: dict[str, list], file: Path, kind: str, report: QuirkReport, what: str
) -> None:
    texts = {e["text"] for e in example["entities"]}
    for label, items in by_label.items():
        if label not in texts:
            report.add(kind, file, None, f"{what} {label!r} ({len(items)}) matches no entity of the tweet")
    for e in example["entities"]:
        e[key] = list(by_label.get(e["text"], []))


# --- sources read once per split ---


def read_aligned_knowledge(release: Path, split: str, tweets: list[ConllTweet], report: QuirkReport) -> dict[str, str]:
    """Tweet id -> knowledge text of the split's file of the release, aligned by tokens."""
    name, records = read_knowledge(release, split, report)
    knowledge = align_knowledge([(t.id, t.tokens, t.tags) for t in tweets], records, file=name, report=report)
    record_checksum(report, release if release.is_file() else Path(name))  # the zip, or the file
    return knowledge


def read_caption_tables(files: tuple[Path, ...], report: QuirkReport) -> tuple[dict[str, str], dict[str, str]]:
    """(captions, descriptions) by image id, from the caption files."""
    tables = read_captions(files, report)
    for f in files:
        record_checksum(report, f)
    return tables


def record_checksum(report: QuirkReport, path: Path) -> None:
    report.checksums[str(path)] = sha256_file(path)


@dataclass
class FileDigest:
    """A combined SHA-256 over many small files (the XML or labelme files a split used)."""

    digest: Any = field(default_factory=hashlib.sha256)
    count: int = 0

    def add(self, path: Path) -> None:
        self.digest.update(path.name.encode() + b"\0" + sha256_file(path).encode())
        self.count += 1

    def record(self, report: QuirkReport, folder: Path | None, split: str) -> None:
        if self.count:
            report.checksums[f"{folder} ({self.count} files of {split})"] = self.digest.hexdigest()
