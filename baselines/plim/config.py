"""The PLIM run configuration (pydantic): everything needed to rerun a training, and the paper's presets."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from smner_bench.benchmark.registry import DATASET_NAMES

from ..config import PresetConfig

# The paper's settings (section V-A) and the released configs' CRF learning rates. The paper trains every epoch
# and evaluates the best dev epoch: its presets do not stop early (patience None); "minilm" (ours) does.
PRESETS: dict[str, dict] = {
    "bert-base": {"lr": 5e-5, "batch_size": 16, "epochs": 20, "crf_lr": 0.01, "patience": None},
    "xlmr-large-twitter2015": {"lr": 5e-6, "batch_size": 4, "epochs": 25, "crf_lr": 0.008, "patience": None},
    "xlmr-large-twitter2017": {"lr": 7e-6, "batch_size": 4, "epochs": 25, "crf_lr": 0.015, "patience": None},
    "xlmr-large-gmner": {"lr": 7e-6, "batch_size": 4, "epochs": 25, "crf_lr": 0.015, "patience": None},
    "minilm": {"lr": 5e-5, "batch_size": 16, "epochs": 20, "crf_lr": 0.01},
}


class PlimConfig(PresetConfig):
    """A PLIM training run: ``baseline plim-train``'s options, a ``--config`` YAML file, or Python alike; presets:
    the paper's settings (:data:`PRESETS`)."""

    PRESETS: ClassVar[dict[str, dict]] = PRESETS

    # Descriptions are the help of ``baseline plim-train``'s options (one per field, see baselines/commands/plim.py)
    encoder: str = Field(description="encoder folder (from_pretrained; a hub name where a hub is reachable)")
    dataset: Literal[DATASET_NAMES] = "gmner"  # type: ignore[valid-type]
    data_dir: str = Field(description="the dataset's release folder")
    knowledge: list[str] = Field(default_factory=list, description="knowledge release (repeat for the paper's Mix)")
    out: str = Field(description="run folder: history.json, run.json, best/ checkpoint")
    max_length: int = Field(default=256, ge=16, le=512, description="subword tokens per tweet + knowledge")
    batch_size: int = Field(default=16, ge=1, description="tweets per batch, per process")
    eval_batch_size: int = Field(default=64, ge=1)
    epochs: int = Field(default=20, ge=1, description="training epochs")
    lr: float = Field(default=5e-5, gt=0, description="the encoder's learning rate")
    crf_lr: float = Field(default=0.01, gt=0, description="the CRF's and classifier's learning rate")
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.1, ge=0, le=1)
    dropout: float = Field(default=0.1, ge=0, lt=1, description="dropout before the classifier (0: the encoder's too)")
    word_dropout: float = Field(default=0.05, ge=0, lt=1, description="fraction of words dropped in training")
    grad_clip: float = Field(default=1.0, gt=0)
    patience: int | None = Field(default=3, ge=1, description="epochs without a better dev F1 before stopping")
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="random seed (0 to 2**32 - 1, numpy's range)")
    threads: int | None = Field(default=None, ge=1, le=4096, description="torch CPU threads (default: torch's)")
    device: str = Field(default="cpu", description="cpu or cuda (the process's GPU under a launcher)")
    # accelerate's autocast, weights stay fp32; None: the launcher's (accelerate config), else no
    mixed_precision: Literal["no", "bf16", "fp16"] | None = None
    amp: Literal["none", "bf16"] | None = None  # the older name of mixed_precision (none/bf16), still read
    grad_accum: int = Field(default=1, ge=1, description="batches per optimizer step (default 1)")
    max_train_tweets: int | None = Field(default=None, ge=1, description="a prefix of train (smoke runs)")
    time_budget_minutes: float | None = Field(default=None, gt=0, description="stop after the epoch that passes it")
    cache_dir: str | None = None  # datasets cache (default: the Hugging Face cache)

    @model_validator(mode="after")
    def _older_amp(self) -> PlimConfig:
        """``amp: bf16`` (configs and checkpoints written before ``mixed_precision``) means bf16."""
        if self.amp == "bf16" and self.mixed_precision is None:
            self.mixed_precision = "bf16"
        return self
