"""Joins the raw readers into data-model examples: CoNLL tweets + VOC boxes + labelme masks + images +
knowledge + captions. Pure Python; the ``datasets`` builder streams what :func:`iter_examples` yields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smner_bench.benchmark.errors import MissingDataError

from .captions import read_captions
from .configs import DatasetInfo, split_file
from .conll import ConllTweet, read_conll
from .knowledge import align_knowledge, read_knowledge
from .labelme import read_labelme
from .rawfile import image_size, present
from .report import Report, sha256_file
from .voc import read_voc


@dataclass
class Sources:
    """Where one dataset build reads from. Paths are absolute."""

    info: DatasetInfo
    data_dir: Path
    image_dir: Path | None = None
    knowledge: Path | None = None
    captions: tuple[Path, ...] = ()
    mask_dir: Path | None = None  # default: <data_dir>/masks for configs with masks
    _caption_cache: tuple[dict[str, str], dict[str, str], Report] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.info.masks and self.mask_dir is None:
            self.mask_dir = self.data_dir / "masks"
        self.check()

    def check(self) -> None:
        """Fail at once, with the path, when a folder or file that was named does not exist."""
        if not self.data_dir.is_dir():
            raise MissingDataError("data folder not found", file=self.data_dir)
        if self.image_dir is not None and not self.image_dir.is_dir():
            raise MissingDataError("image folder not found", file=self.image_dir)
        if self.knowledge is not None and not self.knowledge.exists():
            raise MissingDataError("knowledge release not found", file=self.knowledge)
        for p in self.captions:
            if not p.exists():
                raise MissingDataError("caption file or folder not found", file=p)
        if self.mask_dir is not None and not self.mask_dir.is_dir():
            raise MissingDataError(
                f"mask folder not found ({self.info.name} reads labelme JSON from <data dir>/masks)",
                file=self.mask_dir,
            )

    @property
    def optional_fields(self) -> tuple[str, ...]:
        fields: tuple[str, ...] = ("knowledge",) if self.knowledge else ()
        return fields + (("caption", "description") if self.captions else ())

    def caption_maps(self, report: Report | None = None) -> tuple[dict[str, str], dict[str, str]]:
        """The caption files, read once; their quirks (a byte-order mark) go to every split's report."""
        if self._caption_cache is None:
            own = Report()
            self._caption_cache = (*read_captions(list(self.captions), own), own)
        captions, descriptions, own = self._caption_cache
        if report is not None:
            report.quirks.extend(own.quirks)
        return captions, descriptions


def _entities(tweet: ConllTweet) -> list[dict[str, Any]]:
    return [
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
    ]


def _attach(
    entities: list[dict], key: str, by_label: dict[str, list], file: Path, kind: str, report: Report, what: str
) -> None:
    texts = {e["text"] for e in entities}
    for label, items in by_label.items():
        if label not in texts:
            report.add(kind, file, None, f"{what} {label!r} ({len(items)}) matches no entity of the tweet")
    for e in entities:
        e[key] = list(by_label.get(e["text"], []))


class _Digest:
    """A combined SHA-256 over many small files (the XML or labelme files a split used)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.count = 0

    def add(self, path: Path) -> None:
        self.digest.update(path.name.encode() + b"\0" + sha256_file(path).encode())
        self.count += 1


def iter_examples(sources: Sources, split: str, report: Report) -> Iterator[dict[str, Any]]:
    """Stream the examples of one split in file order; quirks and checksums go to ``report``."""
    conll = split_file(sources.data_dir, split)
    tweets = read_conll(conll, report)  # checks that it is a regular file of bounded size first
    report.checksums[str(conll)] = sha256_file(conll)

    knowledge: dict[str, str] = {}
    if sources.knowledge is not None:
        name, records = read_knowledge(sources.knowledge, split, report)
        knowledge = align_knowledge([(t.id, t.tokens, t.tags) for t in tweets], records, file=name, report=report)
        read_from = sources.knowledge if sources.knowledge.is_file() else Path(name)  # the zip, or the file
        report.checksums[str(read_from)] = sha256_file(read_from)
    captions, descriptions = sources.caption_maps(report) if sources.captions else ({}, {})
    for p in sources.captions:
        for f in sorted(p.glob("*.txt")) if p.is_dir() else [p]:
            report.checksums[str(f)] = sha256_file(f)

    xml_dir = sources.data_dir / "xml"
    if sources.info.boxes and not xml_dir.is_dir():
        raise MissingDataError(f"{sources.info.name} needs the VOC boxes in <data dir>/xml", file=xml_dir)
    xml_digest, mask_digest = _Digest(), _Digest()

    for tweet in tweets:
        entities = _entities(tweet)
        size_xml = size_mask = size_image = None
        image = None
        if sources.image_dir is not None:
            image_file = sources.image_dir / f"{tweet.id}.jpg"
            if present(image_file):
                size_image = image_size(image_file)  # decoded once: a damaged or oversized image is an error
                image = {"path": str(image_file), "bytes": None}
            else:
                report.add("missing-image", image_file, None, f"no image for tweet {tweet.id}")
        if sources.info.boxes:
            xml_file = xml_dir / f"{tweet.id}.xml"
            if present(xml_file):
                voc = read_voc(xml_file, report, image_size=size_image)  # boxes checked against the image
                xml_digest.add(xml_file)
                boxes: dict[str, list] = {}
                for obj in voc.objects:
                    boxes.setdefault(obj.name, []).append(obj.box)
                _attach(entities, "boxes", boxes, xml_file, "xml-unmatched-name", report, "<object> name")
                if voc.width is None:
                    report.add("xml-size", xml_file, None, "no usable <size>")
                else:
                    size_xml = (voc.width, voc.height)
                    if size_image and size_xml != size_image:
                        report.add("xml-size", xml_file, None, f"<size> {size_xml} but image is {size_image}")
        if sources.mask_dir is not None:
            mask_file = sources.mask_dir / f"{tweet.id}.json"
            if present(mask_file):
                # the labelme size must equal the image's (else the VOC size): checked before any drawing
                ann = read_labelme(mask_file, report, expected_size=size_image or size_xml)
                mask_digest.add(mask_file)
                _attach(entities, "masks", ann.masks, mask_file, "mask-unmatched-label", report, "shape label")
                size_mask = (ann.width, ann.height)
        size = size_image or size_xml or size_mask
        for e in entities:
            e["groundable"] = bool(e["boxes"] or e["masks"])
        example: dict[str, Any] = {
            "id": tweet.id,
            "tokens": tweet.tokens,
            "ner_tags": tweet.tags,
            "image": image,
            "image_id": f"{tweet.id}.jpg",
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "entities": entities,
        }
        if sources.knowledge is not None:
            example["knowledge"] = knowledge.get(tweet.id)
        if sources.captions:
            example["caption"] = captions.get(tweet.id)
            example["description"] = descriptions.get(tweet.id)
            for key, table in (("caption", captions), ("description", descriptions)):
                if table and example[key] is None:
                    report.add("missing-caption", conll, tweet.line, f"no {key} for image {tweet.id}.jpg")
        yield example

    if xml_digest.count:
        report.checksums[f"{xml_dir} ({xml_digest.count} files of {split})"] = xml_digest.digest.hexdigest()
    if mask_digest.count:
        report.checksums[f"{sources.mask_dir} ({mask_digest.count} files of {split})"] = mask_digest.digest.hexdigest()
