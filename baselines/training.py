"""The fine-tuning loop shared by visual entailment and visual grounding: seeded shuffles, batches of
examples, AdamW steps with gradient clipping, optional bf16 mixed precision (``amp``: the forward and the loss
under ``torch.autocast``, weights and optimizer in float32), the mean loss and time of each epoch; and how the
fine-tuned model is saved."""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from smner_bench.benchmark.safe_output import atomic_folder

from .dtype import autocast


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    examples: Sequence,
    loss_of: Callable[[list], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    clip: float,
    desc: str,
    progress: bool = True,
    amp: str = "none",
    device: str = "cpu",
) -> list[dict]:
    """``epochs`` passes over ``examples`` in shuffled batches; ``loss_of(batch)`` gives a batch's loss.
    Returns ``[{"epoch", "loss", "seconds"}]``; the model is left in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    history, started = [], time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(examples), generator=gen).tolist()
        losses = []
        for start in tqdm(
            range(0, len(order), batch_size),
            total=math.ceil(len(order) / batch_size),
            desc=f"{desc} epoch {epoch}",
            disable=not progress,
            leave=False,
        ):
            with autocast(amp, device):
                loss = loss_of([examples[i] for i in order[start : start + batch_size]])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(float(loss.detach()))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.time() - started, 1)})
    model.eval()
    return history


def save_fine_tuned(
    out: str | os.PathLike, model, processor, name: str, meta: dict, *, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Model, processor and ``<name>`` (the run's metadata) written to ``out`` atomically, as an smner-bench
    ``model`` folder (see ``benchmark/safe_output.py``; ``inputs``: what the run read, which ``out`` may not
    hold)."""
    with atomic_folder(out, "model", inputs=inputs) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / name).write_text(json.dumps(meta, indent=1), encoding="utf-8")
