"""Caption VE (beyond the paper): is an entity in the image? Decided from text alone, by a cross-encoder over
(referring expression, image caption + detailed description), so it runs without images.

Training pairs come from the gold entities of a split ("Entity (TYPE)" as the expression, label = groundable);
the decision threshold is the one that maximises dev accuracy. ``ve_examples`` / ``train_caption_ve`` /
``predict_probabilities`` / ``evaluate`` are the steps; ``run(CaptionVeConfig(...))`` runs them all, as
``smner-bench baseline caption-ve`` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn
from transformers import AutoTokenizer

from smner_bench.benchmark.safe_output import atomic_folder

from .config import Config
from .decision import best_threshold, evaluate
from .dtype import to_numpy
from .loading import from_pretrained
from .providers.encoder import encoder_from_config, load_encoder
from .training import MIXED_PRECISION, Objective, finishing, fit, make_accelerator, run_facts, set_seed


@dataclass(frozen=True)
class VEExample:
    tweet: str
    expression: str
    context: str
    label: int  # 1 = groundable


def expression(text: str, kind: str) -> str:
    return f"{text} ({kind})"


def ve_examples(rows) -> list[VEExample]:
    """One example per gold entity: its expression, the image's caption + description, groundable or not."""
    out = []
    for r in rows:
        out += [
            VEExample(r["id"], expression(e["text"], e["type"]), _context(r), int(e["groundable"]))
            for e in r["entities"]
        ]
    return out


def _context(row) -> str:
    """The image's caption + description (the cross-encoder's second text)."""
    return " ".join(x for x in (row.get("caption"), row.get("description")) if x) or "no description"


class CrossEncoder(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, 1)

    def forward(self, batch: dict) -> torch.Tensor:
        hidden = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        hidden = hidden.to(self.head.weight.dtype)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).squeeze(-1)


@dataclass
class PairCollate:
    """(expression, context) pairs tokenized together, with their labels."""

    tokenizer: object
    max_length: int

    def __call__(self, chunk: Sequence[VEExample]) -> dict:
        batch = self.tokenizer(
            [e.expression for e in chunk],
            [e.context for e in chunk],
            truncation="only_second",
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        return {**batch, "labels": torch.tensor([e.label for e in chunk], dtype=torch.float32)}


def pair_loss(model: CrossEncoder, batch: dict) -> torch.Tensor:
    return nn.functional.binary_cross_entropy_with_logits(model(batch).float(), batch["labels"])


def _batches(tokenizer, examples: Sequence[VEExample], order: Sequence[int], size: int, max_length: int):
    collate = PairCollate(tokenizer, max_length)
    for start in range(0, len(order), size):
        yield collate([examples[i] for i in order[start : start + size]])


def predict_probabilities(
    model: CrossEncoder, tokenizer, examples: Sequence[VEExample], *, batch_size: int = 64, max_length: int = 128
) -> np.ndarray:
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].context))
    probs = np.zeros(len(examples))
    with torch.no_grad():
        for k, batch in enumerate(_batches(tokenizer, examples, order, batch_size, max_length)):
            idx = order[k * batch_size : (k + 1) * batch_size]
            probs[idx] = to_numpy(torch.sigmoid(model(batch).float()))
    return probs


def train_caption_ve(
    encoder: str,
    train: Sequence[VEExample],
    dev: Sequence[VEExample],
    out: str | Path,
    *,
    epochs: int = 1,
    lr: float = 3e-5,
    batch_size: int = 32,
    max_length: int = 128,
    seed: int = 42,
    device: str = "cpu",
    mixed_precision: str | None = None,
    progress: bool = True,
    model: CrossEncoder | None = None,
    tokenizer=None,
    inputs: Sequence[str | Path | None] = (),
) -> dict:
    """Train (the shared loop: accelerate, per-process ``batch_size``), pick the dev-accuracy threshold, save
    ``<out>/model.pt`` + encoder config + tokenizer + ``caption_ve.json`` (threshold, settings, history)."""
    accelerator = make_accelerator(device, mixed_precision)
    set_seed(seed)
    tokenizer = tokenizer or from_pretrained(AutoTokenizer, encoder, "encoder")
    model = (model or CrossEncoder(load_encoder(encoder, "encoder", dtype="fp32"))).to(accelerator.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = fit(
        accelerator,
        Objective(model, pair_loss),
        optimizer,
        train,
        PairCollate(tokenizer, max_length),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        clip=1.0,
        desc="caption VE",
        progress=progress,
        schedule="linear",
        warmup_ratio=0.1,
    )
    with finishing(accelerator) as main:
        if not main:
            return {"history": history}
        model.cpu()
        dev_probs = predict_probabilities(model, tokenizer, dev, max_length=max_length)
        dev_labels = np.array([e.label for e in dev])
        threshold = best_threshold(dev_probs, dev_labels)
        meta = {
            "encoder": str(encoder),
            "threshold": threshold,
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
            **run_facts(accelerator, batch_size),
            "history": history,
            "dev": evaluate(dev_probs, dev_labels, threshold),
        }
        with atomic_folder(out, "model", inputs=[encoder, *inputs]) as tmp:
            torch.save(model.state_dict(), tmp / "model.pt")
            model.encoder.config.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / "caption_ve.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return meta


def test_gold(rows):
    """The Twitter-GMNER test split of ``rows`` as the scorer's gold."""
    from smner_bench.benchmark.gold import gold_from_rows

    return gold_from_rows(rows, dataset="gmner", split="test", has_boxes=True, has_masks=False)


def read_predictions(predictions: str | Path, gold):
    """A tagger's submission for ``gold``, read and validated (every problem named, nothing scored yet)."""
    from smner_bench.benchmark.submission import read_submission

    return read_submission(predictions, gold)


def judge_predictions(
    model: CrossEncoder, tokenizer, predictions: str | Path, rows, threshold: float, *, max_length: int = 128
) -> dict:
    """VE on a tagger's predicted entities: ``predictions`` is its submission for the Twitter-GMNER split of
    ``rows`` (with captions). Returns MNER as scored (span match) and how often the VE's verdict (groundable
    or not, at ``threshold``) agrees with the gold on the correctly predicted entities."""
    from smner_bench.benchmark.scoring import Scorer

    gold = test_gold(rows)
    scorer = Scorer.build(read_predictions(predictions, gold), gold)
    context = {r["id"]: _context(r) for r in rows}
    preds = scorer.submission.predictions
    ids = [gold.tweets[p.tweet].id for p in preds]
    examples = [VEExample(i, expression(p.text, p.type), context[i], 0) for i, p in zip(ids, preds, strict=True)]
    judged = predict_probabilities(model, tokenizer, examples, max_length=max_length) >= threshold
    pairs = scorer.matches("mner", "span", 0.5).pairs()  # the correct predictions and their gold entities
    agree = sum(judged[p] == (len(gold.entities[g].boxes) > 0) for p, g in pairs)
    mner = scorer.report("mner", "span", 0.5).main
    return {
        "file": str(predictions),
        "mner": {k: getattr(mner, k) for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
        "groundability_accuracy_on_correct_entities": agree / max(1, len(pairs)),
        "correct_entities": len(pairs),
        "note": "no boxes are predicted without images: GMNER/EEG cannot be scored from captions alone",
    }


def load_caption_ve(folder: str | Path) -> tuple[CrossEncoder, object, dict]:
    from transformers import AutoConfig

    from .loading import load_state, load_torch_weights, read_metadata
    from .metadata import CaptionVEMeta

    folder = Path(folder)
    meta = read_metadata(folder / "caption_ve.json", CaptionVEMeta, "caption VE metadata")
    model = CrossEncoder(encoder_from_config(from_pretrained(AutoConfig, folder, "caption VE model")))
    tokenizer = from_pretrained(AutoTokenizer, folder, "caption VE model")
    load_state(model, load_torch_weights(folder / "model.pt", "caption VE weights"), folder / "model.pt", "caption VE")
    return model.eval(), tokenizer, meta.model_dump()


class CaptionVeConfig(Config):
    """Everything ``baseline caption-ve`` does, one field per option: train the cross-encoder on Twitter-GMNER's
    train split (``data_dir``, with its ``captions``), pick the threshold on dev, evaluate on test and, with
    ``predictions``, judge a tagger's test entities; everything is written to ``out``."""

    model_config = ConfigDict(frozen=True)  # and Config's: unknown keys refused, every number finite

    encoder: str = Field(min_length=1)
    data_dir: str = Field(min_length=1)
    captions: list[str] = Field(min_length=1)
    out: str = Field(min_length=1)
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(128, ge=1)
    seed: int = Field(42, ge=0, le=2**32 - 1)
    threads: int | None = Field(None, ge=1, le=4096)
    max_train: int | None = Field(None, ge=1, description="a prefix of the training pairs (smoke runs)")
    predictions: str | None = Field(None, description="a tagger's test submission to judge (e.g. PLIM's)")
    device: str = "cpu"
    mixed_precision: Literal[MIXED_PRECISION] | None = None  # type: ignore[valid-type]  # None: the launcher's

    def inputs(self) -> list[str | None]:
        return [self.encoder, self.data_dir, *self.captions, self.predictions]


def run(config: CaptionVeConfig, *, command: str | None = None, progress: bool = True) -> dict:
    """Train, choose the threshold, evaluate: ``<out>/model`` and ``<out>/results.json`` (returned; with
    ``command`` first, as the command records it). Under a launcher the other processes train, write nothing and
    return the history only."""
    from smner_bench.benchmark.safe_output import owned_folder, write_json
    from smner_bench.loaders import load

    from .launcher import is_main_process

    inputs = config.inputs()
    main = is_main_process()  # under a launcher, one process writes
    out = owned_folder(config.out, "caption-ve", inputs=inputs) if main else Path(config.out)  # before the training
    if config.threads:
        torch.set_num_threads(config.threads)
    ds = load("gmner", config.data_dir, captions=config.captions)
    train = ve_examples(ds["train"])[: config.max_train or None]
    dev, test = ve_examples(ds["validation"]), ve_examples(ds["test"])
    if config.predictions:  # a missing or invalid file is refused now, not after the training
        read_predictions(config.predictions, test_gold(ds["test"]))
    meta = train_caption_ve(
        config.encoder,
        train,
        dev,
        out / "model",
        epochs=config.epochs,
        batch_size=config.batch_size,
        max_length=config.max_length,
        seed=config.seed,
        device=config.device,
        mixed_precision=config.mixed_precision,
        progress=progress,
        inputs=inputs,
    )
    if not main:
        return meta
    model, tokenizer, _ = load_caption_ve(out / "model")
    probs = predict_probabilities(model, tokenizer, test, max_length=config.max_length)
    results = {
        **({"command": command} if command else {}),
        "train_examples": len(train),
        **meta,
        "test": evaluate(probs, np.array([e.label for e in test]), meta["threshold"]),
    }
    if config.predictions:  # VE on a tagger's predicted entities: MNER as scored, groundability of the correct ones
        results["with_predictions"] = judge_predictions(
            model, tokenizer, config.predictions, ds["test"], meta["threshold"], max_length=config.max_length
        )
    write_json(out / "results.json", results, inputs=inputs)
    return results
