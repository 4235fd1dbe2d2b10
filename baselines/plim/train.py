"""Training PLIM: AdamW (separate CRF learning rate), linear warmup, word dropout, gradient clipping, seeds,
early stopping on dev F1 scored with the project's scorer (none in the paper's presets: every epoch runs and
the best dev epoch is kept), optional bf16 mixed precision (``amp``), and
checkpoints that reload exactly (float32 weights; inference may run the encoder in bf16/fp16)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer

from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.progress import show_progress
from smner_bench.benchmark.safe_output import atomic_folder, owned_folder, write_json
from smner_bench.benchmark.scoring import score_lines
from smner_bench.benchmark.tags import TAG_NAMES
from smner_bench.loaders import load

from ..dtype import resolve_dtype
from ..loading import from_pretrained, load_state, load_torch_weights
from ..training import Objective, finishing, fit, make_accelerator, run_facts, set_seed
from .config import PlimConfig
from .data import Encoded, collate, encode
from .model import PlimTagger

log = logging.getLogger(__name__)
CHECKPOINT_FILES = ("model.pt", "config.json", "plim.json")


def load_splits(cfg: PlimConfig) -> list[dict]:
    """One DatasetDict per knowledge release (or one without knowledge)."""
    releases = cfg.knowledge or [None]
    return [load(cfg.dataset, cfg.data_dir, knowledge=k, cache_dir=cfg.cache_dir) for k in releases]


def encode_rows(rows, tokenizer, cfg: PlimConfig, with_labels: bool) -> list[Encoded]:
    out = []
    for row in rows:
        tags = row["ner_tags"] if with_labels else None
        out.append(encode(tokenizer, row["tokens"], row.get("knowledge"), tags=tags, max_length=cfg.max_length))
    return out


def plim_loss(model: PlimTagger, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The CRF's negative log-likelihood, a mean over the batch's tweets."""
    return model.loss(batch)


@dataclass
class PlimCollate:
    """Padded tensors of a batch of encoded tweets, with word dropout (``p``; a generator of this process)."""

    pad_id: int
    p: float
    unk: int
    special: set[int]
    gen: torch.Generator

    def __call__(self, part: list[Encoded]) -> dict[str, torch.Tensor]:
        return word_dropout(collate(part, self.pad_id), self.p, self.unk, self.special, self.gen)


def word_dropout(batch: dict[str, torch.Tensor], p: float, unk: int, special: set[int], gen: torch.Generator):
    if p <= 0:
        return batch
    ids = batch["input_ids"]
    drop = (torch.rand(ids.shape, generator=gen) < p) & batch["attention_mask"].bool()
    for s in special:
        drop &= ids != s
    return {**batch, "input_ids": ids.masked_fill(drop, unk)}


def bucketed_batches(encoded: list[Encoded], batch_size: int, gen: torch.Generator, pool: int = 50) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding): shuffle, sort pools of ``pool`` batches by length,
    cut them into batches, shuffle the batches."""
    order = torch.randperm(len(encoded), generator=gen).tolist()
    size = batch_size * pool
    batches = []
    for start in range(0, len(order), size):
        part = sorted(order[start : start + size], key=lambda i: len(encoded[i].input_ids))
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


def predict_tags(
    model: PlimTagger,
    encoded: list[Encoded],
    pad_id: int,
    batch_size: int,
    device: str = "cpu",
    *,
    desc: str | None = None,
) -> list[list[int]]:
    """Decoded tag ids per tweet, in batches sorted by length (no per-tweet model calls), on the model's
    ``device``; ``desc``: a progress bar of the batches with that name (none by default)."""
    from tqdm.auto import tqdm

    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    out: list[list[int]] = [[] for _ in encoded]
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=True if desc is None else None, leave=False):
        chunk = order[start : start + batch_size]
        batch = {k: v.to(device) for k, v in collate([encoded[i] for i in chunk], pad_id).items()}
        for i, tags in zip(chunk, model.decode(batch), strict=True):
            out[i] = tags
    return out


def submission_lines(rows, tag_ids: list[list[int]]) -> list[dict]:
    from smner_bench.benchmark.tags import from_tags

    return [
        {"id": row["id"], "entities": from_tags([TAG_NAMES[t] for t in tags], row["tokens"])}
        for row, tags in zip(rows, tag_ids, strict=True)
    ]


def evaluate(
    model, rows, encoded, pad_id: int, cfg: PlimConfig, split: str, device=None, *, desc: str | None = None
) -> dict:
    """MNER P/R/F1 of the model on ``rows``, scored by the project's scorer (span matching); ``desc``: a progress
    bar with that name."""
    tags = predict_tags(model, encoded, pad_id, cfg.eval_batch_size, device or cfg.device, desc=desc)
    lines = submission_lines(rows, tags)
    gold = gold_from_rows(rows, dataset=cfg.dataset, split=split, has_boxes=False, has_masks=False)
    report = score_lines(
        map(json.dumps, lines), gold, task="mner", match="span", name=f"{cfg.dataset}/{split} predictions"
    )
    return report.results["mner"].model_dump()


def inputs_of(cfg: PlimConfig) -> list[str]:
    """What a training run reads: its run folder may not hold one, and nothing it writes may be one."""
    return [cfg.encoder, cfg.data_dir, *cfg.knowledge]


def save_checkpoint(model: PlimTagger, tokenizer, cfg: PlimConfig, folder: Path, extra: dict) -> None:
    """model.pt (state dict), config.json (encoder config), the tokenizer, plim.json (run config + extra):
    written to a temporary folder and renamed, so a checkpoint is complete or absent (an smner-bench ``model``
    folder)."""
    with atomic_folder(folder, "model", inputs=inputs_of(cfg)) as tmp:
        torch.save(model.state_dict(), tmp / "model.pt")
        model.encoder.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "plim.json").write_text(json.dumps({"config": cfg.model_dump(), **extra}, indent=1))


def checkpoint_meta(folder: str | Path):
    """The checked ``plim.json`` of a checkpoint folder (a missing folder: exit 2; a file, a data folder or an
    empty folder: exit 2, not a checkpoint; a broken or mistyped ``plim.json``: exit 1, the field named)."""
    from ..metadata import read_plim_meta

    folder = Path(folder)
    if not folder.exists():
        raise MissingDataError("PLIM checkpoint folder not found", file=folder)
    if not (folder / "plim.json").is_file():
        raise UsageError("not a PLIM checkpoint folder: no plim.json (one is <run>/best of plim-train)", file=folder)
    return read_plim_meta(folder)


def load_checkpoint(
    folder: str | Path, *, dtype: str | None = None, device: str = "cpu"
) -> tuple[PlimTagger, object, dict]:
    """The tagger of a checkpoint folder, float32 whatever dtype ``model.pt`` was saved in; with ``dtype``
    (``bf16``/``fp16``), the encoder runs in it and the head stays float32."""
    from transformers import AutoConfig

    folder = Path(folder)
    meta = checkpoint_meta(folder)
    config = from_pretrained(AutoConfig, folder, "PLIM checkpoint")
    tokenizer = from_pretrained(AutoTokenizer, folder, "PLIM checkpoint")
    state = load_torch_weights(folder / "model.pt", "PLIM weights")
    model = PlimTagger.from_config(config, dropout=meta.config.dropout)
    load_state(model, state, folder / "model.pt", "PLIM weights of this config.json")  # cast to fp32
    model.encoder_dtype(resolve_dtype(dtype, device)).eval()
    return model, tokenizer, meta.model_dump()


def train(
    cfg: PlimConfig,
    *,
    model: PlimTagger | None = None,
    tokenizer=None,
    progress: bool | None = None,
    command: str | None = None,
) -> dict:
    """Train, select on dev F1, keep the best checkpoint in ``<out>/best``; returns the history. ``progress``:
    bars of the training batches and of each dev evaluation (default: when standard error is a terminal).

    ``out`` is the run's own folder (an smner-bench ``plim`` folder: created when its parent exists, reused
    when it is one or empty, else refused before anything is loaded); ``run.json`` records ``command`` (the command
    line, when there is one) and ``cfg``, ``history.json`` the training."""
    accelerator = make_accelerator(cfg.device, cfg.mixed_precision)
    device = accelerator.device
    progress = show_progress(progress)
    set_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if accelerator.is_main_process:
        out = owned_folder(cfg.out, "plim", inputs=inputs_of(cfg))
        write_json(out / "run.json", {"command": command, "config": cfg.model_dump()}, inputs=inputs_of(cfg))
    tokenizer = tokenizer or from_pretrained(AutoTokenizer, cfg.encoder, "encoder")
    model = (model or PlimTagger.from_pretrained(cfg.encoder, dropout=cfg.dropout)).to(device)
    versions = load_splits(cfg)
    def prefix(rows):  # max_train_tweets: a prefix of train (all of it when the split is shorter)
        return rows if cfg.max_train_tweets is None else rows.select(range(min(cfg.max_train_tweets, len(rows))))

    train_rows = [row for v in versions for row in prefix(v["train"])]
    train_set = encode_rows(train_rows, tokenizer, cfg, with_labels=True)
    dev_rows = list(versions[0]["validation"])
    dev_set = encode_rows(dev_rows, tokenizer, cfg, with_labels=False)
    cut = sum(e.knowledge_cut > 0 for e in train_set)
    log.info(
        "train %d examples (%d with knowledge cut to %d sub-tokens), dev %d",
        len(train_set),
        cut,
        cfg.max_length,
        len(dev_set),
    )

    crf_params = list(model.crf.parameters())
    crf_ids = {id(p) for p in crf_params}
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    groups = [
        {
            "params": [
                p for n, p in model.named_parameters() if id(p) not in crf_ids and not any(k in n for k in no_decay)
            ],
            "weight_decay": cfg.weight_decay,
            "lr": cfg.lr,
        },
        {
            "params": [
                p for n, p in model.named_parameters() if id(p) not in crf_ids and any(k in n for k in no_decay)
            ],
            "weight_decay": 0.0,
            "lr": cfg.lr,
        },
        {"params": crf_params, "weight_decay": 0.0, "lr": cfg.crf_lr},
    ]
    optimizer = torch.optim.AdamW(groups)
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    dropout_gen = torch.Generator().manual_seed(cfg.seed + accelerator.process_index)  # word dropout per process
    collate_batch = PlimCollate(tokenizer.pad_token_id, cfg.word_dropout, tokenizer.unk_token_id, special, dropout_gen)
    train_tokens = sum(len(e.input_ids) for e in train_set)
    facts = run_facts(accelerator, cfg.batch_size)
    history: dict = {"epochs": [], "best_epoch": None, "best_dev_f1": -1.0, **facts}
    started = time.time()
    state = {"bad_epochs": 0}

    def dev_f1():
        desc = "PLIM dev" if progress else None
        dev = evaluate(model, dev_rows, dev_set, tokenizer.pad_token_id, cfg, "validation", device, desc=desc)
        return dev["f1"], {k: dev[k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")}

    def on_epoch(record: dict, improved: bool) -> str | None:  # the main process: save, log, decide to stop
        epoch = record["epoch"]
        entry = {
            "epoch": epoch,
            "loss": record["loss"],
            "dev": record["dev"],
            "train_seconds": record["train_seconds"],
            "tokens_per_second": round(train_tokens / max(record["train_seconds"], 1e-9), 1),
        }
        history["epochs"].append(entry)
        log.info(
            "epoch %d loss %.4f dev F1 %.4f (%.0f s)", epoch, entry["loss"], entry["dev"]["f1"], entry["train_seconds"]
        )
        if improved:
            history.update(best_epoch=epoch, best_dev_f1=entry["dev"]["f1"])
            save_checkpoint(model, tokenizer, cfg, out / "best", {"epoch": epoch, "dev": entry["dev"], **facts})
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        write_json(out / "history.json", history, inputs=inputs_of(cfg))
        if cfg.patience is not None and state["bad_epochs"] >= cfg.patience:
            history["stopped"] = f"dev F1 did not rise for {cfg.patience} epochs"
        elif cfg.time_budget_minutes and time.time() - started > 60 * cfg.time_budget_minutes:
            history["stopped"] = f"time budget of {cfg.time_budget_minutes} minutes reached"
        return history.get("stopped")

    fit(
        accelerator,
        Objective(model, plim_loss),
        optimizer,
        train_set,
        collate_batch,
        batches=lambda gen, size: bucketed_batches(train_set, size, gen),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        clip=cfg.grad_clip,
        desc="PLIM",
        progress=progress,
        grad_accum=cfg.grad_accum,
        schedule="linear",
        warmup_ratio=cfg.warmup_ratio,
        evaluate=dev_f1,
        keep_best=False,  # the best epoch is on disk (<out>/best)
        on_epoch=on_epoch,
    )
    with finishing(accelerator) as main:
        if not main:
            return history
        history["seconds"] = round(time.time() - started, 1)
        write_json(out / "history.json", history, inputs=inputs_of(cfg))
        return history
