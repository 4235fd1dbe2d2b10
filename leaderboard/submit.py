"""``leaderboard submit``: validate and score a submission, then add a "scored here" entry; ``verify``:
re-score every kept copy and compare every stored figure."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from smner_bench.benchmark import __version__, registry
from smner_bench.benchmark.cli_options import redact_command
from smner_bench.benchmark.errors import DataFormatError, MissingDataError, SmnerError, UsageError, validation_message
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.io import parse_yaml
from smner_bench.benchmark.scoring import PRF, Scorer, ScoreReport
from smner_bench.benchmark.submission import read_submission

from .entry import (
    SUBTASKS,
    Block,
    BoardTask,
    Entry,
    Figures,
    Interval,
    Match,
    Name,
    Release,
    ScoredHere,
    SweepPoint,
    Url,
    Variant,
    canonical_json,
    sealed,
    slug,
)
from .releases import release_submission
from .store import DEFAULT_ROOT, Stored, read_entries, submission_copy, submission_lock, write_scored

MAX_META_BYTES = 64 << 10


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Meta(BaseModel):
    """What the submitter says about the system (``--meta meta.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    system: Annotated[Name, BeforeValidator(_strip)]
    variant: Variant = Variant()
    task: BoardTask | None = None  # default: the most specific the file supports
    match: Match | None = None
    notes: Annotated[Block, BeforeValidator(_strip)] | None = None
    paper_url: Url | None = None  # the system's paper (an http(s) URL), linked from its row
    code_url: Url | None = None  # the system's code


def read_meta(path: str | os.PathLike) -> Meta:
    """The meta file, validated; every problem is exit 1 naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("meta file not found", file=path)
    size = path.stat().st_size
    if size > MAX_META_BYTES:
        raise DataFormatError(f"a meta file of {size} bytes (at most {MAX_META_BYTES})", file=path)
    data = parse_yaml(path.read_bytes(), file=path, problem="unreadable YAML")  # a key written twice: its line
    if not isinstance(data, dict):
        raise DataFormatError("expected a mapping (system: ..., variant: ..., notes: ...)", file=path)
    try:
        return Meta.model_validate(data)
    except ValidationError as exc:
        raise DataFormatError(validation_message(exc, limit=300), file=path) from None


# --- canonical content ---------------------------------------------------------------------------------------


def _canonical_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_value(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):  # 5, 5.0 and -0.0 / 0 are the same number
        try:
            number = float(value)
        except OverflowError:
            return value
        return 0.0 if number == 0 else number
    return value


def content_digest(lines: Iterable[bytes]) -> str:
    """SHA-256 of a submission's canonical content: each non-blank line parsed as JSON, written back with
    sorted keys, no spaces and numbers as floats, each tweet's entities sorted by their own canonical JSON,
    the lines sorted by tweet id. Line endings (CRLF), key order, spacing, blank lines, the order of the lines
    and the order of the entities within a line do not change it: a reordered file is the same set of
    predictions, so the same submission, whatever the match mode. (The ``riveg`` matching is first-fit in
    file order, so reordering a tweet's entities can move its figures by a few matches under ``--match
    riveg``; that does not make it a new submission.) The lines must be valid JSON (a validated
    submission)."""
    records = []
    for raw in lines:
        if not raw.strip():
            continue
        obj = _canonical_value(json.loads(raw))
        if isinstance(obj, dict) and isinstance(obj.get("entities"), list):
            obj["entities"] = sorted(obj["entities"], key=canonical_json)
        key = str(obj.get("id")) if isinstance(obj, dict) else ""
        records.append((key, canonical_json(obj)))
    digest = hashlib.sha256()
    for _, record in sorted(records):
        digest.update(record + b"\n")
    return digest.hexdigest()


def file_content_digest(path: str | os.PathLike, *, gzipped: bool = False) -> str:
    with (gzip.open if gzipped else open)(path, "rb") as f:
        return content_digest(f)


# --- commands as published ----------------------------------------------------------------------------------

# --- entries from reports ---------------------------------------------------------------------------------


def _figures(r: PRF) -> Figures:
    return Figures(
        precision=round(100 * r.precision, 2),
        recall=round(100 * r.recall, 2),
        f1=round(100 * r.f1, 2),
        tp=r.tp,
        tp_pred=r.tp_pred,
        pred=r.pred,
        gold=r.gold,
    )


RESAMPLES, SEED = 1000, 0  # the bootstrap of a scored entry's interval


def with_interval(scorer: Scorer, report: ScoreReport) -> ScoreReport:
    """``report`` with the 95% bootstrap interval of its main F1 that its entry keeps (:data:`RESAMPLES`
    resamples of the tweets, seed :data:`SEED`)."""
    return scorer.with_interval(report, resamples=RESAMPLES, seed=SEED)


def build_entry(
    report: ScoreReport,
    meta: Meta,
    gold: Gold,
    *,
    command: str,
    dataset_version: str,
    content_sha256: str,
    date: dt.date | None = None,
    version: str = __version__,
    entry_id: str | None = None,
    release: Release | None = None,
) -> Entry:
    """The sealed entry of a score report (figures with their counts, per type, groundable split, sweep, and the
    main F1's bootstrap interval when the report has one: :func:`with_interval`)."""
    task = report.task
    if task not in SUBTASKS:
        raise UsageError(f"the leaderboard ranks mner, gmner and smner; this report's task is {task}")
    dataset, split = gold.dataset, gold.split
    main = report.main
    sha = report.submission.sha256
    sweep = None
    if main.sweep:
        s = main.sweep
        sweep = [
            SweepPoint(threshold=t, f1=round(100 * f, 2), tp=tp)
            for t, f, tp in zip(s.thresholds, s.f1, s.tp, strict=True)
        ]
    try:
        entry = Entry(
            id=entry_id or f"scored/{dataset}/{task}/{slug(meta.system) or 'system'}-{sha[:12]}",
            system=meta.system,
            variant=meta.variant,
            task=task,
            dataset=dataset,
            dataset_version=dataset_version,
            split=split,
            iou=report.iou,
            results={t: _figures(report.results[t]) for t in SUBTASKS[task] if t in report.results},
            per_type={k: _figures(v) for k, v in main.per_type.items()},
            grounding={k: _figures(v) for k, v in main.grounding.items()} if main.grounding else None,
            sweep=sweep,
            interval=(
                Interval(
                    low=round(100 * report.ci.low, 2),
                    high=round(100 * report.ci.high, 2),
                    level=report.ci.level,
                    resamples=report.ci.resamples,
                    seed=report.ci.seed,
                )
                if report.ci is not None
                else None
            ),
            provenance=ScoredHere(
                submission_sha256=sha,
                content_sha256=content_sha256,
                submission_file=Path(report.submission.file).name,
                smner_bench_version=version,
                dataset_checksum=gold.checksum(),
                date=date or dt.date.today(),
                command=redact_command(command),
                match=report.match,
                release=release,
                paper_url=meta.paper_url,
                code_url=meta.code_url,
            ),
            notes=meta.notes,
        )
    except ValidationError as exc:
        raise UsageError(f"cannot make an entry: {validation_message(exc)}") from None
    return sealed(entry)


def _score_stream(opener, file_name: str, gold: Gold, *, task: str, match: str, iou: float) -> tuple[ScoreReport, str]:
    """Score the submission ``opener()`` reads (binary) through the same path as ``submit`` (read as a file named
    ``file_name``, with the file-level checks); returns the report and its canonical content digest."""
    with opener() as f:
        submission = read_submission(f, gold, name=file_name, task=task)
    scorer = Scorer.build(submission, gold)
    report = with_interval(scorer, scorer.report(task, match, iou))
    with opener() as f:
        return report, content_digest(f)


def score_copy(copy: Path, file_name: str, gold: Gold, *, task: str, match: str, iou: float) -> tuple[ScoreReport, str]:
    """Score a kept gzip copy, decompressed as it is read (no temporary file)."""
    return _score_stream(lambda: gzip.open(copy, "rb"), file_name, gold, task=task, match=match, iou=iou)


def score_bytes(
    data: bytes, file_name: str, gold: Gold, *, task: str, match: str, iou: float
) -> tuple[ScoreReport, str]:
    """:func:`score_copy` of a submission held in memory (a release imported again)."""
    return _score_stream(lambda: io.BytesIO(data), file_name, gold, task=task, match=match, iou=iou)


def rescore(stored: Stored, gold: Gold, release_root: str | os.PathLike | None = None) -> Entry:
    """The entry ``stored`` should be: its kept copy (or its release, imported again from below
    ``release_root``) scored again on ``gold`` through the same path as ``submit``, with the stored system,
    notes, date, command and version; every other field (dataset and its version from the registry, split,
    checksum, task, match, IoU) is what ``submit`` would write today."""
    e = stored.entry
    prov = e.provenance
    if prov.kind != "scored":
        raise UsageError(f"{e.id} is a published entry: only scored entries are re-scored")
    options = {"task": e.task, "match": prov.match, "iou": e.iou}
    if prov.release is not None:
        data = release_submission(prov.release, release_root, gold)
        report, content = score_bytes(data, prov.submission_file, gold, **options)
    else:
        report, content = score_copy(submission_copy(stored.file), prov.submission_file, gold, **options)
    # the stored texts as they are (the entry model checked them): no meta-file rules (stripping) re-applied
    meta = Meta.model_construct(
        system=e.system,
        variant=e.variant,
        task=e.task,
        match=prov.match,
        notes=e.notes,
        paper_url=prov.paper_url,
        code_url=prov.code_url,
    )
    dataset = gold.dataset
    if dataset not in registry.DATASETS:
        raise UsageError(f"{gold.name}: not a dataset of the leaderboard ({', '.join(registry.DATASETS)})")
    return build_entry(
        report,
        meta,
        gold,
        command=prov.command,
        dataset_version=registry.dataset_version(dataset),
        content_sha256=content,
        date=prov.date,
        version=prov.smner_bench_version,
        entry_id=e.id,
        release=prov.release,
    )


def _differences(stored: dict, fresh: dict, path: str = "") -> list[str]:
    if isinstance(stored, dict) and isinstance(fresh, dict):
        out = []
        for key in sorted(set(stored) | set(fresh)):
            out += _differences(stored.get(key), fresh.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(stored, list) and isinstance(fresh, list) and len(stored) == len(fresh):
        return [
            d for i, (a, b) in enumerate(zip(stored, fresh, strict=True)) for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if stored == fresh else [f"{path}: stored {json.dumps(stored)[:80]}, recomputed {json.dumps(fresh)[:80]}"]


def duplicate_submissions(stored: list[Stored]) -> list[str]:
    """One problem for each submission (canonical content digest) that more than one scored entry holds, naming
    every such entry file: ``submit`` refuses a submission already on the board, so two entries of one content
    are two submissions that raced, or entries added by hand or merged from two branches."""
    by_content: dict[str, list[Stored]] = {}
    for s in stored:
        prov = s.entry.provenance
        if prov.kind == "scored":
            by_content.setdefault(prov.content_sha256, []).append(s)
    return [
        f"{', '.join(s.file.name for s in group)}: one submission (canonical SHA-256 {digest[:12]}...) has "
        f"{len(group)} entries ({', '.join(s.entry.id for s in group)}): keep one"
        for digest, group in sorted(by_content.items())
        if len(group) > 1
    ]


def verify(stored: list[Stored], gold: Gold, release_root: str | os.PathLike | None = None) -> tuple[list[str], int]:
    """Re-score the kept copy of every scored entry on ``gold``'s dataset and split and compare every stored
    figure (all subtasks, per type, groundable split, IoU sweep, with their counts), every provenance field
    it can recompute (dataset, dataset version from the registry, split, task, IoU, the gold's checksum, the
    match mode of the report, the copy's SHA-256 and canonical content digest). An entry imported from a
    release is imported again from below ``release_root``. Returns (problems, number of entries verified);
    entries of other datasets and splits are not re-scored. Two scored entries of one submission (one canonical
    content digest), on any dataset, are a problem naming both (:func:`duplicate_submissions`)."""
    problems = duplicate_submissions(stored)
    checked = 0
    dataset, split = gold.dataset, gold.split
    for s in stored:
        e = s.entry
        if e.provenance.kind != "scored" or (e.dataset, e.split) != (dataset, split):
            continue
        checked += 1
        version = registry.dataset_version(dataset)  # a known dataset: an entry names it
        if e.dataset_version != version:
            problems.append(
                f"{s.file.name}: dataset_version: stored {json.dumps(e.dataset_version)[:80]}, "
                f"the registry's version of {dataset} is {json.dumps(version)}"
            )
            continue
        if e.provenance.dataset_checksum != gold.checksum():
            problems.append(f"{s.file.name}: scored on other gold (dataset checksum differs)")
            continue
        try:
            fresh = rescore(s, gold, release_root)
        except SmnerError as exc:
            what = "its release" if e.provenance.release is not None else "the kept copy"
            problems.append(f"{s.file.name}: {what} cannot be scored again: {str(exc)[:300]}")
            continue
        keep = {"dataset", "dataset_version", "split", "task", "iou", "provenance"}
        keep |= {"results", "per_type", "grounding", "sweep", "interval"}
        differences = _differences(
            e.model_dump(mode="json", include=keep, exclude_none=True),
            fresh.model_dump(mode="json", include=keep, exclude_none=True),
        )
        problems += [f"{s.file.name}: {d}" for d in differences]
    return problems, checked


def submit(
    predictions: str | os.PathLike,
    meta_path: str | os.PathLike,
    gold: Gold,
    *,
    command: str,
    dataset_version: str,
    root: str | os.PathLike = DEFAULT_ROOT,
    iou: float = 0.5,
    release: Release | None = None,
    release_root: str | os.PathLike | None = None,
) -> tuple[Entry, Path, list]:
    """Score ``predictions`` and write its entry; refuses predictions already on the board (the same
    canonical content, however the file is written, under whatever system name). With ``release`` (below
    ``release_root``), the predictions must be exactly that release's import (``smner-bench import``), and no copy
    is kept. Returns the entry, its file and the bad entries that were excluded from the board while checking
    (reported by the caller).

    The check that the content is not on the board and the writing of the entry happen under the entries
    folder's lock (:func:`~.store.submission_lock`): two submissions of the same predictions started together
    give one entry, and the other is refused as already on the board."""
    meta = read_meta(meta_path)
    submission = read_submission(predictions, gold, task=meta.task)
    content = file_content_digest(predictions)
    if release is not None and content_digest(io.BytesIO(release_submission(release, release_root, gold))) != content:
        raise UsageError(
            f"{predictions}: not the import of the release {release.file} (smner-bench import "
            f"{release.importer} on the same gold writes other predictions)"
        )
    scorer = Scorer.build(submission, gold)
    report = with_interval(scorer, scorer.report(meta.task, meta.match, iou))
    entry = build_entry(
        report, meta, gold, command=command, dataset_version=dataset_version, content_sha256=content, release=release
    )
    with submission_lock(root):
        board = read_entries(root)
        for stored in board.stored:
            prov = stored.entry.provenance
            if prov.kind == "scored" and prov.content_sha256 == content:
                same = "this file" if prov.submission_sha256 == submission.sha256 else "the same predictions"
                raise UsageError(
                    f"{same} (canonical SHA-256 {content[:12]}...) is already on the board as {stored.entry.id} "
                    f"({stored.file.name})"
                )
        if any(s.entry.id == entry.id for s in board.stored):
            raise UsageError(f"an entry {entry.id} already exists")
        return entry, write_scored(entry, predictions, root), board.bad
