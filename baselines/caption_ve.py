"""Caption VE (beyond the paper): is an entity in the image? Decided from text alone, by a cross-encoder over
(referring expression, image caption + detailed description), so it runs without images.

Training pairs come from the gold entities of a split ("Entity (TYPE)" as the expression, label = groundable);
the decision threshold is the one that maximises dev accuracy. ``ve_examples`` / ``train_caption_ve`` /
``predict_probabilities`` / ``evaluate`` are the steps; ``smner-bench baseline caption-ve`` runs them all.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from smner_bench.benchmark.safe_output import atomic_folder

from .decision import best_threshold, evaluate
from .dtype import to_numpy
from .loading import from_pretrained
from .providers.encoder import encoder_from_config, load_encoder


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
        context = " ".join(x for x in (r.get("caption"), r.get("description")) if x) or "no description"
        out += [
            VEExample(r["id"], expression(e["text"], e["type"]), context, int(e["groundable"])) for e in r["entities"]
        ]
    return out


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


def _batches(tokenizer, examples: Sequence[VEExample], order: Sequence[int], size: int, max_length: int):
    for start in range(0, len(order), size):
        chunk = [examples[i] for i in order[start : start + size]]
        batch = tokenizer(
            [e.expression for e in chunk],
            [e.context for e in chunk],
            truncation="only_second",
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        yield batch, torch.tensor([e.label for e in chunk], dtype=torch.float32)


def predict_probabilities(
    model: CrossEncoder, tokenizer, examples: Sequence[VEExample], *, batch_size: int = 64, max_length: int = 128
) -> np.ndarray:
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].context))
    probs = np.zeros(len(examples))
    with torch.no_grad():
        for k, (batch, _) in enumerate(_batches(tokenizer, examples, order, batch_size, max_length)):
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
    progress: bool = True,
    model: CrossEncoder | None = None,
    tokenizer=None,
    inputs: Sequence[str | Path | None] = (),
) -> dict:
    """Train, pick the dev-accuracy threshold, save ``<out>/model.pt`` + encoder config + tokenizer +
    ``caption_ve.json`` (threshold, settings, history)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = tokenizer or from_pretrained(AutoTokenizer, encoder, "encoder")
    model = model or CrossEncoder(load_encoder(encoder, "encoder", dtype="fp32"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train) / batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    history = []
    started = time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        losses = []
        for batch, labels in tqdm(
            _batches(tokenizer, train, order, batch_size, max_length),
            desc=f"epoch {epoch}",
            total=math.ceil(len(train) / batch_size),
            disable=not progress,
            leave=False,
        ):
            loss = loss_fn(model(batch), labels)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.time() - started, 1)})
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
        "history": history,
        "dev": evaluate(dev_probs, dev_labels, threshold),
    }
    with atomic_folder(out, "model", inputs=[encoder, *inputs]) as tmp:
        torch.save(model.state_dict(), tmp / "model.pt")
        model.encoder.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "caption_ve.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


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
