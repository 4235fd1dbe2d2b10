"""PLIM predictions for a split, written as an MNER submission (spans and types)."""

from __future__ import annotations

from pathlib import Path

from smner_bench.benchmark.safe_output import output_file
from smner_bench.benchmark.submission import write_submission
from smner_bench.loaders import load_split

from .config import PlimConfig
from .train import encode_rows, load_checkpoint, predict_tags, submission_lines


def predict(
    checkpoint: str | Path,
    split: str,
    out: str | Path,
    *,
    data_dir: str | None = None,
    knowledge: str | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    dtype: str | None = None,
) -> Path:
    """Tag ``split`` with the checkpoint and write ``out``; the dataset and knowledge default to the run's.

    ``out`` follows the safe-output rules: never the checkpoint, the data or the knowledge it reads (checked
    before the model is loaded), its folder must exist."""
    output_file(out, inputs=[checkpoint, data_dir, knowledge])
    model, tokenizer, meta = load_checkpoint(checkpoint, dtype=dtype, device=device)
    cfg = PlimConfig.model_validate(meta["config"])
    knowledge = knowledge if knowledge is not None else (cfg.knowledge[0] if cfg.knowledge else None)
    data_dir = data_dir or cfg.data_dir
    rows = list(load_split(cfg.dataset, data_dir, split, knowledge=knowledge, cache_dir=cfg.cache_dir))
    encoded = encode_rows(rows, tokenizer, cfg, with_labels=False)
    tags = predict_tags(model.to(device), encoded, tokenizer.pad_token_id, batch_size, device)
    write_submission(out, submission_lines(rows, tags), inputs=[checkpoint, data_dir, knowledge])
    return Path(out)
