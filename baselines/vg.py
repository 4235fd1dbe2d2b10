"""Visual grounding (paper section IV-C-2): the top-1 box of each groundable entity's referring expression, with
Grounding DINO, loaded with ``AutoModelForZeroShotObjectDetection`` + ``AutoProcessor`` (any ``from_pretrained``
path: Grounding DINO and MM-Grounding-DINO checkpoints), in the dtype asked for (fp32, bf16, fp16).

Why Grounding DINO: it is the detector the paper's successors use for open-vocabulary grounding, transformers
ships it with its training loss (Hungarian matching over phrases), and one prompt holds several phrases, so
all the entities of an image are grounded in one forward pass. OWLv2 has no loss in transformers and
Florence-2 grounds one phrase per generation.

One forward per image: the prompt is ``"phrase one . phrase two ."``; Grounding DINO keeps the phrases apart
(its text attention stops at "." and "?"), each phrase's score for a query is the mean of its tokens' sigmoid
logits, the query with the best score gives the phrase's box. "." and "?" inside an expression are replaced
by spaces so they cannot split it. The phrase of each text token is found here from the tokenizer's own ids
of [CLS], [SEP], [PAD], "." and "?" (public API only; the model's training loss does the same internally).

Fine-tuning (``train_grounder``) uses the GMNER VG set: every groundable gold entity with its largest box (the
paper), all the entities of an image in one prompt. Dev accuracy: top-1 box with IoU >= 0.5 against any of
the entity's gold boxes. ``train(VgConfig(...))`` runs the training steps as ``smner-bench baseline vg-train``
does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from smner_bench.benchmark.errors import SmnerError
from smner_bench.benchmark.regions import box_ious

from .dtype import load_kwargs
from .images import ImageCache, image_file, per_image
from .loading import from_pretrained
from .metadata import FineTunedMeta, read_optional_meta
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
from .ve import entity_expression


@dataclass(frozen=True)
class VGImage:
    image_id: str
    phrases: tuple[str, ...]
    boxes: tuple[tuple[tuple[float, float, float, float], ...], ...]  # every gold box of each phrase, pixels xyxy


def largest_box(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """The box with the largest area (ties: the first)."""
    return tuple(max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])))


def clean_phrase(text: str) -> str:
    """``text`` without Grounding DINO's phrase delimiters ("." and "?"), spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"[.?]", " ", text)).strip() or "object"


def vg_images(rows, images: str | os.PathLike, expressions: Mapping | None = None) -> list[VGImage]:
    """The tweets with an image on disk and at least one groundable entity: expressions and gold boxes."""
    out = []
    for r in rows:
        grounded = [e for e in r["entities"] if e["boxes"]]
        if grounded and image_file(images, r["image_id"]).is_file():
            out.append(
                VGImage(
                    r["image_id"],
                    tuple(entity_expression(r, e, expressions) for e in grounded),
                    tuple(tuple(tuple(b) for b in e["boxes"]) for e in grounded),
                )
            )
    return out


def phrase_maps(input_ids: torch.Tensor, delimiters: Sequence[int], width: int) -> list[torch.Tensor]:
    """For each prompt of ``input_ids`` (batch, length): a (phrases, ``width``) 0/1 map of the tokens of each
    phrase, phrases being the runs of tokens between delimiters (special tokens, padding, "." and "?").

    >>> phrase_maps(torch.tensor([[101, 7, 8, 1012, 9, 1012, 102, 0]]), [0, 101, 102, 1012, 1029], 9)[0].tolist()
    [[0, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0]]
    """
    is_delimiter = torch.isin(input_ids, torch.as_tensor(list(delimiters), device=input_ids.device))
    groups = torch.cumsum(is_delimiter, dim=1) * (~is_delimiter)
    out = []
    for group in groups:
        labels = torch.unique(group[group > 0])
        m = (group.unsqueeze(0) == labels.unsqueeze(1)).long()
        out.append(torch.nn.functional.pad(m, (0, width - m.shape[1])))
    return out


def encode_prompts(processor, images: Sequence, prompts: Sequence[Sequence[str]], max_text: int, delimiters):
    """Grounding DINO inputs (``"phrase one . phrase two ."`` per image) and each prompt's phrase map; a prompt
    whose tokens do not split into its phrases is refused."""
    texts = [" . ".join(clean_phrase(p) for p in phrases) + " ." for phrases in prompts]
    batch = dict(
        processor(
            images=list(images), text=texts, padding=True, truncation=True, max_length=max_text, return_tensors="pt"
        )
    )
    maps = phrase_maps(batch["input_ids"], delimiters, batch["input_ids"].shape[1])
    for k, (phrases, m) in enumerate(zip(prompts, maps, strict=True)):
        if m.shape[0] != len(phrases):
            raise SmnerError(f"prompt {texts[k]!r}: {m.shape[0]} phrases after tokenization, not {len(phrases)}")
    return batch, maps


def vg_loss(model, batch: dict) -> torch.Tensor:
    """Grounding DINO's own training loss (Hungarian matching of queries to the phrases' boxes)."""
    inputs = {**batch["inputs"], "pixel_values": batch["inputs"]["pixel_values"].to(model.dtype)}
    return model(**inputs, labels=batch["labels"]).loss


@dataclass
class VGCollate:
    """A training batch from images with their phrases and boxes (runs in DataLoader workers; images through a
    bounded cache)."""

    processor: object
    images: ImageCache
    max_text: int
    delimiters: Sequence[int]

    def __call__(self, chunk: list[VGImage]) -> dict:
        ims = [self.images(item.image_id) for item in chunk]
        inputs, _ = encode_prompts(
            self.processor, ims, [item.phrases for item in chunk], self.max_text, self.delimiters
        )
        return {"inputs": inputs, "labels": [targets(item, im.size) for item, im in zip(chunk, ims, strict=True)]}


class Grounder:
    """A zero-shot object detector of the Grounding DINO family with its processor; ``forward`` is shared by
    training and inference."""

    def __init__(
        self,
        path: str | os.PathLike | None,
        *,
        device: str = "cpu",
        dtype: str | None = "fp32",
        model=None,
        processor=None,
    ) -> None:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.path = str(path)
        self.processor = processor or from_pretrained(AutoProcessor, path, "grounding model")
        self.model = (
            (
                model
                or from_pretrained(
                    AutoModelForZeroShotObjectDetection, path, "grounding model", **load_kwargs(dtype, device)
                )
            )
            .to(device)
            .eval()
        )
        self.device = device
        self.meta = read_optional_meta(path, "vg.json", FineTunedMeta)  # checked: {} for a base model
        tokenizer = self.processor.tokenizer
        config_len = getattr(self.model.config, "max_text_len", None) or 256
        self.max_text = min(config_len, tokenizer.model_max_length)
        specials = (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)
        self.delimiters = sorted(
            {i for i in (*specials, *tokenizer.convert_tokens_to_ids([".", "?"])) if i is not None}
            - {tokenizer.unk_token_id}
        )

    def chunks(self, phrases: Sequence[str]) -> list[list[int]]:
        """Indices of ``phrases`` packed greedily into prompts that fit the text length."""
        lengths = [len(self.processor.tokenizer.tokenize(clean_phrase(p))) + 1 for p in phrases]
        out, used = [[]], 2  # [CLS] and [SEP]
        for i, n in enumerate(lengths):
            if out[-1] and used + n > self.max_text:
                out.append([])
                used = 2
            out[-1].append(i)
            used += n
        return out

    def encode(self, images: Sequence, prompts: Sequence[Sequence[str]]) -> tuple[dict, list[torch.Tensor]]:
        """The model's inputs for images with their phrases (CPU tensors) and each prompt's phrase map."""
        return encode_prompts(self.processor, images, prompts, self.max_text, self.delimiters)

    def forward(self, images: Sequence, prompts: Sequence[Sequence[str]], labels: list[dict] | None = None):
        inputs, maps = self.encode(images, prompts)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        outputs = self.model(**inputs, labels=labels)
        width = outputs.logits.shape[-1]  # the model's text length (max_text_len)
        return outputs, [torch.nn.functional.pad(m, (0, width - m.shape[1])).to(self.device) for m in maps]

    def ground(self, image, phrases: Sequence[str]) -> list[tuple[list[float], float]]:
        """``(box [x1, y1, x2, y2] in pixels, score)`` of each phrase on one image."""
        w, h = image.size
        found: list = [None] * len(phrases)
        for chunk in self.chunks(phrases):
            with torch.no_grad():
                outputs, maps = self.forward([image], [[phrases[i] for i in chunk]])
            m = maps[0].float()  # (phrases, text length)
            probs = outputs.logits[0].float().sigmoid()  # (queries, text length), float32 whatever the dtype
            scores = (probs @ m.T) / m.sum(1).clamp(min=1)  # (queries, phrases)
            best = scores.argmax(0)
            for j, i in enumerate(chunk):
                cx, cy, bw, bh = outputs.pred_boxes[0, best[j]].float().tolist()
                box = [
                    max(0.0, (cx - bw / 2) * w),
                    max(0.0, (cy - bh / 2) * h),
                    min(float(w), (cx + bw / 2) * w),
                    min(float(h), (cy + bh / 2) * h),
                ]
                if box[2] <= box[0] or box[3] <= box[1]:  # degenerate: widen to one pixel inside the image
                    box = [
                        min(box[0], w - 1.0),
                        min(box[1], h - 1.0),
                        min(box[0], w - 1.0) + 1,
                        min(box[1], h - 1.0) + 1,
                    ]
                found[i] = ([round(v, 2) for v in box], float(scores[best[j], j]))
        return found


def targets(item: VGImage, size: tuple[int, int]) -> dict:
    """Grounding DINO labels: phrase k is class k; its largest box, normalised (cx, cy, w, h)."""
    w, h = size
    boxes = []
    for gold in item.boxes:
        x1, y1, x2, y2 = largest_box(gold)
        boxes.append([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h])
    return {
        "class_labels": torch.arange(len(item.phrases)),
        "boxes": torch.tensor(boxes, dtype=torch.float32).clamp(0, 1),
    }


def accuracy(grounder: Grounder, items: Sequence[VGImage], images: str | os.PathLike, workers: int = 0) -> dict:
    """Share of phrases whose top-1 box has IoU >= 0.5 with one of the entity's gold boxes (images decoded ahead
    by ``workers`` processes)."""
    hits = total = 0
    grounded = per_image(
        items,
        lambda item: item.image_id,
        images,
        lambda image, item: grounder.ground(image, item.phrases),
        workers=workers,
    )
    for item, found in zip(items, grounded, strict=True):
        for (box, _), gold in zip(found, item.boxes, strict=True):
            hits += bool((box_ious(box, np.array(gold)) >= 0.5).any())
            total += 1
    return {"accuracy_iou50": hits / max(1, total), "phrases": total, "images": len(items)}


# The authors' OFA-large REC recipe (VG/train_twitter10000REC.sh and the paper, section V-A: lr 3e-5, 10 epochs,
# 4 x 8 accumulated = 32, warmup 6 %, polynomial (linear) decay, weight decay 0.01, gradient norm 1.0, the best dev
# checkpoint). ``batch`` counts images.
PRESETS: dict[str, dict] = {
    "paper": {
        "epochs": 10,
        "lr": 3e-5,
        "batch": 4,
        "grad_accum": 8,
        "warmup_ratio": 0.06,
        "schedule": "linear",
        "weight_decay": 0.01,
        "clip": 1.0,
        "keep_best": True,
    }
}


class VgConfig(TrainerConfig):
    """A visual grounding training run: everything ``baseline vg-train`` does, one field per option (``batch`` is
    ``--batch-size``); the defaults are the command's, ``preset="paper"`` the authors' recipe under the fields
    given."""

    PRESETS: ClassVar[dict[str, dict]] = PRESETS

    epochs: int = Field(1, ge=1, description="training epochs")
    lr: float = Field(1e-5, gt=0, description="AdamW's learning rate")
    batch: int = Field(4, ge=1, description="images per batch, per process")
    weight_decay: float = Field(1e-4, ge=0)
    clip: float = Field(0.1, gt=0, description="gradient norm clipping")


def train(config: VgConfig, *, progress: bool = True, command: str | None = None) -> dict:
    """The whole of ``baseline vg-train``: the VG images of the dataset's train and dev splits (one training example
    per expression set, :func:`~.stage2_data.training_data`), then :func:`train_grounder`. Returns the run's
    metadata (``vg.json``; on the processes of a launcher but the main one, the history only)."""
    from .stage2_data import training_data

    train_images, dev_images, sources = training_data(config)
    return train_grounder(config, train_images, dev_images, sources=sources, progress=progress, command=command)


def train_grounder(
    config: VgConfig,
    train: Sequence[VGImage],
    dev: Sequence[VGImage],
    *,
    sources: Sequence[dict] = (),
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Fine-tune ``config.base`` on ``train`` (batches of images, each with its phrases; prompts too long for the
    text encoder are cut to the phrases that fit; ``mixed_precision="bf16"``: autocast, fp32 weights), report dev
    accuracy, save model + processor + ``vg.json`` to ``config.out`` atomically; ``sources``: the training
    expressions' sources, recorded for inference."""
    base, images, workers = config.base, config.images, config.workers
    recipe = config.recipe()
    accelerator = make_accelerator(config.device, config.mixed_precision)
    set_seed(config.seed)
    grounder = Grounder(base, device=accelerator.device, dtype="fp32")
    model = grounder.model
    cache, fitted = ImageCache(images, config.image_cache_mb), []
    for item in train:
        keep = grounder.chunks(item.phrases)[0]
        fitted.append(VGImage(item.image_id, tuple(item.phrases[i] for i in keep), tuple(item.boxes[i] for i in keep)))
    history = fit_recipe(
        accelerator,
        Objective(model, vg_loss),
        fitted,
        VGCollate(grounder.processor, cache, grounder.max_text, grounder.delimiters),
        config,
        desc="VG",
        progress=progress,
        evaluate=lambda: accuracy(grounder, dev, images, workers)["accuracy_iou50"],
    )
    with finishing(accelerator) as main:
        if not main:
            return {"history": history}
        meta = {
            **({"command": command} if command else {}),
            "base": str(base),
            **recipe,
            "batch_size": recipe["batch"],
            "expressions": list(sources),
            **run_facts(accelerator, config.batch, config.grad_accum),
            "seed": config.seed,
            "train_images": len(train),
            "history": history,
            "dev": accuracy(grounder, dev, images, workers),
        }
        save_fine_tuned(config.out, model, grounder.processor, "vg.json", meta, inputs=config.inputs())
        return meta
