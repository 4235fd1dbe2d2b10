"""Leaderboard entries: figures with provenance (pydantic models, one YAML/JSON file per source).

An entry is one system's figures on one task of one dataset split. Figures are percentages (0-100) as a
paper prints them (two decimals); a figure a source does not give is ``null``. Provenance is either a
publication (citation, arXiv id, table, the row's label as printed) or "scored here" (the submission's
SHA-256 and canonical-content SHA-256, the smner-bench version, the gold's checksum, the date and the
command with its paths reduced to file names).

Files: ``entries/published/<source>.yaml`` hold a list of entries each (reviewed in pull requests, never
written by code); ``entries/scored/<id>.json`` hold one scored entry each (written by ``submit``).

Consistency rules the model enforces on every entry:

- an F1 agrees with its precision and recall: some P, R within half a unit of the last printed digit give
  an F1 that rounds to it (:func:`f1_consistent`); the only exceptions are the source tables' own typos,
  pinned with their printed value in :data:`PRINTED_F1_EXCEPTIONS`;
- a scored entry carries the counts behind every figure (tp, predicted, gold), and every percentage is
  exactly the rounded figure of its counts; its sweep is 0.50:0.05:0.95 with the true positives of each
  threshold; it carries a :attr:`Entry.digest` (SHA-256 over its canonical content, :func:`entry_digest`)
  that the store checks on every read. Published entries carry no digest (hand-edited, reviewed files).
- the ``(dataset, dataset_version)`` pair is one the registry knows (``benchmark/registry.py``'s ``DATASETS``), and
  the dataset holds boards of the task;
- a GMNER or SMNER entry names its ruler, an evaluator convention of the registry's ``EVALUATORS``: a published
  one its ``provenance.evaluator`` and ``provenance.gold`` (a release of its dataset, or a derived gold), a scored
  one a match mode that a convention reproduces (:func:`evaluator_of_match`); a quoted figure names the paper it
  is quoted from;
- provenance text is bounded; one-line fields (system, variant parts, table, row, command) hold no control
  character, no line or paragraph separator and no Unicode format character (category Cf: bidi controls such
  as U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces, soft hyphens), which would reorder or hide text where
  it is shown; text blocks (notes, citation) may hold newlines and tabs, and of the format characters only
  the zero-width (non-)joiners U+200C/U+200D that some scripts and emoji need; ``system`` is non-empty and
  stripped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from smner_bench.benchmark.metrics import SWEEP, prf
from smner_bench.benchmark.registry import (
    DATASET_NAMES,
    DATASETS,
    EVALUATOR_IDS,
    EVALUATORS,
    MATCH_MODES,
    RANKED_TASK_NAMES,
    RANKED_TASKS,
    SPLITS,
    TASK_NAMES,
    TASKS,
)
from smner_bench.benchmark.tags import TYPES
from smner_bench.formats import RELEASE_IMPORTERS

from .escape import JOINERS, web_url

# The literals of the registry's names (pydantic reads Literal[tuple] as Literal of each name)
Task = Literal[TASK_NAMES]  # type: ignore[valid-type]
BOARD_TASKS = RANKED_TASK_NAMES  # the tasks a board ranks; eeg/ees are shown as subtasks
BoardTask = Literal[BOARD_TASKS]  # type: ignore[valid-type]
Dataset = Literal[DATASET_NAMES]  # type: ignore[valid-type]
Split = Literal[SPLITS]  # type: ignore[valid-type]
Match = Literal[MATCH_MODES]  # type: ignore[valid-type]
SUBTASKS = {t.name: (t.name, *t.subtasks) for t in RANKED_TASKS}  # a board's task first, then its report's others
TypeName = Literal[TYPES]  # type: ignore[valid-type]
EvaluatorId = Literal[EVALUATOR_IDS]  # type: ignore[valid-type]
GROUNDED_TASKS = tuple(t for t in BOARD_TASKS if TASKS[t].region is not None)  # gmner, smner: a ruler is required


def evaluator_of_match(match: str) -> str | None:
    """The evaluator convention (``registry.EVALUATORS`` id) that this package's ``--match`` mode reproduces, or
    None when none does.

    >>> evaluator_of_match("span"), evaluator_of_match("riveg")
    ('smner-span', 'riveg-statistic')
    """
    return next((e.id for e in EVALUATORS.values() if e.match == match), None)


def release_versions(dataset: str) -> tuple[str, ...]:
    """The registry's releases of ``dataset``: its own version, then those of the datasets that are other releases
    of it (``gmner``: ``v2.0``, ``v1``)."""
    return (DATASETS[dataset].version, *(d.version for d in DATASETS.values() if d.release_of == dataset))

MAX_NAME = 200  # system, variant parts, table, row, dataset version
MAX_TEXT = 2000  # notes, citation, command
MAX_URL = 500

# (entry id, figures path) -> the F1 the source prints although it is not 2PR/(P+R) of its printed P and R.
# Each is a typo (or another averaging) in the source table, kept as printed and explained in the entry's notes.
PRINTED_F1_EXCEPTIONS: dict[tuple[str, str], float] = {
    ("riveg-tmm2025/tablev/bert/r-gcn/twitter2015", "results.mner"): 75.00,
    ("riveg-tmm2025/tablev/bert/r-gcn/twitter2017", "results.mner"): 87.11,
}


BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _char_name(c: str) -> str:
    return f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}"


def _format_character(value: str, allowed: frozenset[str] = frozenset()) -> None:
    for c in value:
        if c in BIDI_CONTROLS:
            raise ValueError(f"must not hold bidi controls, which reorder the text shown (found {_char_name(c)})")
        if unicodedata.category(c) == "Cf" and c not in allowed:
            raise ValueError(f"must not hold invisible format characters (found {_char_name(c)})")


def _one_line(value: str) -> str:
    bad = [c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    if bad:
        raise ValueError(f"must be one line without control characters (found {bad[0]!r})")
    _format_character(value)
    return value


def _stripped(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


def _text_block(value: str) -> str:
    bad = [c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\t"]
    if bad:
        raise ValueError(f"must not hold control characters (found {bad[0]!r})")
    _format_character(value, allowed=JOINERS)
    return value


def _url(value: str) -> str:
    if web_url(value) is None:
        raise ValueError(
            "must be an http(s) URL with a host name and no user name, of the characters of RFC 3986 "
            "(no space, quote, backslash or angle bracket)"
        )
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date YYYY-MM-DD")
    if not isinstance(value, (str, dt.date)) or isinstance(value, dt.datetime):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_one_line), AfterValidator(_stripped)]
Line = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_one_line)]
Block = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_text_block)]
Url = Annotated[str, Field(max_length=MAX_URL), AfterValidator(_url)]
Date = Annotated[dt.date, BeforeValidator(_iso_date)]
Count = Annotated[int, Field(ge=0, le=10**9, strict=True)]  # an integer as written: true, "3" and 3.0 are refused
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _pct(value: float) -> float:
    return round(100 * value, 2)


class Figures(_Strict):
    """Precision, recall, F1 in percent; precision and recall may be unknown (a paper's "-").

    Scored entries also carry the counts: ``tp`` (gold entities found), ``tp_pred`` (correct predictions,
    when it differs from ``tp``: a type-blind or grounding breakdown), ``pred`` and ``gold``; the
    percentages must then be exactly their rounded figures."""

    precision: float | None = Field(default=None, ge=0, le=100)
    recall: float | None = Field(default=None, ge=0, le=100)
    f1: float = Field(ge=0, le=100)
    tp: Count | None = None
    tp_pred: Count | None = None
    pred: Count | None = None
    gold: Count | None = None

    @property
    def has_counts(self) -> bool:
        return self.tp is not None

    @model_validator(mode="after")
    def _counts(self) -> Figures:
        counts = (self.tp, self.pred, self.gold)
        if all(c is None for c in counts):
            if self.tp_pred is not None:
                raise ValueError("tp_pred without tp, pred and gold")
            return self
        if any(c is None for c in counts):
            raise ValueError("give all of tp, pred and gold, or none")
        tp_pred = self.tp if self.tp_pred is None else self.tp_pred
        if self.tp > self.gold or tp_pred > self.pred:  # type: ignore[operator]
            raise ValueError(f"counts impossible: tp {self.tp}, tp_pred {tp_pred}, pred {self.pred}, gold {self.gold}")
        fresh = prf(self.tp, self.pred, self.gold, tp_pred=self.tp_pred)  # type: ignore[arg-type]
        for name in ("precision", "recall", "f1"):
            if getattr(self, name) != _pct(fresh[name]):
                raise ValueError(
                    f"{name} {getattr(self, name)} is not the figure of its counts ({_pct(fresh[name])} from "
                    f"tp {self.tp}, pred {self.pred}, gold {self.gold})"
                )
        return self


def f1_consistent(precision: float, recall: float, f1: float, half: float = 0.005) -> bool:
    """Whether ``f1`` can be the rounded F1 of some precision and recall that round to the printed ones
    (each within ``half`` a unit of the last printed digit). F1 grows with P and R, so the extremes bound it.

    >>> f1_consistent(73.95, 76.18, 75.05), f1_consistent(73.95, 76.18, 75.00)
    (True, False)
    """

    def f(p: float, r: float) -> float:
        p, r = min(max(p, 0.0), 100.0), min(max(r, 0.0), 100.0)
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    low, high = f(precision - half, recall - half), f(precision + half, recall + half)
    return low - half - 1e-9 <= f1 <= high + half + 1e-9


class Variant(_Strict):
    """What the system is made of, where a source says so (all optional, free text)."""

    mner: Name | None = None
    ve: Name | None = None
    vg: Name | None = None
    text_encoder: Name | None = None
    llm: Name | None = None
    augmentation: Name | None = None


class ReleaseGold(_Strict):
    """Figures computed on a public release of the entry's dataset: ``version`` is one the registry knows for it
    (:func:`release_versions`; ``v1`` for figures of Twitter-GMNER printed before the v2.0 corrections)."""

    kind: Literal["release"] = "release"
    version: Name


class DerivedGold(_Strict):
    """Figures computed on a gold file that is not a release (e.g. one a paper's authors made from it).
    ``tweets_differ``: the tweets of the split whose tokens, entities, types or boxes differ from the entry's
    release (``smner-bench gold-diff``); None while not counted."""

    kind: Literal["derived"] = "derived"
    description: Name  # e.g. "the MQSPN/UnCo authors' test file, not the v2.0 release"
    tweets_differ: Count | None = None


GoldRecord = Annotated[ReleaseGold | DerivedGold, Field(discriminator="kind")]


class Publication(_Strict):
    """A table row of a publication. ``origin``: ``own`` (the authors' figures of their system), ``reproduced``
    (the authors' figures of another paper's system, run again), ``quoted`` (copied from ``quoted_from``, the
    paper that printed them first, as the quoting paper cites it). ``evaluator`` (an id of the registry's
    ``EVALUATORS``) and ``gold``: the ruler and the gold the figures were measured with, required on GMNER and
    SMNER entries; ``assumed`` names those of the two that no source states (the notes say why they were
    chosen)."""

    kind: Literal["publication"] = "publication"
    citation: Block
    paper: Name | None = None  # a short label, e.g. "MQSPN (AAAI 2025)"
    arxiv: Annotated[str, Field(pattern=r"^\d{4}\.\d{4,5}(v\d+)?$")] | None = None
    url: Url | None = None
    table: Name  # e.g. "Table VI"
    row: Name  # the row's label as printed
    origin: Literal["own", "reproduced", "quoted"] = "own"
    quoted_from: Block | None = None
    evaluator: EvaluatorId | None = None
    gold: GoldRecord | None = None
    assumed: tuple[Literal["evaluator", "gold"], ...] = ()
    paper_url: Url | None = None  # the system's own paper, where a source names it (never guessed)
    code_url: Url | None = None  # the system's code, where a source names it (never guessed)

    @model_validator(mode="after")
    def _origin(self) -> Publication:
        if self.quoted_from is not None and not self.quoted_from.strip():
            raise ValueError("quoted_from: name the paper the figures are quoted from (it is blank)")
        if (self.origin == "quoted") != (self.quoted_from is not None):
            raise ValueError(
                "quoted_from: give it exactly when origin is 'quoted' (the paper that printed the figures first)"
            )
        if len(set(self.assumed)) != len(self.assumed):
            raise ValueError("assumed: each of evaluator and gold at most once")
        for name in self.assumed:
            if getattr(self, name) is None:
                raise ValueError(f"assumed: lists {name}, which is not given")
        return self


class Release(_Strict):
    """A scored submission that is the import of a public release file (e.g. the RiVEG authors' test predictions):
    the board keeps no copy of it (release files are not copied into the repository); ``verify`` imports the
    release again from a data folder (``--release-root``) and re-scores it."""

    file: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]
    sha256: Sha256  # of the release file's bytes
    importer: Literal[RELEASE_IMPORTERS]  # type: ignore[valid-type]

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if any(part in (".", "..") for part in value.split("/")):
            raise ValueError("a path relative to the data folder, without '.' or '..' segments")
        return value


class ScoredHere(_Strict):
    kind: Literal["scored"] = "scored"
    submission_sha256: Sha256  # of the file's bytes (its gzip copy, or the release's import, must hash to it)
    content_sha256: Sha256  # of its canonical content (parsed lines): the same predictions, however written
    submission_file: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^/\\]+$")]
    smner_bench_version: Annotated[str, Field(min_length=1, max_length=64)]
    dataset_checksum: Sha256
    date: Date
    command: Line  # paths reduced to file names
    match: Match
    release: Release | None = None  # the submission is this release file's import: no kept copy
    paper_url: Url | None = None  # the system's paper and code, as the submitter's meta file gives them
    code_url: Url | None = None

    @property
    def evaluator(self) -> str | None:
        """The convention the match mode reproduces (:func:`evaluator_of_match`)."""
        return evaluator_of_match(self.match)

    @property
    def assumed(self) -> tuple[str, ...]:
        return ()  # the ruler is the match mode, the gold the one whose checksum the entry records


Provenance = Annotated[Publication | ScoredHere, Field(discriminator="kind")]


class Interval(_Strict):
    """The 95% bootstrap percentile interval of a scored entry's main F1, in percent: ``resamples`` resamples of
    the split's tweets drawn with ``seed`` (:func:`smner_bench.benchmark.significance.bootstrap_interval` over the
    per-tweet counts), computed when the entry is scored. A published row has none: a paper prints no per-tweet
    counts."""

    low: float = Field(ge=0, le=100)
    high: float = Field(ge=0, le=100)
    level: float = Field(gt=0, lt=1)
    resamples: int = Field(ge=1, le=100_000)
    seed: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class SweepPoint(_Strict):
    threshold: float = Field(ge=0.5, le=0.95)
    f1: float = Field(ge=0, le=100)
    tp: Count | None = None  # scored entries: the true positives at this threshold


class Entry(_Strict):
    id: str = Field(max_length=MAX_NAME, pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    system: Name
    variant: Variant = Variant()
    task: BoardTask
    dataset: Dataset
    dataset_version: Name
    split: Split = "test"
    iou: float = Field(default=0.5, gt=0, le=1)
    results: dict[Task, Figures]
    per_type: dict[TypeName, Figures] | None = None
    grounding: dict[Literal["groundable", "ungroundable"], Figures] | None = None
    sweep: list[SweepPoint] | None = Field(default=None, max_length=len(SWEEP))
    interval: Interval | None = None  # scored entries: the main F1's bootstrap interval
    provenance: Provenance
    notes: Block | None = None
    digest: Sha256 | None = None  # scored entries: SHA-256 of the canonical content (see entry_digest)

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
        version = DATASETS[self.dataset].version
        if self.dataset_version != version:
            raise ValueError(
                f"dataset_version: {self.dataset} is version {version!r} here, not {self.dataset_version[:40]!r}"
                + "".join(
                    f" (the {d.version} release is the dataset {d.name})"
                    for d in DATASETS.values()
                    if d.release_of == self.dataset
                )
            )
        if self.task not in DATASETS[self.dataset].boards:
            homes = " or ".join(d.name for d in DATASETS.values() if self.task in d.boards)
            raise ValueError(f"{self.task.upper()} figures are on the {homes} dataset")
        self._check_ruler_and_gold()
        for path, figures in self.all_figures():
            if figures.precision is None or figures.recall is None:
                continue
            pinned = PRINTED_F1_EXCEPTIONS.get((self.id, path))
            if pinned is not None and figures.f1 == pinned:
                continue
            if not f1_consistent(figures.precision, figures.recall, figures.f1):
                raise ValueError(
                    f"{path}: F1 {figures.f1} does not agree with precision {figures.precision} and recall "
                    f"{figures.recall} (2PR/(P+R) = {_harmonic(figures):.2f})"
                )
        if self.provenance.kind == "scored":
            self._check_scored()
        elif self.digest is not None:
            raise ValueError("digest: published entries carry no digest (they are reviewed by hand)")
        elif self.interval is not None:
            raise ValueError("interval: a published entry has no per-tweet counts to resample (scored entries only)")
        return self

    def _check_ruler_and_gold(self) -> None:
        """A scored entry's match mode is one a convention reproduces; a published GMNER or SMNER entry names its
        ruler and its gold; a release gold is a release of the entry's dataset."""
        prov = self.provenance
        grounded = self.task in GROUNDED_TASKS
        if prov.kind == "scored":
            if prov.evaluator is None:  # an MNER one too: its ruler is its match mode's, never assumed
                raise ValueError(
                    f"provenance.match: no evaluator convention reproduces --match {prov.match}: a scored entry is "
                    f"measured with one of the registry's ({', '.join(EVALUATOR_IDS)})"
                )
            return
        if isinstance(prov.gold, ReleaseGold) and prov.gold.version not in release_versions(self.dataset):
            raise ValueError(
                f"provenance.gold.version: the releases of {self.dataset} are "
                f"{', '.join(map(repr, release_versions(self.dataset)))}, not {prov.gold.version[:40]!r}"
            )
        if grounded and prov.evaluator is None:
            raise ValueError(
                f"provenance.evaluator: a published {self.task.upper()} entry names its ruler: one of "
                f"{', '.join(EVALUATOR_IDS)}"
            )
        if grounded and prov.gold is None:
            raise ValueError(
                f"provenance.gold: a published {self.task.upper()} entry names its gold: "
                "{kind: release, version: ...} or {kind: derived, description: ...}"
            )

    def _check_scored(self) -> None:
        for path, figures in self.all_figures():
            if not figures.has_counts:
                raise ValueError(f"{path}: a scored entry gives tp, pred and gold for every figure")
        main = self.main
        if self.per_type is None or set(self.per_type) != {"PER", "LOC", "ORG", "OTHER"}:
            raise ValueError("per_type: a scored entry gives the figures of every type")
        if self.sweep is not None:
            if tuple(p.threshold for p in self.sweep) != SWEEP:
                raise ValueError(f"sweep: thresholds must be {', '.join(map(str, SWEEP))}")
            for p in self.sweep:
                if p.tp is None or p.tp > main.gold or p.f1 != _pct(prf(p.tp, main.pred, main.gold)["f1"]):  # type: ignore[arg-type]
                    raise ValueError(f"sweep: F1 {p.f1} at {p.threshold} is not the figure of its tp {p.tp}")
                if p.threshold == self.iou and p.tp != main.tp:
                    raise ValueError(f"sweep: tp at {p.threshold} differs from the entry's tp {main.tp}")
            tps = [p.tp for p in self.sweep]
            if tps != sorted(tps, reverse=True):  # type: ignore[type-var]
                raise ValueError("sweep: true positives must not grow with the threshold")

    def all_figures(self) -> list[tuple[str, Figures]]:
        """Every figure of the entry with its path (``results.mner``, ``per_type.PER``, ``grounding.groundable``)."""
        out = [(f"results.{t}", f) for t, f in self.results.items()]
        out += [(f"per_type.{k}", f) for k, f in (self.per_type or {}).items()]
        out += [(f"grounding.{k}", f) for k, f in (self.grounding or {}).items()]
        return out

    @property
    def main(self) -> Figures:
        return self.results[self.task]


def _harmonic(figures: Figures) -> float:
    p, r = figures.precision or 0.0, figures.recall or 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def canonical_json(data: Any) -> bytes:
    """One canonical byte form of JSON data: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_digest(entry: Entry) -> str:
    """SHA-256 over the entry's canonical content: every field but the digest itself (figures, counts, sweep,
    provenance with the kept copy's SHA-256, system, notes...), as ``model_dump`` gives it (None left out)."""
    data = entry.model_dump(mode="json", exclude={"digest"}, exclude_none=True)
    return hashlib.sha256(canonical_json(data)).hexdigest()


def sealed(entry: Entry) -> Entry:
    """The entry with its digest set."""
    return entry.model_copy(update={"digest": entry_digest(entry)})


def slug(text: str) -> str:
    """A lower-case id segment: ``"RiVEG†XLMR (ours)"`` -> ``"riveg-xlmr-ours"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
