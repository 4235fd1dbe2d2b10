"""The one training loop of the baselines (PLIM, VE, VG, caption VE), on Hugging Face ``accelerate`` over
``torch.distributed``: the same code on one CPU, one GPU, N GPUs (DDP) and several nodes.

Launch a training command as it is (one process) or under a launcher, which starts one process per device::

    accelerate launch --num_processes 8 $(which smner-bench) baseline plim-train ...
    torchrun --nproc_per_node 8 $(which smner-bench) baseline ve-train ...

How a run is split (``fit``):

- The model's ``forward(batch)`` returns the loss (``Objective`` wraps a model and a loss function), so DDP
  sees every forward; parameters a loss does not use (BLIP's projections, the encoder's pooler) are allowed.
- ``--batch-size`` is per process: one micro-step takes a *global* batch of ``batch_size x processes`` examples
  in the order of one seeded shuffle (the same on every process) and gives process ``r`` the ``r``-th of
  ``processes`` near-equal contiguous parts. Each part's mean loss is scaled by its share of the global batch's
  weight (examples, or e.g. entities per image), so the averaged gradient is the global batch's mean gradient
  whatever the split: N processes with batch B/N train like one with batch B. A process whose part is empty
  (a last batch smaller than the process count) runs one example with weight 0.
- ``--grad-accum K`` micro-steps make one optimizer step (gradients synchronised on the last one only); the
  global batch of a step is ``batch_size x processes x K``; the schedule (``transformers.get_scheduler``,
  warmup ratio) counts optimizer steps.
- ``--mixed-precision no|bf16|fp16``: accelerate's autocast around the forward (fp16 with gradient scaling, GPU
  only); weights and optimizer stay float32, checkpoints are float32.
- Evaluation, keeping the best epoch, early stopping and every write happen on the main process; its decisions
  are broadcast to the others. Seeds: the model is made with ``seed`` on every process (DDP also copies the main
  process's weights), the shuffle uses ``seed`` everywhere, dropout and word dropout use ``seed + rank``.
- Batches are built by a ``torch.utils.data.DataLoader`` (``workers`` processes): images are decoded there,
  through a bounded cache (``images.ImageCache``), never a whole split in memory.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import ConfigDict, Field
from tqdm import tqdm

from smner_bench.benchmark.errors import SmnerError, UsageError
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.benchmark.safe_output import atomic_folder

from .config import PresetConfig

MIXED_PRECISION = ("no", "bf16", "fp16")


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TrainerConfig(PresetConfig):
    """A VE or VG training run (``baseline ve-train``/``vg-train``'s options, one field each): the base model, the
    data, the recipe and how the run is spread. A subclass gives the recipe's defaults and its named ``PRESETS``;
    ``preset`` applies a preset's values first, then the fields given (as :meth:`PlimConfig.from_preset
    <smner_bench.baselines.plim.config.PlimConfig.from_preset>`), and is recorded in the run's metadata."""

    model_config = ConfigDict(frozen=True)  # and Config's: unknown keys refused, every number finite

    base: str = Field(min_length=1, description="the model to fine-tune (a from_pretrained folder)")
    dataset: Literal[DATASET_NAMES] = "gmner"  # type: ignore[valid-type]
    data_dir: str = Field(min_length=1, description="the dataset's release folder (train and dev)")
    images: str = Field(min_length=1, description="folder of the tweet images")
    out: str = Field(min_length=1, description="folder of the fine-tuned model (an smner-bench model folder)")
    expressions: list[str] = Field(default_factory=list, description="referring-expression files (baseline expand)")
    max_train: int | None = Field(None, ge=1, description="a prefix of the training set (smoke runs)")
    # the recipe (RECIPE_FIELDS); epochs, lr, batch, weight_decay and clip have each stage's defaults
    grad_accum: int = Field(1, ge=1, description="batches per optimizer step")
    warmup_ratio: float = Field(0.0, ge=0, le=1, description="share of the optimizer steps warming up")
    schedule: Literal["constant", "linear"] = "constant"
    keep_best: bool = Field(False, description="score dev after every epoch and keep the best one")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="random seed (0 to 2**32 - 1)")
    device: str = Field("cpu", description="cpu or cuda (the process's own GPU under a launcher)")
    mixed_precision: Literal[MIXED_PRECISION] | None = None  # type: ignore[valid-type]  # None: the launcher's
    workers: int = Field(2, ge=0, le=64, description="DataLoader processes decoding images ahead (0: none)")
    image_cache_mb: int = Field(256, ge=0, description="decoded images kept between epochs, per process and worker")
    threads: int | None = Field(None, ge=1, le=4096, description="torch's CPU threads (default: torch's choice)")

    def recipe(self) -> dict:
        """The resolved recipe and its preset, as the run's metadata records them."""
        return {**{name: getattr(self, name) for name in RECIPE_FIELDS}, "preset": self.preset}

    def inputs(self) -> list[str]:
        """What the run reads (its output folder may hold none of them)."""
        return [self.base, self.data_dir, self.images, *self.expressions]

    def check(self):
        """The rules across fields, as usage errors naming the options (none here; a stage adds its own)."""
        return self


# The recipe of a VE/VG run, in the order its metadata lists it (then "preset").
RECIPE_FIELDS = ("epochs", "lr", "batch", "grad_accum", "warmup_ratio", "schedule", "weight_decay", "clip", "keep_best")


def mixed_precision_of(value: str | None) -> str:
    """``--mixed-precision`` (or the older ``--amp none|bf16``) as accelerate names it.

    >>> mixed_precision_of("none"), mixed_precision_of("bf16"), mixed_precision_of(None)
    ('no', 'bf16', 'no')
    """
    value = {"none": "no", None: "no"}.get(value, value)
    if value not in MIXED_PRECISION:
        raise UsageError(f"mixed precision {str(value)[:20]!r}: expected one of {', '.join(MIXED_PRECISION)}")
    return value


def make_accelerator(device: str = "cpu", mixed_precision: str | None = None):
    """This process's ``accelerate.Accelerator``: ``device`` ``cpu`` keeps it on the CPU (gloo between
    processes), ``cuda`` is the process's own GPU (``cuda:$LOCAL_RANK`` under a launcher; pick one GPU of a
    single process with ``CUDA_VISIBLE_DEVICES``). ``mixed_precision`` ``None``: the launcher's (an accelerate
    config file's ``mixed_precision``, ``ACCELERATE_MIXED_PRECISION``), else ``no``."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedDataParallelKwargs

    from .dtype import device_type, resolve_dtype

    precision = mixed_precision_of(mixed_precision or os.environ.get("ACCELERATE_MIXED_PRECISION"))
    kind = device_type(device)
    if kind not in ("cpu", "cuda"):
        raise UsageError(f"--device {device[:20]!r}: training runs on cpu or cuda")
    if ":" in str(device):
        raise UsageError(
            f"--device {device}: training uses the process's own GPU (cuda:$LOCAL_RANK under a launcher); to "
            "pick a GPU for one process, set CUDA_VISIBLE_DEVICES and pass --device cuda"
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no GPU is visible to this process")
    if precision != "no":
        resolve_dtype(precision, kind)  # fp16 on CPU, bf16 on an old GPU: refused here, with the reason
    kwargs = {
        "cpu": kind == "cpu",
        "mixed_precision": precision,
        "kwargs_handlers": [DistributedDataParallelKwargs(find_unused_parameters=True)],
    }
    try:
        return Accelerator(**kwargs)
    except ValueError:
        # an earlier training in this process (a notebook, the tests) fixed other settings; one process only
        if PartialState().num_processes > 1:
            raise UsageError("the launcher's processes already run with other accelerate settings") from None
        AcceleratorState._reset_state(reset_partial_state=True)
        try:
            return Accelerator(**kwargs)
        except ValueError as exc:  # what accelerate refuses on this machine, in its words
            raise UsageError(f"accelerate: {str(exc)[:300]}") from None


class Objective(torch.nn.Module):
    """``model`` whose ``forward(batch)`` is ``loss(model, batch)``: what DDP wraps, so every forward that makes a
    loss goes through it. ``loss`` is a module-level function (the model's own code does the work)."""

    def __init__(self, model: torch.nn.Module, loss: Callable[[torch.nn.Module, Any], torch.Tensor]) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch) -> torch.Tensor:
        return self.loss(self.model, batch)


@dataclass(frozen=True)
class Part:
    """What one process computes in one micro-step: ``indices`` of examples, the factor of their mean loss
    (``weight x processes / weight of the global batch``; 0 for a placeholder) and their weight."""

    indices: tuple[int, ...]
    scale: float
    weight: float


def split_batch(batch: Sequence[int], processes: int, rank: int, weights: Sequence[float] | None = None) -> Part:
    """Process ``rank``'s contiguous part of a global ``batch`` (near-equal parts, the first ones one longer).

    >>> split_batch([4, 5, 6], 2, 0), split_batch([4, 5, 6], 2, 1)
    (Part(indices=(4, 5), scale=1.3333333333333333, weight=2), Part(indices=(6,), scale=0.6666666666666666, weight=1))
    >>> split_batch([7], 2, 1)  # nothing left for rank 1: a placeholder that adds nothing
    Part(indices=(7,), scale=0.0, weight=0)
    """
    size, extra = divmod(len(batch), processes)
    start = rank * size + min(rank, extra)
    mine = tuple(batch[start : start + size + (rank < extra)])
    w = (lambda ids: sum(weights[i] for i in ids)) if weights is not None else len
    total = w(batch)
    if not mine or total <= 0:
        return Part(tuple(batch[:1]), 0.0, 0)
    return Part(mine, w(mine) * processes / total, w(mine))


class _Parts(torch.utils.data.Dataset):
    """The micro-steps of one process's epoch, each collated from its examples (in a DataLoader worker)."""

    def __init__(self, examples: Sequence, parts: Sequence[Part], collate: Callable[[list], Any]) -> None:
        self.examples, self.parts, self.collate = examples, parts, collate

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, k: int):
        part = self.parts[k]
        try:
            return self.collate([self.examples[i] for i in part.indices]), part.scale, part.weight
        except SmnerError as exc:  # a damaged image: raised again by fit, not wrapped in a worker's traceback
            return exc, 0.0, 0


def shuffled_batches(n: int, size: int, gen: torch.Generator) -> list[list[int]]:
    """``range(n)`` shuffled by ``gen`` and cut into batches of ``size``."""
    order = torch.randperm(n, generator=gen).tolist()
    return [order[k : k + size] for k in range(0, n, size)]


def _send(batch, device):
    from accelerate.utils import send_to_device

    return send_to_device(batch, device)


def _shared(accelerator, value):
    """``value`` of the main process, on every process."""
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def fit(
    accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    examples: Sequence,
    collate: Callable[[list], Any] = list,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    clip: float,
    desc: str,
    progress: bool = True,
    grad_accum: int = 1,
    schedule: str = "constant",
    warmup_ratio: float = 0.0,
    weights: Sequence[float] | None = None,
    batches: Callable[[torch.Generator, int], list[list[int]]] | None = None,
    evaluate: Callable[[], float | tuple[float, Any]] | None = None,
    keep_best: bool = True,
    on_epoch: Callable[[dict, bool], str | None] | None = None,
    workers: int = 0,
) -> list[dict]:
    """``epochs`` passes over ``examples``; ``model(collate(part))`` (an ``Objective``) gives a part's mean loss.

    ``batch_size`` is per process (see the module's notes for how a global batch is split and weighted;
    ``weights``: each example's weight in the mean, default 1). ``batches(gen, global_size)``: an epoch's global
    batches (default: a seeded shuffle cut in order). With ``evaluate`` (a dev score, higher is better, or
    ``(score, details)``) the model is scored after every epoch on the main process; with ``keep_best`` the
    best epoch's weights are restored at the end. ``on_epoch(record, improved)`` runs on the main process after
    each epoch (saving, logging) and may return a reason to stop. Returns ``[{"epoch", "loss", "seconds",
    "train_seconds", "lr"[, "dev", "best"]}]`` (the loss: the weighted mean over all processes); the model is
    left in eval mode."""
    from transformers import get_scheduler

    processes, rank = accelerator.num_processes, accelerator.process_index
    global_size = batch_size * processes
    raw = model
    batches = batches or (lambda gen, size: shuffled_batches(len(examples), size, gen))
    per_epoch = len(batches(torch.Generator().manual_seed(seed), global_size))
    total = epochs * math.ceil(per_epoch / grad_accum)
    scheduler = get_scheduler(
        schedule, optimizer, num_warmup_steps=int(warmup_ratio * total), num_training_steps=max(1, total)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    torch.manual_seed(seed + rank)  # dropout differs between processes; the shuffle below does not
    gen = torch.Generator().manual_seed(seed)
    main = accelerator.is_main_process
    history, started = [], time.time()
    best: tuple[float, int, dict | None] | None = None
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.time()
        parts = [split_batch(b, processes, rank, weights) for b in batches(gen, global_size)]
        loader = torch.utils.data.DataLoader(
            _Parts(examples, parts, collate), batch_size=None, shuffle=False, num_workers=workers
        )
        sums = torch.zeros(2, dtype=torch.float64)
        optimizer.zero_grad()
        n = len(parts)
        for b, (batch, scale, weight) in enumerate(
            tqdm(  # disable=None: no bar on a non-terminal (a log file)
                loader,
                total=n,
                desc=f"{desc} epoch {epoch}",
                disable=True if not (progress and main) else None,
                leave=False,
            )
        ):
            if isinstance(batch, SmnerError):
                raise batch
            group = min(grad_accum, n - (b // grad_accum) * grad_accum)  # micro-steps in this optimizer step
            last = (b + 1) % grad_accum == 0 or b + 1 == n
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                loss = model(_send(batch, accelerator.device))
                accelerator.backward(loss.float() * (scale / group))
            sums += torch.tensor([float(loss.detach()) * weight, weight], dtype=torch.float64)
            if last:
                accelerator.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        sums = accelerator.reduce(sums.to(accelerator.device), reduction="sum").cpu()
        record = {
            "epoch": epoch,
            "loss": float(sums[0] / max(sums[1], 1e-12)),
            "seconds": round(time.time() - started, 1),
            "train_seconds": round(time.time() - t0, 1),
            "lr": scheduler.get_last_lr()[0],
        }
        improved, stop = False, None
        if main:
            if evaluate is not None:
                raw.eval()
                found = evaluate()
                score, details = found if isinstance(found, tuple) else (found, found)
                record["dev"] = details
                improved = best is None or score > best[0]
                if improved:
                    state = None
                    if keep_best:
                        state = {k: v.detach().to("cpu", copy=True) for k, v in raw.state_dict().items()}
                    best = (score, epoch, state)
            if on_epoch is not None:
                stop = on_epoch(record, improved)
        record, stop = _shared(accelerator, (record, stop))
        history.append(record)
        if stop:
            break
    if main and best is not None:
        if keep_best and best[1] != history[-1]["epoch"]:
            raw.load_state_dict(best[2])
        for record in history:
            record["best"] = record["epoch"] == best[1]
    history = _shared(accelerator, history)
    raw.eval()
    return history


def fit_recipe(
    accelerator,
    objective: Objective,
    examples: Sequence,
    collate: Callable[[list], Any],
    config: TrainerConfig,
    *,
    desc: str,
    progress: bool = True,
    evaluate: Callable[[], float] | None = None,
    weights: Sequence[float] | None = None,
) -> list[dict]:
    """``fit`` with a VE/VG run's recipe (:data:`RECIPE_FIELDS`: AdamW's rate and weight decay, epochs, per-process
    batch, accumulation, schedule, warmup, clipping), seed and image workers; ``evaluate`` used only when the recipe
    keeps the best epoch."""
    optimizer = torch.optim.AdamW(objective.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return fit(
        accelerator,
        objective,
        optimizer,
        examples,
        collate,
        weights=weights,
        epochs=config.epochs,
        batch_size=config.batch,
        seed=config.seed,
        clip=config.clip,
        desc=desc,
        progress=progress,
        grad_accum=config.grad_accum,
        schedule=config.schedule,
        warmup_ratio=config.warmup_ratio,
        evaluate=evaluate if config.keep_best else None,
        workers=config.workers,
    )


@contextlib.contextmanager
def finishing(accelerator):
    """The work after :func:`fit` that only the main process does (dev scoring, saving): yields whether this is
    the main process; on leaving (a return, an error) every process waits for the others, then the process group
    is closed, after the prepared (DDP) models that hold it are released. A gloo group left to the interpreter's
    exit (a DDP wrapper still holding it) can abort a process: "terminate called without an active exception"."""
    try:
        yield accelerator.is_main_process
    finally:
        accelerator.wait_for_everyone()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            import gc

            accelerator.free_memory()  # the DDP wrappers and prepared optimizers
            gc.collect()
            torch.distributed.destroy_process_group()


def run_facts(accelerator, batch_size: int, grad_accum: int = 1) -> dict:
    """What a training's metadata records about how it ran."""
    return {
        "world_size": accelerator.num_processes,
        "per_process_batch": batch_size,
        "global_batch": batch_size * accelerator.num_processes * grad_accum,
        "mixed_precision": accelerator.mixed_precision,
    }


def save_fine_tuned(
    out: str | os.PathLike, model, processor, name: str, meta: dict, *, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Model, processor and ``<name>`` (the run's metadata) written to ``out`` atomically, as an smner-bench
    ``model`` folder (see ``benchmark/safe_output.py``; ``inputs``: what the run read, which ``out`` may not
    hold)."""
    from smner_bench.benchmark.progress import library_bars_off

    with atomic_folder(out, "model", inputs=inputs) as tmp, library_bars_off():  # no "Writing model shards" bar
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / name).write_text(json.dumps(meta, indent=1), encoding="utf-8")
