"""Error analysis beside P/R/F1 (``smner-bench score --analysis``): what each gold and predicted entity is.

The categories are nervaluate's, counted on the entity level (span and type, as MNER counts them) in the
report's matching mode, from the :class:`~.scoring.Scorer`'s pair table (nothing is matched again):

- ``right``: the pair is one of MNER's matched pairs (the report's ``mner`` tp);
- ``type``: same span, another type;
- ``boundary``: overlapping spans (not the same), same type;
- ``both``: overlapping spans (not the same), another type;
- ``missed`` (a gold entity) / ``spurious`` (a prediction): nothing of the other side overlaps it.

Each entity is counted once, in the first of these that applies, so the gold side adds up to the gold entities
and the prediction side to the predictions. A prediction without a span (a text-only file) has "the same span"
as a gold entity of its tweet with its text, and overlaps nothing else. A second prediction on an entity that
another one already found (only the text modes allow it) is spurious, its gold entity right. Types are compared
as MNER compares them (``riveg``: as written). For a region task (EEG, GMNER, EES, SMNER) the region errors are
counted on MNER's right pairs: right region, wrong region (IoU below the threshold), a region for an
ungroundable entity, null for a groundable one. Macro and weighted (by gold support) averages of the main task's
per-type figures are taken over the types with a gold entity or a prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_serializer

from .errors import UsageError
from .matching import REGION
from .tags import TYPES

if TYPE_CHECKING:
    from .scoring import Scorer, ScoreReport, TaskResult

RIGHT, TYPE, BOUNDARY, BOTH, NONE = 0, 1, 2, 3, 4
CATEGORIES = ("right", "type", "boundary", "both")  # then "missed" (gold) or "spurious" (predictions)
_RANK = np.array([0, 3, 2, 1, 0])  # among the unmatched: type before boundary before both before none


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _without_none(self, handler):
        return {k: v for k, v in handler(self).items() if v is not None}


class GoldErrors(_Part):
    right: int
    type: int
    boundary: int
    both: int
    missed: int


class PredErrors(_Part):
    right: int
    type: int
    boundary: int
    both: int
    spurious: int


class Confusion(_Part):
    """Gold type (rows) x predicted type (columns) over the right and type-error pairs (one per prediction),
    with the missed gold entities of each type and the spurious predictions of each type as margins. Columns are
    canonical types: in ``riveg`` mode a ``MISC`` on an ``OTHER`` entity is a type error in the OTHER column.
    A gold entity of a type outside TYPES (a gold built by hand) has no row: it is left out of the matrix."""

    types: list[str]
    matrix: list[list[int]]
    missed: list[int]
    spurious: list[int]


class Average(_Part):
    precision: float
    recall: float
    f1: float


class Averages(_Part):
    """Macro (mean over ``types``) and weighted (by gold support) averages of the per-type figures."""

    types: list[str]
    macro: Average
    weighted: Average


class RegionErrors(_Part):
    """Over MNER's right pairs: the region right (IoU at the threshold, or both null), wrong (both give one,
    IoU below), given for an ungroundable entity, or null for a groundable one."""

    region: Literal["box", "mask"]
    pairs: int
    right: int
    wrong: int
    on_ungroundable: int
    null_for_groundable: int


class Analysis(_Part):
    """The error analysis of a report's task (``ScoreReport.analysis``, filled by ``score --analysis``)."""

    task: str
    gold: GoldErrors
    pred: PredErrors
    confusion: Confusion
    averages: Averages
    regions: RegionErrors | None = None


def _same_tweet_pairs(scorer: Scorer) -> tuple[np.ndarray, np.ndarray]:
    """Every (prediction, gold entity) of the same tweet: a sorted join on the tweet."""
    c = scorer.cols
    order = np.argsort(c.gold_tweet, kind="stable")
    keys = c.gold_tweet[order]
    lo = np.searchsorted(keys, c.pred_tweet, side="left")
    counts = np.searchsorted(keys, c.pred_tweet, side="right") - lo
    pp = np.repeat(np.arange(c.pred_tweet.size, dtype=np.int64), counts)
    within = np.arange(pp.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return pp, order[np.repeat(lo, counts) + within].astype(np.int64)


def categories(scorer: Scorer, mode: str, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gold, pred, type-pair): the category code (RIGHT .. NONE) of every gold entity (split order) and every
    prediction (file order), and for each prediction the gold entity of its right or type-error pair (else -1)."""
    scorer.resolve("mner", mode, iou)  # an unknown mode, a threshold out of (0, 1]: a UsageError, not a crash
    c, t = scorer.cols, scorer.table
    chosen = scorer.tally("mner", mode, iou).chosen
    pp, gg = _same_tweet_pairs(scorer)
    spans = c.pred_start[pp] >= 0
    same = np.where(spans, (c.pred_start[pp] == c.gold_start[gg]) & (c.pred_end[pp] == c.gold_end[gg]),
                    (c.pred_text[pp] == c.gold_text[gg]) & (c.pred_text[pp] >= 0))  # fmt: skip
    overlap = np.where(spans, (c.pred_start[pp] < c.gold_end[gg]) & (c.gold_start[gg] < c.pred_end[pp]), same)
    if mode == "riveg":
        type_ok = (c.pred_type_raw[pp] >= 0) & (c.pred_type_raw[pp] == c.gold_type[gg])
    else:
        type_ok = c.pred_type[pp] == c.gold_type[gg]
    code = np.full(pp.size, NONE)
    code[overlap & ~same & ~type_ok] = BOTH
    code[overlap & ~same & type_ok] = BOUNDARY
    code[same & ~type_ok] = TYPE

    def side(rows: np.ndarray, n: int, matched: np.ndarray) -> np.ndarray:
        rank = np.zeros(n, dtype=np.int64)
        np.maximum.at(rank, rows, _RANK[code])
        out = np.array([NONE, BOTH, BOUNDARY, TYPE])[rank]
        out[matched] = RIGHT
        return out

    gold = side(gg, c.gold_tweet.size, t.gold[chosen])
    pred = side(pp, c.pred_tweet.size, t.pred[chosen])
    partner = np.full(c.pred_tweet.size, -1, dtype=np.int64)
    typed = np.flatnonzero(code == TYPE)[::-1]  # reversed: the first type-error pair of a prediction is kept
    partner[pp[typed]] = gg[typed]
    partner[pred != TYPE] = -1
    partner[t.pred[chosen]] = t.gold[chosen]
    return gold, pred, partner


def averages(result: TaskResult) -> Averages:
    """Macro and gold-weighted averages of ``result.per_type`` over the types with a gold entity or a prediction."""
    rows = {k: r for k, r in result.per_type.items() if r.gold or r.pred}
    support = sum(r.gold for r in rows.values())

    def mean(weights: dict[str, float], total: float) -> Average:
        figures = {f: sum(weights[k] * getattr(r, f) for k, r in rows.items()) / total if total else 0.0
                   for f in ("precision", "recall", "f1")}  # fmt: skip
        return Average(**figures)

    return Averages(
        types=list(rows),
        macro=mean(dict.fromkeys(rows, 1.0), len(rows)),
        weighted=mean({k: float(r.gold) for k, r in rows.items()}, support),
    )


def region_errors(scorer: Scorer, task: str, mode: str, iou: float = 0.5) -> RegionErrors | None:
    """The region errors of ``task`` over MNER's right pairs (None for a task without a region)."""
    region = REGION[task]
    if region is None:
        return None
    t, pred_has = scorer.table, scorer.cols.pred_has[region]
    chosen = scorer.tally("mner", mode, iou).chosen
    score = (t.box if region == "box" else t.mask)[chosen]
    given = pred_has[t.pred[chosen]]
    one_sided = score == -np.inf
    return RegionErrors(
        region=region,
        pairs=int(chosen.sum()),
        right=int(np.sum(score >= iou)),
        wrong=int(np.sum(~one_sided & (score < iou))),
        on_ungroundable=int(np.sum(one_sided & given)),
        null_for_groundable=int(np.sum(one_sided & ~given)),
    )


def analyze(scorer: Scorer, report: ScoreReport) -> Analysis:
    """The :class:`Analysis` of ``report`` (made by ``scorer.report``): its task, mode and threshold."""
    sub = scorer.submission
    if (report.submission.sha256, report.submission.entities, report.gold.dataset) != (
        sub.sha256, len(sub.predictions), scorer.gold.name):  # fmt: skip
        raise UsageError(
            f"analyze(scorer, report): the report scores {report.submission.file} on {report.gold.dataset}, the "
            f"scorer {sub.file} on {scorer.gold.name}: pass the report that scorer.report(...) made"
        )
    mode, iou, c = report.match, report.iou, scorer.cols
    gold, pred, partner = categories(scorer, mode, iou)
    n = len(TYPES)
    gold_counts, pred_counts = np.bincount(gold, minlength=5), np.bincount(pred, minlength=5)
    paired = np.flatnonzero((partner >= 0) & (c.gold_type[np.maximum(partner, 0)] >= 0))
    cells = np.bincount(c.gold_type[partner[paired]] * n + c.pred_type[paired], minlength=n * n).reshape(n, n)
    missed = (gold == NONE) & (c.gold_type >= 0)
    return Analysis(
        task=report.task,
        gold=GoldErrors(**dict(zip(CATEGORIES, gold_counts[:4].tolist(), strict=True)), missed=int(gold_counts[4])),
        pred=PredErrors(**dict(zip(CATEGORIES, pred_counts[:4].tolist(), strict=True)), spurious=int(pred_counts[4])),
        confusion=Confusion(
            types=list(TYPES),
            matrix=cells.tolist(),
            missed=np.bincount(c.gold_type[missed], minlength=n).tolist(),
            spurious=np.bincount(c.pred_type[pred == NONE], minlength=n).tolist(),
        ),
        averages=averages(report.main),
        regions=region_errors(scorer, report.task, mode, iou),
    )


def format_analysis(analysis: Analysis) -> str:
    """A compact terminal table: the categories of both sides, the confusion matrix, the averages, the regions."""
    g, p = analysis.gold, analysis.pred
    head = f"{'':10}{'right':>9}{'type':>9}{'boundary':>9}{'both':>9}{'missed':>9}{'spurious':>9}"
    lines = [
        f"errors ({analysis.task.upper()}; entities by span and type):",
        head,
        f"{'  gold':10}{g.right:9d}{g.type:9d}{g.boundary:9d}{g.both:9d}{g.missed:9d}{'':>9}",
        f"{'  pred':10}{p.right:9d}{p.type:9d}{p.boundary:9d}{p.both:9d}{'':>9}{p.spurious:9d}",
    ]
    cm = analysis.confusion
    lines.append("type confusion (rows gold, columns predicted, right and type-error pairs):")
    lines.append(f"{'':10}" + "".join(f"{k:>9}" for k in cm.types) + f"{'missed':>9}")
    lines += [f"  {k:8}" + "".join(f"{v:9d}" for v in row) + f"{m:9d}"
              for k, row, m in zip(cm.types, cm.matrix, cm.missed, strict=True)]  # fmt: skip
    lines.append(f"{'  spurious':10}" + "".join(f"{v:9d}" for v in cm.spurious))
    a = analysis.averages
    over = f"(per-type figures of {analysis.task.upper()} over {', '.join(a.types) or 'no type'})"
    n_pred, n_gold = sum(p.model_dump().values()), sum(g.model_dump().values())

    def pct(value: float, defined: int) -> str:  # an average of figures of nothing is n/a, as in the report
        return f"{100 * value:6.2f}" if defined else f"{'n/a':>6}"

    for name, avg in (("macro", a.macro), ("weighted", a.weighted)):
        figures = f"P {pct(avg.precision, n_pred)}  R {pct(avg.recall, n_gold)}  F1 {pct(avg.f1, n_pred + n_gold)}"
        lines.append(f"{name:10}{figures}  {over}")
    if analysis.regions:
        r = analysis.regions
        lines.append(
            f"{'boxes' if r.region == 'box' else 'masks'} of the {r.pairs} right entities: {r.right} right, "
            f"{r.wrong} wrong, "
            f"{r.on_ungroundable} on an ungroundable entity, {r.null_for_groundable} null for a groundable one"
        )
    return "\n".join(lines)
