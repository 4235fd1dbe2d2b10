"""``leaderboard submit``: validate and score a submission, then add a "scored here" entry."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import tempfile
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from smner_bench.benchmark import __version__
from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.submission import read_submission

from .entry import SUBTASKS, Entry, Figures, ScoredHere, SweepPoint, Variant, slug
from .store import DEFAULT_ROOT, load_entries, write_scored


class Meta(BaseModel):
    """What the submitter says about the system (``--meta meta.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    system: str
    variant: Variant = Variant()
    task: str | None = None  # default: the most specific the file supports
    match: str | None = None
    notes: str | None = None


def read_meta(path: str | os.PathLike) -> Meta:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("meta file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Meta.model_validate(data)
    except yaml.YAMLError as exc:
        raise DataFormatError(f"unreadable YAML ({exc})", file=path) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DataFormatError(first["msg"], file=path, field=".".join(map(str, first["loc"]))) from None


def _pct(r: dict) -> Figures:
    return Figures(
        precision=round(100 * r["precision"], 2), recall=round(100 * r["recall"], 2), f1=round(100 * r["f1"], 2)
    )


def build_entry(report: dict, meta: Meta, gold: Gold, *, command: str, dataset_version: str) -> Entry:
    task = report["task"]
    if task not in SUBTASKS:
        raise UsageError(f"the leaderboard ranks mner, gmner and smner; this report's task is {task}")
    dataset, split = gold.name.split("/")
    main = report["results"][task]
    sha = report["submission"]["sha256"]
    return Entry(
        id=f"scored/{dataset}/{task}/{slug(meta.system)}-{sha[:12]}",
        system=meta.system,
        variant=meta.variant,
        task=task,
        dataset=dataset,
        dataset_version=dataset_version,
        split=split,
        iou=report["iou"],
        results={t: _pct(report["results"][t]) for t in SUBTASKS[task] if t in report["results"]},
        per_type={k: _pct(v) for k, v in main["per_type"].items()},
        sweep=[
            SweepPoint(threshold=t, f1=round(100 * f, 2))
            for t, f in zip(main["sweep"]["thresholds"], main["sweep"]["f1"], strict=True)
        ]
        if "sweep" in main
        else None,
        provenance=ScoredHere(
            submission_sha256=sha,
            submission_file=Path(report["submission"]["file"]).name,
            smner_bench_version=__version__,
            dataset_checksum=gold.checksum(),
            date=dt.date.today(),
            command=command,
            match=report["match"],
        ),
        notes=meta.notes,
    )


def verify(stored: list, gold: Gold, *, root: str | os.PathLike = DEFAULT_ROOT) -> list[str]:
    """Re-score the kept copy of every scored entry on ``gold``'s dataset and split; returns the problems
    (an entry whose figures differ from a fresh score was tampered with, or scored on other gold)."""
    from .store import submission_copy

    problems = []
    dataset, split = gold.name.split("/")
    for s in stored:
        e = s.entry
        if e.provenance.kind != "scored" or (e.dataset, e.split) != (dataset, split):
            continue
        if e.provenance.dataset_checksum != gold.checksum():
            problems.append(f"{e.id}: scored on other gold (dataset checksum differs)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / e.provenance.submission_file
            with gzip.open(submission_copy(s.file), "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
            report = Scorer.build(read_submission(path, gold), gold).report(e.task, e.provenance.match, e.iou)
        fresh = {t: _pct(report["results"][t]) for t in e.results}
        if fresh != e.results:
            problems.append(f"{e.id}: figures differ from a fresh score: {fresh} vs {e.results}")
    return problems


def submit(
    predictions: str | os.PathLike,
    meta_path: str | os.PathLike,
    gold: Gold,
    *,
    command: str,
    dataset_version: str,
    root: str | os.PathLike = DEFAULT_ROOT,
    iou: float = 0.5,
) -> tuple[Entry, Path]:
    """Score ``predictions`` and write its entry; refuses a file already on the board (same SHA-256)."""
    meta = read_meta(meta_path)
    existing = load_entries(root)
    submission = read_submission(predictions, gold, task=meta.task)
    for stored in existing:
        prov = stored.entry.provenance
        if prov.kind == "scored" and prov.submission_sha256 == submission.sha256:
            raise UsageError(
                f"this file (SHA-256 {submission.sha256[:12]}...) is already on the board as "
                f"{stored.entry.id} ({stored.file})"
            )
    report = Scorer.build(submission, gold).report(meta.task, meta.match, iou)
    entry = build_entry(report, meta, gold, command=command, dataset_version=dataset_version)
    if any(s.entry.id == entry.id for s in existing):
        raise UsageError(f"an entry {entry.id} already exists")
    return entry, write_scored(entry, predictions, root)
