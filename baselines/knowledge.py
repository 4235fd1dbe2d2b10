"""Build PLIM's auxiliary knowledge for a whole split: MSEA examples, heuristic prompts, an LLM provider; and
write it as a knowledge release (the PGIM/RiVEG format) that the loaders and PLIM read."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

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


def build_prompts(
    rows: Sequence[Mapping],
    images: Mapping[str, str],
    examples: Sequence[Example],
    encoder,
    n: int = 5,
    example_features=None,
) -> list[Request]:
    """One heuristic prompt per tweet with its ``n`` most similar examples (MSEA); ``example_features`` can be
    given when computed once beforehand."""
    if example_features is None:
        example_features = encoder.encode([feature_text(e.text, e.image) for e in examples])
    texts = [" ".join(r["tokens"]) for r in rows]
    features = encoder.encode([feature_text(t, images.get(r["id"])) for t, r in zip(texts, rows, strict=True)])
    chosen = top_n(features, example_features, n)
    return [
        Request(heuristic_prompt([examples[i] for i in chosen[j]], texts[j], images.get(r["id"]) or ""), key=r["id"])
        for j, r in enumerate(rows)
    ]


def write_release(
    folder: str | os.PathLike, splits: Mapping[str, Sequence[Mapping]], knowledge: Mapping[str, str]
) -> Path:
    """Write ``labels.txt`` and one file per split: tokens and tags, ``<EOS>``, the knowledge one word per line
    tagged ``X``, a blank line (atomically: a temporary folder, then a rename)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
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
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
