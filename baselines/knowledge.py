"""Build PLIM's auxiliary knowledge for a whole split: MSEA examples, heuristic prompts, an LLM provider; and
write it as a knowledge release (the PGIM/RiVEG format) that the loaders and PLIM read."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.registry import DATASETS
from smner_bench.benchmark.safe_output import atomic_folder, write_bytes
from smner_bench.benchmark.tags import TAG_NAMES
from smner_bench.loaders.knowledge import knowledge_text

from .msea import Example, feature_text, heuristic_prompt, normalized_text, rank
from .providers.llm import Request

log = logging.getLogger(__name__)

RELEASE_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
HELD_OUT = ("validation", "test")  # the evaluated splits: none of their tweets is ever an in-context example


def manual_examples(manual, texts: Mapping[str, str], images: Mapping[str, str]) -> list[Example]:
    """In-context examples from manual annotations (``read_manual_annotations``): the tweet's text and image
    description looked up by id; annotations without analysis, text or image description are left out."""
    return [
        Example(texts[m.id], images[m.id], m.analysis, m.id)
        for m in manual
        if m.analysis and m.id in texts and m.id in images
    ]


@dataclass
class ExamplePool:
    """The MSEA example pool and how it was made (every count is reported by the commands)."""

    examples: list[Example]
    annotations: int = 0  # manual annotations with a written analysis, all folders together
    without_text: list[str] = field(default_factory=list)  # ids found in no --manual-data / dataset split file
    without_image: list[str] = field(default_factory=list)  # ids with no caption or description
    held_out: dict[str, list[str]] = field(default_factory=dict)  # split -> annotation ids that are its tweets
    by_text: list[tuple[str, str, str]] = field(default_factory=list)  # (annotation id, split, tweet id): text only

    def summary(self) -> str:
        held = len({i for ids in self.held_out.values() for i in ids})
        splits = ", ".join(f"{len(ids)} of {split}" for split, ids in self.held_out.items())
        return (
            f"MSEA example pool: {len(self.examples)} of {self.annotations} manual annotations; held out {held} "
            f"tweets of the evaluated splits ({splits or 'none'}; {len(self.by_text)} matched by text only, under "
            f"another id); without text: {len(self.without_text)}; without image caption: {len(self.without_image)}"
        )


def _split_texts(data_dir: str | os.PathLike, splits: Sequence[str]) -> dict[str, dict[str, str]]:
    """``{split: {tweet id: text}}`` of the split files present in a release folder (read directly: no cache)."""
    from smner_bench.loaders import read_conll
    from smner_bench.loaders.configs import split_file

    if not Path(data_dir).is_dir():
        raise MissingDataError("data folder not found", file=data_dir)
    out = {}
    for split in splits:
        try:
            path = split_file(data_dir, split)
        except MissingDataError:
            continue
        out[split] = {t.id: " ".join(t.tokens) for t in read_conll(path)}
    return out


def parse_manual_data(spec: str) -> tuple[str, str]:
    """``CONFIG:FOLDER`` -> ``(config, folder)``; a usage error otherwise."""
    config, sep, folder = spec.partition(":")
    if not sep or not folder or config not in DATASETS:
        raise UsageError(f"manual data {spec[:80]!r}: expected CONFIG:FOLDER with CONFIG one of {', '.join(DATASETS)}")
    return config, folder


def example_pool(
    manual: Sequence[str | os.PathLike],
    manual_data: Sequence[str],
    images: Mapping[str, str],
    *,
    data_dir: str | os.PathLike,
    held_out: Sequence[str] = HELD_OUT,
) -> ExamplePool:
    """The one MSEA example pool of a dataset, used by ``baseline knowledge`` and the runner alike.

    Every manual annotation of the ``manual`` folders (with a written analysis) whose text is found in a split
    file of a ``manual_data`` release (``CONFIG:FOLDER``, in the order given, every split), else of the evaluated
    release ``data_dir``, and whose image caption is in ``images``, minus every annotation that is a tweet of a
    ``held_out`` split of ``data_dir``, by id or by :func:`~.msea.normalized_text` (the same tweet can have
    other ids in other datasets). It does not depend on the split being prompted nor on sharding; the prompted
    tweet itself is left out later, per tweet (:func:`msea_prompts`)."""
    from smner_bench.loaders import read_manual_annotations

    evaluated = _split_texts(data_dir, ("train", *held_out))
    texts: dict[str, str] = {}
    for spec in manual_data:
        _, folder = parse_manual_data(spec)
        found = _split_texts(folder, ("train", "validation", "test"))
        if not found:
            raise MissingDataError("no split file (train.txt, dev.txt, valid.txt, test.txt) here", file=folder)
        for split_texts in found.values():
            for tweet_id, text in split_texts.items():
                texts.setdefault(tweet_id, text)
    for split_texts in evaluated.values():
        for tweet_id, text in split_texts.items():
            texts.setdefault(tweet_id, text)
    pool = ExamplePool([], held_out={split: [] for split in held_out if split in evaluated})
    annotations = [m for folder in manual for m in read_manual_annotations(folder) if m.analysis]
    pool.annotations = len(annotations)
    by_id = {split: set(evaluated[split]) for split in pool.held_out}
    by_norm: dict[str, dict[str, str]] = {split: {} for split in pool.held_out}
    for split in pool.held_out:
        for tweet_id, text in evaluated[split].items():
            key = normalized_text(text)
            if key:
                by_norm[split].setdefault(key, tweet_id)
    seen: set[str] = set()
    for m in annotations:
        if m.id in seen:  # the same tweet annotated in two folders: the first analysis is kept
            continue
        seen.add(m.id)
        if m.id not in texts:
            pool.without_text.append(m.id)
            continue
        if not images.get(m.id):
            pool.without_image.append(m.id)
            continue
        key = normalized_text(texts[m.id])
        splits = [s for s in pool.held_out if m.id in by_id[s] or (key and key in by_norm[s])]
        for split in splits:
            pool.held_out[split].append(m.id)
            if m.id not in by_id[split]:
                pool.by_text.append((m.id, split, by_norm[split][key]))
        if splits:
            continue
        pool.examples.append(Example(texts[m.id], images[m.id], m.analysis, m.id))
    if annotations and not pool.examples and len(pool.without_text) == len(seen):
        raise UsageError(
            f"none of the {len(seen)} manual annotations has a text: give --manual-data CONFIG:FOLDER of the "
            "datasets whose tweets they annotate (manual_data in a run file), e.g. twitter2015:DATA/twitter2015"
        )
    return pool


def example_features(
    encoder,
    examples: Sequence[Example],
    store: str | os.PathLike | None = None,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> np.ndarray:
    """MSEA features of the in-context examples, computed once and kept in ``store`` (an ``.npz`` keyed by the
    encoder and the examples' texts, recomputed when either changes)."""
    texts = [feature_text(e.text, e.image) for e in examples]
    key = hashlib.sha256("\0".join([encoder.name, *texts]).encode()).hexdigest()
    if store is not None and Path(store).is_file():
        try:  # the command's own file: anything else is refused, never replaced
            with np.load(store, allow_pickle=False) as saved:
                same, features = str(saved["key"]) == key, saved["features"]
            if same and (features.ndim != 2 or len(features) != len(texts) or features.dtype.kind != "f"):
                raise ValueError("features of another shape")
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            raise DataFormatError(
                "not an MSEA features file of this command (an .npz of key and features): delete it to compute "
                "them again",
                file=store,
            ) from None
        if same:
            return features
    features = encoder.encode(texts)
    if store is not None:
        buffer = io.BytesIO()
        np.savez(buffer, key=key, features=features)
        write_bytes(store, buffer.getvalue(), inputs=inputs)  # the folder must exist
    return features


@dataclass(frozen=True)
class MseaPrompt:
    id: str  # the prompted tweet
    examples: list[str]  # the in-context examples' tweet ids, most similar first
    prompt: str

    @property
    def request(self) -> Request:
        """The LLM request of this prompt, keyed by tweet id."""
        return Request(self.prompt, key=self.id)


def msea_prompts(
    rows: Sequence[Mapping],
    images: Mapping[str, str],
    examples: Sequence[Example],
    encoder,
    n: int = 5,
    annotated: np.ndarray | None = None,
) -> list[MseaPrompt]:
    """One heuristic prompt per tweet with its ``n`` most similar examples (MSEA), never the tweet itself (same
    id or same normalised text); ``annotated`` are the examples' features when computed beforehand
    (:func:`example_features`). Each tweet is encoded alone, so a prompt does not depend on the other rows
    (sharding). A warning is logged when a tweet gets fewer than ``n`` examples."""
    texts = [" ".join(r["tokens"]) for r in rows]
    if examples and n and rows:
        if annotated is None:
            annotated = example_features(encoder, examples)
        features = np.concatenate(
            [encoder.encode([feature_text(t, images.get(r["id"]))]) for t, r in zip(texts, rows, strict=True)]
        ).astype(np.float64)
        ids = np.array([e.id for e in examples])
        keys = [normalized_text(e.text) for e in examples]
        excluded = np.zeros((len(rows), len(examples)), dtype=bool)
        for i, (r, t) in enumerate(zip(rows, texts, strict=True)):
            key = normalized_text(t)
            excluded[i] = (ids == r["id"]) | np.array([bool(key) and k == key for k in keys])
        chosen = rank(features, np.asarray(annotated, dtype=np.float64), n, excluded)
    else:
        chosen = [[] for _ in rows]
    short = sum(len(c) < n for c in chosen)
    if rows and len(examples) < n:
        log.warning("the MSEA example pool has %d examples, fewer than top-n %d", len(examples), n)
    elif short:
        log.warning(
            "MSEA: %d of %d tweets get fewer than top-n %d in-context examples (a pool of %d, less the tweet itself)",
            short,
            len(rows),
            n,
            len(examples),
        )
    return [
        MseaPrompt(
            r["id"],
            [examples[i].id for i in chosen[j]],
            heuristic_prompt([examples[i] for i in chosen[j]], texts[j], images.get(r["id"]) or ""),
        )
        for j, r in enumerate(rows)
    ]


@dataclass
class MseaPrompter:
    """MSEA made once for a dataset: the example pool, the feature encoder and the examples' features; then
    one heuristic prompt per tweet (:meth:`prompts`)."""

    pool: ExamplePool
    encoder: Any
    features: np.ndarray
    top_n: int = 5

    def prompts(self, rows: Sequence[Mapping], images: Mapping[str, str]) -> list[MseaPrompt]:
        return msea_prompts(rows, images, self.pool.examples, self.encoder, n=self.top_n, annotated=self.features)


def msea_prompter(
    encoder: str,
    manual: Sequence[str | os.PathLike],
    manual_data: Sequence[str],
    pool_images: Mapping[str, str],
    *,
    data_dir: str | os.PathLike,
    top_n: int = 5,
    device: str = "cpu",
    dtype: str | None = None,
    store: str | os.PathLike | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> MseaPrompter:
    """The pool (:func:`example_pool`), the ``encoder`` model and the pool's features (:func:`example_features`,
    kept in ``store`` when given): what ``baseline knowledge`` and the runner's knowledge stage both prompt with."""
    from .providers.encoder import Encoder

    pool = example_pool(manual, manual_data, pool_images, data_dir=data_dir)
    model = Encoder(encoder, device=device, dtype=dtype)
    return MseaPrompter(pool, model, example_features(model, pool.examples, store, inputs=inputs), top_n)


def build_knowledge(
    rows: Sequence[Mapping], images: Mapping[str, str], llm, prompter: MseaPrompter | None
) -> list[str]:
    """The knowledge of each tweet of ``rows``, in order: ``llm``'s answer to its MSEA prompt (``images``: the
    tweets' captions), or, with ``prompter`` None, the answer a replayed release holds for its id. The one
    builder of ``baseline knowledge`` (a split at a time) and the runner's knowledge stage (a shard)."""
    if prompter is None:
        return llm.generate([Request("", key=r["id"]) for r in rows])
    return llm.generate([p.request for p in prompter.prompts(rows, images)])


def write_release(
    folder: str | os.PathLike,
    splits: Mapping[str, Sequence[Mapping]],
    knowledge: Mapping[str, str],
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write ``labels.txt`` and one file per split: tokens and tags, ``<EOS>``, the knowledge one word per line
    tagged ``X``, a blank line (atomically: a temporary folder, then a rename)."""
    with atomic_folder(folder, "knowledge", inputs=inputs) as tmp:
        (tmp / "labels.txt").write_text("\n".join(TAG_NAMES) + "\n", encoding="utf-8")
        for split, rows in splits.items():
            records = [
                (
                    r["tokens"],
                    [TAG_NAMES[t] if isinstance(t, int) else t for t in r["ner_tags"]],
                    knowledge.get(r["id"], ""),
                )
                for r in rows
            ]
            (tmp / RELEASE_FILES[split]).write_text(knowledge_text(records), encoding="utf-8")
    return Path(folder)
