"""Build PLIM's auxiliary knowledge for a whole split: MSEA examples, heuristic prompts, an LLM provider; and
write it as a knowledge release (the PGIM/RiVEG format) that the loaders and PLIM read."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from smner_bench.benchmark.safe_output import atomic_folder, write_bytes
from smner_bench.benchmark.tags import TAG_NAMES

from .msea import Example, feature_text, heuristic_prompt, top_n
from .providers.llm import Request

RELEASE_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}


def manual_examples(manual, texts: Mapping[str, str], images: Mapping[str, str]) -> list[Example]:
    """In-context examples from manual annotations (``read_manual_annotations``): the tweet's text and image
    description looked up by id; annotations without analysis, text or image description are left out."""
    return [
        Example(texts[m.id], images[m.id], m.analysis)
        for m in manual
        if m.analysis and m.id in texts and m.id in images
    ]


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
        saved = np.load(store)
        if str(saved["key"]) == key:
            return saved["features"]
    features = encoder.encode(texts)
    if store is not None:
        buffer = io.BytesIO()
        np.savez(buffer, key=key, features=features)
        write_bytes(store, buffer.getvalue(), inputs=inputs)  # the folder must exist
    return features


def build_prompts(
    rows: Sequence[Mapping],
    images: Mapping[str, str],
    examples: Sequence[Example],
    encoder,
    n: int = 5,
    annotated: np.ndarray | None = None,
) -> list[Request]:
    """One heuristic prompt per tweet with its ``n`` most similar examples (MSEA); ``annotated`` are the
    examples' features when computed beforehand (:func:`example_features`)."""
    if annotated is None:
        annotated = example_features(encoder, examples)
    texts = [" ".join(r["tokens"]) for r in rows]
    features = encoder.encode([feature_text(t, images.get(r["id"])) for t, r in zip(texts, rows, strict=True)])
    chosen = top_n(features, annotated, n)
    return [
        Request(heuristic_prompt([examples[i] for i in chosen[j]], texts[j], images.get(r["id"]) or ""), key=r["id"])
        for j, r in enumerate(rows)
    ]


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
            lines = []
            for r in rows:
                tags = [TAG_NAMES[t] if isinstance(t, int) else t for t in r["ner_tags"]]
                lines += [f"{tok}\t{tag}" for tok, tag in zip(r["tokens"], tags, strict=True)]
                lines.append("<EOS>\tX")
                lines += [f"{w}\tX" for w in knowledge.get(r["id"], "").split()]
                lines.append("")
            (tmp / RELEASE_FILES[split]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(folder)
