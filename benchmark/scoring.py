"""Score a validated submission: every task the file supports, breakdowns, threshold sweep, the typed report.

:class:`ScoreReport` (``SCHEMA_VERSION``) is what ``smner-bench score --json`` writes (``report.model_dump()``)
and what the leaderboard reads. In memory, with no file: :func:`score_lines` (lines in, report out), or
:class:`Scorer` to match once and derive several reports, per-tweet counts or the :class:`MatchTable`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_serializer

from . import __version__
from .analysis import Analysis
from .arguments import arg
from .errors import UsageError, shown
from .gold import Gold
from .matching import MODES, REGION, TYPED, Columns, PairTable, Tally, check_task_mode, columns, correct, pair_table
from .matching import tally as tally_of
from .metrics import SWEEP, prf
from .ranking import MAX_DETS, task_ranking
from .registry import MATCH_MODES, RANKED_TASK_NAMES, TASK_NAMES, TASKS, tasks_with_region
from .submission import Submission, parse_submission
from .tags import TYPES

SCHEMA_VERSION = 1

Task = Literal[TASK_NAMES]  # type: ignore[valid-type]
Match = Literal[MATCH_MODES]  # type: ignore[valid-type]


class _Part(BaseModel):
    """A part of the report: frozen, and an absent optional part (None) is left out of its JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _without_none(self, handler):
        return {k: v for k, v in handler(self).items() if v is not None}


class PRF(_Part):
    """Precision, recall and F1 (fractions) with their counts: ``tp`` gold entities found, ``tp_pred``
    correct predictions when that differs (a type-blind task's breakdown by predicted type), ``pred``, ``gold``."""

    precision: float
    recall: float
    f1: float
    tp: int
    tp_pred: int | None = None
    pred: int
    gold: int


class Sweep(_Part):
    """The task's figures at IoU thresholds 0.50:0.05:0.95 and the mean F1 over them."""

    thresholds: list[float]
    tp: list[int]
    f1: list[float]
    mean_f1: float


class TaskResult(PRF):
    """One task's figures, per gold type, groundable vs ungroundable gold (region tasks and any task on a gold
    with boxes) and the threshold sweep (region tasks)."""

    per_type: dict[str, PRF]
    grounding: dict[Literal["groundable", "ungroundable"], PRF] | None = None
    sweep: Sweep | None = None


class SubmissionSummary(_Part):
    file: str
    sha256: str
    tweets: int
    entities: int
    missing_tweets: int


class GoldSummary(_Part):
    dataset: str  # "<dataset>/<split>", e.g. "gmner/test"
    tweets: int
    entities: int


class Interval(_Part):
    """A bootstrap percentile interval of the main F1 (``score --ci``)."""

    f1: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int


class _Explicit(BaseModel):
    """A part whose undefined figures stay in its JSON as null (a reader sees what was not computed, and why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityRanking(_Explicit):
    """MNER's AP and AR over the predictions' scores: entity level (a prediction is right as MNER counts it), the
    101-point interpolated AP averaged over the types, AR at each cap of detections per tweet and type."""

    ap: float | None
    ar_1: float | None
    ar_3: float | None
    ar_10: float | None


class RegionRanking(_Explicit):
    """A region task's COCO-style AP and AR (benchmark/ranking.py), in COCOeval.summarize's order: AP over IoU
    0.50:0.05:0.95, at 0.5 and 0.75, by the gold entity's area (small <= 32^2 <= medium <= 96^2 <= large, pixels);
    AR at each cap and by area. None where no gold entity is in the range."""

    ap: float | None
    ap50: float | None
    ap75: float | None
    ap_small: float | None
    ap_medium: float | None
    ap_large: float | None
    ar_1: float | None
    ar_3: float | None
    ar_10: float | None
    ar_small: float | None
    ar_medium: float | None
    ar_large: float | None


class Ranking(_Explicit):
    """AP/AR over the optional ``score`` of the predictions; ``results`` is None, with the ``reason``, when they are
    not computed (no score, a prediction without one, entity-box matching)."""

    results: dict[Task, RegionRanking | EntityRanking] | None
    reason: str | None = None
    max_dets: list[int] = list(MAX_DETS)
    averaging: str = "typed tasks: mean over the types with gold (COCO's categories); EEG, EES: every entity pooled"


class ScoreReport(_Part):
    """The score of one submission on one gold: the asked task and every subtask the file supports.

    ``report.model_dump()`` is the JSON that ``smner-bench score --json`` writes (schema version 1); read one
    back with ``ScoreReport.model_validate(json.load(f))``. Figures are fractions (0-1).

    >>> from smner_bench.benchmark import gold_from_rows, score_lines
    >>> gold = gold_from_rows(
    ...     [{"id": "1", "tokens": ["Ann", "visits", "Paris"], "entities": [
    ...         {"start": 0, "end": 1, "text": "Ann", "type": "PER"},
    ...         {"start": 2, "end": 3, "text": "Paris", "type": "LOC"}]},
    ...      {"id": "2", "tokens": ["hello", "world"], "entities": []}],
    ...     dataset="demo", split="test", has_boxes=False, has_masks=False)
    >>> report = score_lines([
    ...     '{"id": "1", "entities": [{"start": 0, "end": 1, "type": "PER"}, {"start": 2, "end": 3, "type": "ORG"}]}',
    ...     '{"id": "2", "entities": [{"start": 0, "end": 1, "type": "PER"}]}'], gold)
    >>> report.task, report.match, report.main.tp, report.main.pred, report.main.gold
    ('mner', 'span', 1, 3, 2)
    >>> round(report.main.precision, 4), report.main.recall, report.main.f1
    (0.3333, 0.5, 0.4)
    >>> report.main.per_type["PER"].f1, report.model_dump()["results"]["mner"]["per_type"]["LOC"]["recall"]
    (0.6666666666666666, 0.0)
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    smner_bench_version: str
    submission: SubmissionSummary
    gold: GoldSummary
    task: Task
    match: Match
    iou: float
    results: dict[Task, TaskResult]
    ranking: Ranking | None = None  # AP/AR over the predictions' scores, or why not (None: an older version's report)
    ci: Interval | None = None
    analysis: Analysis | None = None  # score --analysis (benchmark/analysis.py); absent otherwise

    @property
    def main(self) -> TaskResult:
        """The figures of the report's task."""
        return self.results[self.task]


@dataclass(frozen=True)
class MatchTable:
    """Every candidate pair (a prediction and a gold entity of the same tweet with the same text) of one task,
    matching mode and threshold, with its verdicts; the matched pairs are the true positives.

    Predictions are numbered by their order in the submission (``Submission.predictions``), gold entities by
    their index in the split (``Gold.entities``). ``region`` is the pair's region score for a region task
    (the best IoU, ``inf`` when both say "not in the image", ``-inf`` when only one does), else None."""

    task: str
    match: str
    iou: float
    pred: np.ndarray
    gold: np.ndarray
    tweet: np.ndarray
    same_span: np.ndarray
    region: np.ndarray | None
    correct: np.ndarray  # type and region correct for the task at the threshold (before one-to-one matching)
    matched: np.ndarray  # chosen by the mode's one-to-one matching: the true positives

    def __len__(self) -> int:
        return self.pred.size

    def pairs(self) -> list[tuple[int, int]]:
        """``(prediction, gold entity)`` of every matched pair, in table order."""
        return list(zip(self.pred[self.matched].tolist(), self.gold[self.matched].tolist(), strict=True))


@contextmanager
def _without_gc():
    """Building the pair table creates many small acyclic objects: the cyclic collector only slows it down
    (its full passes grow with the heap, which made scoring superlinear on large splits)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


PRIMARY = RANKED_TASK_NAMES[::-1]  # the default task: the most specific the file and the gold support


@dataclass
class Scorer:
    """A submission matched against its gold once; ``counts`` and ``report`` derive everything else."""

    submission: Submission
    gold: Gold
    table: PairTable
    cols: Columns

    @classmethod
    def build(cls, submission: Submission, gold: Gold) -> Scorer:
        given = {TASKS[t].region for t in submission.tasks()}
        has_box = "box" in given and gold.has_boxes
        has_mask = "mask" in given and gold.has_masks
        with _without_gc():
            cols = columns(submission.predictions, gold)
            table = pair_table(submission.predictions, gold, boxes=has_box, masks=has_mask, cols=cols)
            return cls(submission, gold, table, cols)

    def tasks(self, task: str) -> list[str]:
        """The asked task and every subtask the file supports."""
        supported = [t for t in TASK_NAMES if t in self.submission.tasks() and self.gold.supports(t)]
        if task not in supported:
            why = (
                f"the gold {self.gold.name} has no {'boxes' if REGION[task] == 'box' else 'masks'}"
                if not self.gold.supports(task)
                else f"the file does not give a '{REGION[task]}' key on every entity"
            )
            raise UsageError(f"cannot score task {task}: {why}")
        out = [task, *TASKS[task].subtasks]
        if REGION[task] == "mask":  # a masked file is scored on its boxes too, where it gives them
            out += [t for t in tasks_with_region("box") if t in supported]
        return [t for t in TASK_NAMES if t in out]

    def default_task(self, mode: str | None = None) -> str:
        """The most specific task the file and the gold support, and ``mode`` can count (entity-box: no masks)."""
        for task in PRIMARY:
            countable = mode != "entity-box" or REGION[task] != "mask"
            if task in self.submission.tasks() and self.gold.supports(task) and countable:
                return task
        return tasks_with_region(None)[0]  # every file gives what the region-free task needs

    def default_mode(self) -> str:
        return "span" if self.submission.has_spans else "text"

    def check_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown matching mode {mode!r} (expected {', '.join(MODES)})")
        if mode in ("span", "entity-box") and not self.submission.has_spans:
            raise UsageError(
                f"{mode} matching needs start/end on every entity; this file gives only text: use "
                f"{arg('match', 'text')} (or 'riveg')"
            )

    # --- counts -----------------------------------------------------------------------------------

    def tally(self, task: str, mode: str, iou: float) -> Tally:
        """The matched pairs and the rows each prediction and gold entity count for (:func:`~.matching.tally`)."""
        return tally_of(self.table, self.cols, task, mode, iou)

    def per_tweet(self, task: str, mode: str, iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, pred, gold) per gold tweet: the unit the bootstrap resamples."""
        n = len(self.gold.tweets)
        t, c = self.tally(task, mode, iou), self.cols
        tp = np.bincount(self.table.tweet[t.chosen], minlength=n)
        return tp, _sums(c.pred_tweet, t.pred_rows, n), _sums(c.gold_tweet, t.gold_rows, n)

    def with_interval(self, report: ScoreReport, *, resamples: int = 1000, seed: int = 0) -> ScoreReport:
        """``report`` with the 95% bootstrap percentile interval of its main F1 (``ci``): ``resamples`` resamples
        of the split's tweets drawn from ``seed`` (``score --ci``, and the interval a scored entry keeps)."""
        from .significance import bootstrap_interval

        counts = self.per_tweet(report.task, report.match, report.iou)
        interval = bootstrap_interval(counts, resamples=resamples, seed=seed)
        return report.model_copy(update={"ci": Interval.model_validate(interval)})

    # --- report -----------------------------------------------------------------------------------

    def task_result(self, task: str, mode: str, iou: float) -> TaskResult:
        t, c = self.table, self.cols
        counted = self.tally(task, mode, iou)
        chosen, n_pred, n_gold = counted.chosen, int(counted.pred_rows.sum()), int(counted.gold_rows.sum())
        by_gold = np.bincount(c.gold_type[t.gold[chosen]], minlength=len(TYPES))
        by_pred = np.bincount(c.pred_type[t.pred[chosen]], minlength=len(TYPES))
        preds = _sums(c.pred_type, counted.pred_rows, len(TYPES))
        typed = c.gold_type >= 0
        golds = _sums(c.gold_type[typed], counted.gold_rows[typed], len(TYPES))
        per_type = {
            kind: prf(int(by_gold[i]), int(preds[i]), int(golds[i]), tp_pred=None if TYPED[task] else int(by_pred[i]))
            for i, kind in enumerate(TYPES)
        }
        out = {**prf(int(chosen.sum()), n_pred, n_gold), "per_type": per_type}
        region = REGION[task] or ("box" if self.gold.has_boxes else None)
        if region:
            out["grounding"] = self._grounding(counted, region)
        if REGION[task]:  # entity-box: a miss can count two predicted rows, so each point has its own count
            points = [self.tally(task, mode, th) for th in SWEEP]
            sweep = [int(p.chosen.sum()) for p in points]
            f1s = [prf(tp, int(p.pred_rows.sum()), n_gold)["f1"] for tp, p in zip(sweep, points, strict=True)]
            out["sweep"] = {"thresholds": list(SWEEP), "tp": sweep, "f1": f1s, "mean_f1": float(np.mean(f1s))}
        return TaskResult.model_validate(out)

    def _grounding(self, counted: Tally, region: str) -> dict:
        """Recall on groundable vs ungroundable gold; precision of predictions with vs without a region."""
        t, gold_has, pred_has = self.table, self.cols.gold_regions[region] > 0, self.cols.pred_has[region]
        chosen, pred_rows, gold_rows = counted.chosen, counted.pred_rows, counted.gold_rows
        out = {}
        for name, flag in (("groundable", True), ("ungroundable", False)):
            tp_gold = int(np.sum(gold_has[t.gold[chosen]] == flag))
            tp_pred = int(np.sum(pred_has[t.pred[chosen]] == flag))
            pred, gold = int(pred_rows[pred_has == flag].sum()), int(gold_rows[gold_has == flag].sum())
            out[name] = prf(tp_gold, pred, gold, tp_pred=tp_pred)
        return out

    def resolve(self, task: str | None, match: str | None, iou: float) -> tuple[str, str]:
        """The task and matching mode to score (the defaults filled in), checked against the file, the gold and
        ``iou``; a message names the arguments (``iou=``), or the flags (``--iou``) under the command line."""
        mode = match or self.default_mode()
        task = task or self.default_task(mode)
        self.check_mode(mode)
        if not 0 < iou <= 1:
            raise UsageError(f"{arg('iou')} must be in (0, 1], got {iou}")
        self.tasks(task)
        check_task_mode(task, mode)
        return task, mode

    def ranking(self, tasks: list[str], mode: str) -> Ranking:
        """AP/AR of ``tasks`` over the predictions' scores (:mod:`.ranking`), or why they are not computed."""
        preds = self.submission.predictions
        lacking = [p for p in preds if p.score is None]
        reason = None
        if not preds:
            reason = "no predicted entity to rank"
        elif len(lacking) == len(preds):
            reason = "predictions carry no score"
        elif lacking:
            first = lacking[0]
            k = sum(1 for p in preds if p.line == first.line and p.order < first.order)
            reason = (
                f"{self.submission.file}:{first.line}: entities[{k}].score: missing (tweet "
                f"{shown(self.gold.tweets[first.tweet].id)}); {len(lacking)} of {len(preds)} predictions lack a "
                "score: give every prediction one"
            )
        elif mode == "entity-box":
            reason = "entity-box matching counts entity-box rows (the UnCo evaluator), which no confidence ranks"
        if reason:
            return Ranking(results=None, reason=reason)
        results = {t: task_ranking(self.table, self.cols, preds, self.gold, t, mode) for t in tasks}
        return Ranking.model_validate({"results": results})

    def report(self, task: str | None = None, match: str | None = None, iou: float = 0.5) -> ScoreReport:
        """The :class:`ScoreReport` of ``task`` (default: the most specific the file and gold support) and its
        subtasks in matching mode ``match`` (default: span when every entity gives one, else text) at ``iou``,
        with AP/AR over the predictions' scores when every prediction has one."""
        task, mode = self.resolve(task, match, iou)
        tasks = self.tasks(task)
        return ScoreReport(
            smner_bench_version=__version__,
            submission=SubmissionSummary(
                file=self.submission.file,
                sha256=self.submission.sha256,
                tweets=len(self.submission.seen),
                entities=len(self.submission.predictions),
                missing_tweets=len(self.submission.missing),
            ),
            gold=GoldSummary(dataset=self.gold.name, tweets=len(self.gold.tweets), entities=len(self.gold.entities)),
            task=task,
            match=mode,
            iou=iou,
            results={t: self.task_result(t, mode, iou) for t in tasks},
            ranking=self.ranking(tasks, mode),
        )

    def matches(self, task: str | None = None, match: str | None = None, iou: float = 0.5) -> MatchTable:
        """The :class:`MatchTable` of ``task`` in matching mode ``match`` at ``iou`` (defaults as in :meth:`report`)."""
        task, mode = self.resolve(task, match, iou)
        t = self.table
        region = {"box": t.box, "mask": t.mask}.get(REGION[task])  # type: ignore[arg-type]
        return MatchTable(
            task,
            mode,
            iou,
            pred=t.pred,
            gold=t.gold,
            tweet=t.tweet,
            same_span=t.same_span,
            region=region,
            correct=correct(t, task, mode, iou),
            matched=self.tally(task, mode, iou).chosen,
        )


def _sums(keys: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """The rows of each key 0..n-1 (integers)."""
    return np.bincount(keys, weights=rows, minlength=n).astype(np.int64)


def score_lines(
    lines: Iterable[str | bytes | dict],
    gold: Gold,
    task: str | None = None,
    match: str | None = None,
    iou: float = 0.5,
    *,
    name: str = "<lines>",
    allow_missing: bool = False,
) -> ScoreReport:
    """Validate in-memory submission lines (:func:`~.submission.parse_submission`) and score them: no file.
    ``task`` is also the validation's task (every entity must carry its key). See :class:`ScoreReport`."""
    submission = parse_submission(lines, gold, name=name, task=task, allow_missing=allow_missing)
    return Scorer.build(submission, gold).report(task, match, iou)


def format_report(report: ScoreReport) -> str:
    """A terminal table: one row per task, percentages with two decimals, then per type for the main task."""
    sub = report.submission
    lines = [
        f"{report.gold.dataset}  task {report.task}  match {report.match}  IoU >= {report.iou}  "
        f"({sub.entities} predicted entities in {sub.tweets} tweets)",
        f"{'':14}{'P':>8}{'R':>8}{'F1':>8}{'tp':>8}{'pred':>8}{'gold':>8}{'mean F1 .50:.95':>18}",
    ]

    def pct(value: float, defined: bool) -> str:  # a figure of nothing (precision of no predictions) is n/a, not 0
        return f"{100 * value:8.2f}" if defined else f"{'n/a':>8}"

    def row(name: str, r: PRF, sweep: str = "") -> str:
        figures = pct(r.precision, r.pred > 0) + pct(r.recall, r.gold > 0) + pct(r.f1, r.pred + r.gold > 0)
        return f"{name:14}{figures}{r.tp:8d}{r.pred:8d}{r.gold:8d}{sweep:>18}"  # "  ungroundable" whole

    for task, r in report.results.items():
        lines.append(row(task.upper(), r, f"{100 * r.sweep.mean_f1:.2f}" if r.sweep else ""))
    main = report.main
    lines.append(f"per type ({report.task.upper()}):")
    lines += [row(f"  {kind}", r) for kind, r in main.per_type.items()]
    if main.grounding:
        lines.append("gold groundable / ungroundable (recall; precision over predictions with / without a region):")
        lines += [row(f"  {name}", r) for name, r in main.grounding.items()]
    lines += format_ranking(report.ranking)
    if report.ci:
        ci = report.ci
        lines.append(
            f"F1 {100 * ci.f1:.2f}, {int(100 * ci.level)}% bootstrap interval "
            f"[{100 * ci.low:.2f}, {100 * ci.high:.2f}] ({ci.resamples} resamples, seed {ci.seed})"
        )
    return "\n".join(lines)


RANKING_COLUMNS = (
    ("AP", "ap"), ("AP50", "ap50"), ("AP75", "ap75"), ("APs", "ap_small"), ("APm", "ap_medium"), ("APl", "ap_large"),
    *((f"AR{cap}", f"ar_{cap}") for cap in MAX_DETS), ("ARs", "ar_small"), ("ARm", "ar_medium"), ("ARl", "ar_large"),
)  # fmt: skip


def format_ranking(ranking: Ranking | None) -> list[str]:
    """The AP/AR lines of the terminal report (percentages; n/a: no gold entity in the range; blank: not defined
    for the task), or the line saying why they are not computed."""
    if ranking is None:
        return []
    if ranking.results is None:
        return [f"AP/AR: not computed ({ranking.reason})"]
    lines = [
        "AP/AR over the predictions' scores (COCO: 101-point AP, IoU .50:.05:.95; mean over types, EEG/EES pooled;",
        f"  at most {ranking.max_dets[-1]} detections per tweet and type; MNER at entity level; n/a: no gold there):",
        f"{'':10}" + "".join(f"{name:>7}" for name, _ in RANKING_COLUMNS),
    ]
    for task, r in ranking.results.items():
        values = r.model_dump()
        cells = []
        for _, key in RANKING_COLUMNS:
            value = values.get(key, "")
            cells.append(f"{'':>7}" if value == "" else f"{'n/a':>7}" if value is None else f"{100 * value:7.2f}")
        lines.append((f"{task.upper():10}" + "".join(cells)).rstrip())
    return lines
