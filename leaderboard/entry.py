"""Leaderboard entries: figures with provenance (pydantic models, one YAML/JSON file per source).

An entry is one system's figures on one task of one dataset split. Figures are percentages (0-100) as a
paper prints them (two decimals); a figure a source does not give is ``null``. Provenance is either a
publication (citation, arXiv id, table, the row's label as printed) or "scored here" (the submission's
SHA-256, the smner-bench version, the gold's checksum, the date and the exact command).

Files: ``entries/published/<source>.yaml`` hold a list of entries each (reviewed in pull requests, never
written by code); ``entries/scored/<id>.json`` hold one scored entry each (written by ``submit``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Task = Literal["mner", "eeg", "gmner", "ees", "smner"]
BOARD_TASKS = ("mner", "gmner", "smner")  # the tasks a board ranks; eeg/ees are shown as subtasks
Dataset = Literal["twitter2015", "twitter2017", "gmner", "gmner-v1", "smner"]
SUBTASKS = {"mner": ("mner",), "gmner": ("gmner", "mner", "eeg"), "smner": ("smner", "mner", "ees")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figures(_Strict):
    """Precision, recall, F1 in percent; precision and recall may be unknown (a paper's "-")."""

    precision: float | None = Field(default=None, ge=0, le=100)
    recall: float | None = Field(default=None, ge=0, le=100)
    f1: float = Field(ge=0, le=100)


class Variant(_Strict):
    """What the system is made of, where a source says so (all optional, free text)."""

    mner: str | None = None
    ve: str | None = None
    vg: str | None = None
    text_encoder: str | None = None
    llm: str | None = None
    augmentation: str | None = None


class Publication(_Strict):
    kind: Literal["publication"] = "publication"
    citation: str
    arxiv: str | None = None
    url: str | None = None
    table: str  # e.g. "Table VI"
    row: str  # the row's label as printed


class ScoredHere(_Strict):
    kind: Literal["scored"] = "scored"
    submission_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    submission_file: str
    smner_bench_version: str
    dataset_checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    date: dt.date
    command: str
    match: Literal["span", "text", "riveg"]


Provenance = Annotated[Publication | ScoredHere, Field(discriminator="kind")]


class SweepPoint(_Strict):
    threshold: float = Field(ge=0.5, le=0.95)
    f1: float = Field(ge=0, le=100)


class Entry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    system: str
    variant: Variant = Variant()
    task: Literal["mner", "gmner", "smner"]
    dataset: Dataset
    dataset_version: str
    split: Literal["train", "validation", "test"] = "test"
    iou: float = Field(default=0.5, gt=0, le=1)
    results: dict[Task, Figures]
    per_type: dict[Literal["PER", "LOC", "ORG", "OTHER"], Figures] | None = None
    sweep: list[SweepPoint] | None = None
    provenance: Provenance
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _no_dot_segments(cls, value: str) -> str:
        if any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("id segments must not be empty, '.' or '..'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        if self.task not in self.results:
            raise ValueError(f"results must include the entry's task {self.task!r}")
        allowed = set(SUBTASKS[self.task])
        extra = set(self.results) - allowed
        if extra:
            raise ValueError(f"a {self.task} entry reports {sorted(allowed)}, not {sorted(extra)}")
        if self.task == "smner" and self.dataset != "smner":
            raise ValueError("SMNER figures are on the smner dataset")
        if self.task == "gmner" and self.dataset not in ("gmner", "gmner-v1"):
            raise ValueError("GMNER figures are on the gmner or gmner-v1 dataset")
        return self

    @property
    def main(self) -> Figures:
        return self.results[self.task]


def slug(text: str) -> str:
    """A lower-case id segment: ``"RiVEG†XLMR (ours)"`` -> ``"riveg-xlmr-ours"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
