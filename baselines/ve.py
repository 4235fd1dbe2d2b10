"""Visual entailment (paper section IV-C-1): is the entity in the tweet's image? An image-text matching model
(BLIP's ITM head, ``BlipForImageTextRetrieval``; any ``from_pretrained`` path) scores (image, referring
expression); entail = groundable, contradict = not. The decision threshold is the one with the best dev accuracy.

Each image is encoded once for all its entities: the vision tower runs per image, the text encoder
cross-attends to that embedding for every expression of the image.

Steps: ``ve_items`` (the GMNER VE set from the loaders) -> ``train_matcher`` (fine-tuning, threshold on dev,
saved with ``ve.json``) -> ``ImageTextMatcher.scores``. ``train(VeConfig(...))`` runs the training steps as
``smner-bench baseline ve-train`` does.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.io import json_lines

from .decision import best_threshold, evaluate
from .dtype import load_kwargs, to_numpy
from .images import ImageCache, image_file, per_image
from .loading import from_pretrained, read_text_file
from .metadata import VEMeta, read_optional_meta
from .training import (
    Objective,
    TrainerConfig,
    finishing,
    fit_recipe,
    make_accelerator,
    run_facts,
    save_fine_tuned,
    set_seed,
)


@dataclass(frozen=True)
class VEItem:
    image_id: str
    expression: str
    label: int  # 1 = entail (groundable)


def expression(text: str, kind: str) -> str:
    """The expression of a gold entity when no LLM expansion is at hand: ``"Garfield Park (LOC)"``."""
    return f"{text} ({kind})"


def read_expressions(paths: Sequence[str | os.PathLike]) -> dict[tuple[str, int, int], str]:
    """Referring expressions by (tweet id, start, end) from ``baseline expand`` outputs (``expressions``: the
    first LLM's) or the runner's ``expressions.jsonl`` (``expression``); later files fill what earlier lack."""
    out: dict = {}
    for _, found in reversed(read_expression_sets(paths)):
        out.update(found)
    return out


def read_expression_sets(
    paths: Sequence[str | os.PathLike], *, every_llm: bool = False
) -> list[tuple[dict, dict[tuple[str, int, int], str]]]:
    """One set of expressions per file (with ``every_llm``: per LLM of each ``baseline expand`` file), each
    with its source ``{"file": name, "llm": spec or None}``: the paper's augmented training data keeps each
    LLM's expression of an entity as a separate example."""
    out = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise MissingDataError("expressions file not found", file=path)
        sets: dict = {}
        expected = "expected {id, entities: [{start, end, expression | expressions}]}"
        for n, line in json_lines(read_text_file(path, "expressions file"), file=path, hint=f": {expected}"):
            try:
                for e in line["entities"]:
                    if e.get("expression"):
                        found = {None: e["expression"]}
                    else:
                        found = dict(e["expressions"]) if every_llm else dict([next(iter(e["expressions"].items()))])
                    for llm, text in found.items():
                        if not isinstance(text, str):
                            raise TypeError
                        sets.setdefault(llm, {})[(line["id"], e["start"], e["end"])] = text
            except (ValueError, KeyError, TypeError, StopIteration, AttributeError):
                raise DataFormatError(expected, file=path, line=n) from None
        out += [({"file": path.name, "llm": llm}, found) for llm, found in sets.items()]
    return out


def llm_identity(spec: str | None) -> str | tuple | None:
    """What makes two LLM specs the same model: ``transformers:``/``replay:`` paths compared as real paths (a run
    file's spec is resolved against its folder, ``expand``'s as typed in the current folder), others as written.

    >>> llm_identity("transformers:a/../b") == llm_identity("transformers:b")
    True
    """
    kind, sep, rest = (spec or "").partition(":")
    if sep and kind in ("transformers", "replay"):
        return (kind, tuple(os.path.realpath(p) for p in rest.split(",")))
    return spec


def sources_note(trained: Sequence[dict] | None, used: str | None, what: str) -> str | None:
    """A warning when the expressions at inference (``used``: the LLM spec, ``None`` = ``"Entity (TYPE)"``)
    are not from a source the checkpoint was trained on (``trained``: its metadata's ``expressions``)."""
    if trained is None:
        return None
    llms = {llm_identity(s.get("llm")) for s in trained}
    if llm_identity(used) in llms or (not trained and used is None):
        return None
    names = ", ".join(sorted(str(s.get("llm") or "Entity (TYPE)") for s in trained)) or "Entity (TYPE)"
    return (
        f"{what} was trained on expressions from {names}, this run's come from {used or 'Entity (TYPE)'}: "
        "scores may be off (train on this source too: --expressions)"
    )


def entity_expression(row, e, expressions: Mapping[tuple[str, int, int], str] | None) -> str:
    """The LLM expression of a gold entity when given, else ``"Entity (TYPE)"``."""
    return (expressions or {}).get((row["id"], e["start"], e["end"])) or expression(e["text"], e["type"])


def with_caption(caption: str | None, text: str) -> str:
    """The VE text when the caption is part of the input (as the authors' OFA VE saw it): ``"caption. expression"``.

    >>> with_caption("A man on a stage.", "Bono (PER) - a singer")
    'A man on a stage. Bono (PER) - a singer'
    """
    caption = (caption or "").strip()
    return f"{caption.rstrip('.')}. {text}" if caption else text


def ve_items(
    rows, images: str | os.PathLike, expressions: Mapping | None = None, captions: Mapping[str, str] | None = None
) -> list[VEItem]:
    """One item per gold entity of the tweets whose image is in ``images`` (the others cannot be judged); with
    ``captions`` (by tweet id) the text is ``"caption. expression"``."""
    return [
        VEItem(
            r["image_id"],
            with_caption(captions.get(r["id"]), entity_expression(r, e, expressions))
            if captions is not None
            else entity_expression(r, e, expressions),
            int(e["groundable"]),
        )
        for r in rows
        if image_file(images, r["image_id"]).is_file()
        for e in r["entities"]
    ]


# The authors' OFA-large VE recipe (VE/train_twitter10000.sh and the paper, section V-A: lr 2e-5, 6 epochs, 4 x 8
# accumulated = 32, warmup 6 %, polynomial (linear) decay, weight decay 0.2, gradient norm 1.0, the best dev
# checkpoint). ``batch`` counts images, each with all its entities.
PRESETS: dict[str, dict] = {
    "paper": {
        "epochs": 6,
        "lr": 2e-5,
        "batch": 4,
        "grad_accum": 8,
        "warmup_ratio": 0.06,
        "schedule": "linear",
        "weight_decay": 0.2,
        "clip": 1.0,
        "keep_best": True,
    }
}


class VeConfig(TrainerConfig):
    """A visual entailment training run: everything ``baseline ve-train`` does, one field per option (``batch`` is
    ``--images-per-batch``, ``caption`` is ``--ve-caption``); the defaults are the command's, ``preset="paper"``
    the authors' recipe under the fields given."""

    PRESETS: ClassVar[dict[str, dict]] = PRESETS

    epochs: int = Field(1, ge=1, description="training epochs")
    lr: float = Field(2e-5, gt=0, description="AdamW's learning rate")
    batch: int = Field(8, ge=1, description="images per batch (each with all its entities), per process")
    weight_decay: float = Field(0.01, ge=0)
    clip: float = Field(1.0, gt=0, description="gradient norm clipping")
    caption: bool = Field(False, description='the text is "caption. expression" (the authors\' VE input)')
    captions: list[str] = Field(default_factory=list, description="caption files or folders (with caption)")

    def inputs(self) -> list[str]:
        return [*super().inputs(), *self.captions]

    def check(self) -> VeConfig:
        if self.caption and not self.captions:
            raise UsageError("--ve-caption needs --captions (the caption files of the training and dev tweets)")
        return self


def by_image(items: Sequence[VEItem]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[item.image_id].append(i)
    return dict(groups)


class ImageTextMatcher:
    """BLIP ITM with its processor. ``logits`` is the shared forward (training and inference); the model is
    loaded in ``dtype`` (fp32, bf16, fp16; training loads fp32 and uses mixed precision), pixels follow it, scores are
    float32."""

    def __init__(
        self,
        path: str | os.PathLike | None,
        *,
        device: str = "cpu",
        dtype: str | None = "fp32",
        max_length: int = 64,
        model=None,
        processor=None,
    ) -> None:
        from transformers import AutoProcessor, BlipForImageTextRetrieval

        self.path = str(path)
        self.processor = processor or from_pretrained(AutoProcessor, path, "image-text matching model")
        self.model = (
            (
                model
                or from_pretrained(
                    BlipForImageTextRetrieval, path, "image-text matching model", **load_kwargs(dtype, device)
                )
            )
            .to(device)
            .eval()
        )
        self.device, self.max_length = device, max_length
        self.meta = read_optional_meta(path, "ve.json", VEMeta)  # checked: {} for a base model
        self.threshold = float(self.meta.get("threshold", 0.5))

    def encode(self, images: Sequence, image_index: Sequence[int], texts: Sequence[str]) -> dict:
        """The model's inputs (CPU tensors): ``texts[k]`` is matched with ``images[image_index[k]]``."""
        return encode_pairs(self.processor, images, image_index, texts, self.max_length)

    def logits(self, images: Sequence, image_index: Sequence[int], texts: Sequence[str]) -> torch.Tensor:
        """(len(texts), 2) ITM logits; every image goes through the vision tower once."""
        batch = {k: v.to(self.device) for k, v in self.encode(images, image_index, texts).items()}
        return itm_logits(self.model, batch)

    def scores(self, image, texts: Sequence[str]) -> np.ndarray:
        """P(match) of each expression with one image (one vision pass)."""
        if not texts:
            return np.zeros(0)
        with torch.no_grad():
            logits = self.logits([image], [0] * len(texts), texts)
        return to_numpy(torch.softmax(logits.float(), dim=-1)[:, 1])

    def score_items(
        self, items: Sequence[VEItem], images: str | os.PathLike, progress: bool = False, workers: int = 0
    ) -> np.ndarray:
        """P(match) of every item, image by image (decoded ahead by ``workers`` processes)."""
        probs = np.zeros(len(items))
        groups = list(by_image(items).values())
        scored = per_image(
            groups,
            lambda idx: items[idx[0]].image_id,
            images,
            lambda image, idx: self.scores(image, [items[i].expression for i in idx]),
            workers=workers,
            desc="VE" if progress else None,
        )
        for idx, found in zip(groups, scored, strict=True):
            probs[idx] = found
        return probs


def encode_pairs(processor, images: Sequence, image_index: Sequence[int], texts: Sequence[str], max_length: int):
    """BLIP ITM inputs: ``pixel_values`` of the images, ``image_index`` (the image of each text) and the
    tokenized texts."""
    pixels = processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
    text = processor.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {
        "pixel_values": pixels,
        "image_index": torch.as_tensor(list(image_index), dtype=torch.long),
        "input_ids": text["input_ids"],
        "attention_mask": text["attention_mask"],
    }


def itm_logits(model, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The ITM head's logits of ``encode_pairs`` inputs (on the model's device): the vision tower runs once per
    image, the text encoder cross-attends to the embedding of each text's image."""
    dtype = model.vision_model.embeddings.patch_embedding.weight.dtype
    embeds = model.vision_model(pixel_values=batch["pixel_values"].to(dtype)).last_hidden_state
    embeds = embeds[batch["image_index"]]
    hidden = model.text_encoder(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        encoder_hidden_states=embeds,
        encoder_attention_mask=torch.ones(embeds.shape[:-1], dtype=torch.long, device=embeds.device),
    ).last_hidden_state
    return model.itm_head(hidden[:, 0, :])


def ve_loss(model, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the ITM logits against ``labels`` (1 = entail)."""
    return torch.nn.functional.cross_entropy(itm_logits(model, batch).float(), batch["labels"])


@dataclass
class VECollate:
    """A training batch from images with all their items (runs in DataLoader workers; images through a bounded
    cache)."""

    processor: object
    items: Sequence[VEItem]
    images: ImageCache
    max_length: int = 64

    def __call__(self, chunk: list[tuple[str, list[int]]]) -> dict:
        index = [k for k, (_, idx) in enumerate(chunk) for _ in idx]
        texts = [self.items[i].expression for _, idx in chunk for i in idx]
        batch = encode_pairs(
            self.processor, [self.images(image_id) for image_id, _ in chunk], index, texts, self.max_length
        )
        batch["labels"] = torch.tensor([self.items[i].label for _, idx in chunk for i in idx])
        return batch


def train(config: VeConfig, *, progress: bool = True, command: str | None = None) -> dict:
    """The whole of ``baseline ve-train``: the VE pairs of the dataset's train and dev splits (one training example
    per expression set, :func:`~.stage2_data.training_data`), then :func:`train_matcher`. Returns the run's
    metadata (``ve.json``; on the processes of a launcher but the main one, the history only)."""
    from .stage2_data import training_data

    train_items, dev_items, sources = training_data(config)
    return train_matcher(config, train_items, dev_items, sources=sources, progress=progress, command=command)


def train_matcher(
    config: VeConfig,
    train: Sequence[VEItem],
    dev: Sequence[VEItem],
    *,
    sources: Sequence[dict] = (),
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Fine-tune ``config.base``'s ITM head and encoders with cross-entropy on ``train`` (batches of images with all
    their items; ``mixed_precision="bf16"``: autocast, fp32 weights), choose the dev-accuracy threshold, save the
    model, processor and ``ve.json`` to ``config.out`` atomically. ``sources`` (the training expressions' sources)
    and ``config.caption`` (items made with captions) are recorded for inference."""
    base, images, workers = config.base, config.images, config.workers
    recipe = config.recipe()
    accelerator = make_accelerator(config.device, config.mixed_precision)
    set_seed(config.seed)
    matcher = ImageTextMatcher(base, device=accelerator.device, dtype="fp32")
    model = matcher.model
    groups = list(by_image(train).items())
    dev_labels = np.array([item.label for item in dev])

    def dev_accuracy() -> float:  # at the best threshold of this epoch
        probs = matcher.score_items(dev, images, workers=workers)
        return evaluate(probs, dev_labels, best_threshold(probs, dev_labels))["accuracy"]

    history = fit_recipe(
        accelerator,
        Objective(model, ve_loss),
        groups,
        VECollate(matcher.processor, train, ImageCache(images, config.image_cache_mb), matcher.max_length),
        config,
        weights=[len(idx) for _, idx in groups],  # the loss is a mean over items, not images
        desc="VE",
        progress=progress,
        evaluate=dev_accuracy,
    )
    with finishing(accelerator) as main:
        if not main:
            return {"history": history}
        dev_probs = matcher.score_items(dev, images, workers=workers)
        threshold = best_threshold(dev_probs, dev_labels)
        meta = {
            **({"command": command} if command else {}),
            "base": str(base),
            "threshold": threshold,
            **recipe,
            "images_per_batch": recipe["batch"],
            "expressions": list(sources),
            "caption": config.caption,
            **run_facts(accelerator, config.batch, config.grad_accum),
            "seed": config.seed,
            "train_items": len(train),
            "history": history,
            "dev": evaluate(dev_probs, dev_labels, threshold),
        }
        save_fine_tuned(config.out, model, matcher.processor, "ve.json", meta, inputs=config.inputs())
        return meta
