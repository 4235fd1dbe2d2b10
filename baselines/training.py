"""The fine-tuning loop shared by visual entailment and visual grounding: seeded shuffles, batches of
examples, AdamW steps with gradient clipping and accumulation, a warmup + decay schedule, the best dev epoch
kept, optional bf16 mixed precision (``amp``: the forward and the loss under ``torch.autocast``, weights and
optimizer in float32), the mean loss and time of each epoch; and how the fine-tuned model is saved."""

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


# Settings of a VE/VG training run; ``--preset paper`` replaces the defaults, options given replace both.
RECIPE_KEYS = ("epochs", "lr", "batch", "grad_accum", "warmup_ratio", "schedule", "weight_decay", "clip", "keep_best")


def resolve_recipe(defaults: dict, presets: dict[str, dict], preset: str | None, given: dict) -> dict:
    """``defaults``, then ``presets[preset]``, then the options the user gave (``None`` = not given).

    >>> resolve_recipe({"lr": 1.0, "epochs": 1}, {"p": {"lr": 2.0, "epochs": 5}}, "p", {"epochs": 3, "lr": None})
    {'lr': 2.0, 'epochs': 3, 'preset': 'p'}
    """
    out = {**defaults, **(presets[preset] if preset else {})}
    out.update({k: v for k, v in given.items() if v is not None and k in out})
    return {**out, "preset": preset}


def explicit(**given) -> dict:
    """The options that were given (not ``None``)."""
    return {k: v for k, v in given.items() if v is not None}


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
    grad_accum: int = 1,
    schedule: str = "constant",
    warmup_ratio: float = 0.0,
    evaluate: Callable[[], float] | None = None,
) -> list[dict]:
    """``epochs`` passes over ``examples`` in shuffled batches; ``loss_of(batch)`` gives a batch's loss.

    One optimizer step per ``grad_accum`` batches (the global batch is ``batch_size * grad_accum``; the losses
    of a step's batches are averaged); the learning rate follows ``transformers.get_scheduler(schedule)`` with
    ``warmup_ratio`` of the steps as warmup. With ``evaluate`` (a dev score, higher is better) the model is
    scored after every epoch and the best epoch's weights are restored at the end (every epoch runs).
    Returns ``[{"epoch", "loss", "seconds", "lr"[, "dev"]}]``; the model is left in eval mode."""
    from transformers import get_scheduler

    gen = torch.Generator().manual_seed(seed)
    batches = math.ceil(len(examples) / batch_size)
    steps_per_epoch = math.ceil(batches / grad_accum)
    total = epochs * steps_per_epoch
    scheduler = get_scheduler(
        schedule, optimizer, num_warmup_steps=int(warmup_ratio * total), num_training_steps=max(1, total)
    )
    history, started = [], time.time()
    best: tuple[float, int, dict] | None = None
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(examples), generator=gen).tolist()
        losses = []
        optimizer.zero_grad()
        for b, start in enumerate(
            tqdm(
                range(0, len(order), batch_size),
                total=batches,
                desc=f"{desc} epoch {epoch}",
                disable=not progress,
                leave=False,
            )
        ):
            group = min(grad_accum, batches - (b // grad_accum) * grad_accum)  # batches in this step
            with autocast(amp, device):
                loss = loss_of([examples[i] for i in order[start : start + batch_size]])
            (loss / group).backward()
            losses.append(float(loss.detach()))
            if (b + 1) % grad_accum == 0 or b + 1 == batches:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "seconds": round(time.time() - started, 1),
            "lr": scheduler.get_last_lr()[0],
        }
        if evaluate is not None:
            model.eval()
            record["dev"] = float(evaluate())
            if best is None or record["dev"] > best[0]:
                best = (
                    record["dev"],
                    epoch,
                    {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
                )
        history.append(record)
    if best is not None and best[1] != epochs:
        model.load_state_dict(best[2])
    for record in history:
        if best is not None:
            record["best"] = record["epoch"] == best[1]
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
