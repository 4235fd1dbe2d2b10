"""Score a validated submission: every task the file supports, breakdowns, threshold sweep, report dict.

The report (``SCHEMA_VERSION``) is what ``smner-bench score --json`` writes and what the leaderboard reads.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from . import __version__
from .errors import UsageError
from .gold import Gold
from .matching import MODES, REGION, TYPED, Columns, PairTable, columns, pair_table, select
from .metrics import SWEEP, prf
from .submission import TASKS, Submission
from .tags import TYPES

SCHEMA_VERSION = 1


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


PRIMARY = ("smner", "gmner", "mner")  # the default task: the most specific the file and the gold support


@dataclass
class Scorer:
    """A submission matched against its gold once; ``counts`` and ``report`` derive everything else."""

    submission: Submission
    gold: Gold
    table: PairTable
    cols: Columns

    @classmethod
    def build(cls, submission: Submission, gold: Gold) -> Scorer:
        has_box = "gmner" in submission.tasks() and gold.has_boxes
        has_mask = "smner" in submission.tasks() and gold.has_masks
        with _without_gc():
            cols = columns(submission.predictions, gold)
            table = pair_table(submission.predictions, gold, boxes=has_box, masks=has_mask, cols=cols)
            return cls(submission, gold, table, cols)

    def tasks(self, task: str) -> list[str]:
        """The asked task and every subtask the file supports."""
        supported = [t for t in TASKS if t in self.submission.tasks() and self.gold.supports(t)]
        if task not in supported:
            why = (
                f"the gold {self.gold.name} has no {'boxes' if REGION[task] == 'box' else 'masks'}"
                if not self.gold.supports(task)
                else f"the file does not give a '{REGION[task]}' key on every entity"
            )
            raise UsageError(f"cannot score task {task}: {why}")
        wanted = {"mner": ["mner"], "eeg": ["mner", "eeg"], "gmner": ["mner", "eeg", "gmner"]}
        wanted.update(ees=["mner", "ees"], smner=["mner", "ees", "smner"])
        out = list(wanted[task])
        if task in ("ees", "smner"):
            out += [t for t in ("eeg", "gmner") if t in supported]
        return [t for t in TASKS if t in out]

    def default_task(self) -> str:
        for task in PRIMARY:
            if task in self.submission.tasks() and self.gold.supports(task):
                return task
        return "mner"

    def default_mode(self) -> str:
        return "span" if self.submission.has_spans else "text"

    def check_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown matching mode {mode!r} (expected {', '.join(MODES)})")
        if mode == "span" and not self.submission.has_spans:
            raise UsageError(
                "span matching needs start/end on every entity; this file gives only text: use --match text (or riveg)"
            )

    # --- counts -----------------------------------------------------------------------------------

    def selection(self, task: str, mode: str, iou: float) -> np.ndarray:
        return select(self.table, task, mode, iou)

    def per_tweet(self, task: str, mode: str, iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, pred, gold) per gold tweet: the unit the bootstrap resamples."""
        n = len(self.gold.tweets)
        chosen = self.selection(task, mode, iou)
        tp = np.bincount(self.table.tweet[chosen], minlength=n)
        c = self.cols
        return tp, np.bincount(c.pred_tweet, minlength=n), np.bincount(c.gold_tweet, minlength=n)

    # --- report -----------------------------------------------------------------------------------

    def task_report(self, task: str, mode: str, iou: float) -> dict:
        t, c = self.table, self.cols
        n_pred, n_gold = c.pred_type.size, c.gold_type.size
        chosen = self.selection(task, mode, iou)
        out = prf(int(chosen.sum()), n_pred, n_gold)
        by_gold = np.bincount(c.gold_type[t.gold[chosen]], minlength=len(TYPES))
        by_pred = np.bincount(c.pred_type[t.pred[chosen]], minlength=len(TYPES))
        preds = np.bincount(c.pred_type, minlength=len(TYPES))
        golds = np.bincount(c.gold_type[c.gold_type >= 0], minlength=len(TYPES))
        out["per_type"] = {
            kind: prf(int(by_gold[i]), int(preds[i]), int(golds[i]), tp_pred=None if TYPED[task] else int(by_pred[i]))
            for i, kind in enumerate(TYPES)
        }
        region = REGION[task] or ("box" if self.gold.has_boxes else None)
        if region:
            out["grounding"] = self._grounding(chosen, region)
        if REGION[task]:
            sweep = [int(self.selection(task, mode, th).sum()) for th in SWEEP]
            f1s = [prf(tp, n_pred, n_gold)["f1"] for tp in sweep]
            out["sweep"] = {"thresholds": list(SWEEP), "tp": sweep, "f1": f1s, "mean_f1": float(np.mean(f1s))}
        return out

    def _grounding(self, chosen: np.ndarray, region: str) -> dict:
        """Recall on groundable vs ungroundable gold; precision of predictions with vs without a region."""
        t, gold_has, pred_has = self.table, self.cols.gold_regions[region] > 0, self.cols.pred_has[region]
        out = {}
        for name, flag in (("groundable", True), ("ungroundable", False)):
            tp_gold = int(np.sum(gold_has[t.gold[chosen]] == flag))
            tp_pred = int(np.sum(pred_has[t.pred[chosen]] == flag))
            out[name] = prf(tp_gold, int(np.sum(pred_has == flag)), int(np.sum(gold_has == flag)), tp_pred=tp_pred)
        return out

    def report(self, task: str | None = None, mode: str | None = None, iou: float = 0.5) -> dict:
        task = task or self.default_task()
        mode = mode or self.default_mode()
        self.check_mode(mode)
        if not 0 < iou <= 1:
            raise UsageError(f"--iou must be in (0, 1], got {iou}")
        results = {t: self.task_report(t, mode, iou) for t in self.tasks(task)}
        return {
            "schema_version": SCHEMA_VERSION,
            "smner_bench_version": __version__,
            "submission": {
                "file": self.submission.file,
                "sha256": self.submission.sha256,
                "tweets": len(self.submission.seen),
                "entities": len(self.submission.predictions),
                "missing_tweets": len(self.submission.missing),
            },
            "gold": {"dataset": self.gold.name, "tweets": len(self.gold.tweets), "entities": len(self.gold.entities)},
            "task": task,
            "match": mode,
            "iou": iou,
            "results": results,
        }


def score(
    submission: Submission, gold: Gold, *, task: str | None = None, match: str | None = None, iou: float = 0.5
) -> dict:
    """The report of ``submission`` against ``gold`` (see :class:`Scorer`)."""
    return Scorer.build(submission, gold).report(task, match, iou)


def format_report(report: dict) -> str:
    """A terminal table: one row per task, percentages with two decimals, then per type for the main task."""
    lines = [
        f"{report['gold']['dataset']}  task {report['task']}  match {report['match']}  IoU >= {report['iou']}  "
        f"({report['submission']['entities']} predicted entities in {report['submission']['tweets']} tweets)",
        f"{'':10}{'P':>8}{'R':>8}{'F1':>8}{'tp':>8}{'pred':>8}{'gold':>8}{'mean F1 .50:.95':>18}",
    ]

    def row(name: str, r: dict, sweep: str = "") -> str:
        return (
            f"{name:10}{100 * r['precision']:8.2f}{100 * r['recall']:8.2f}{100 * r['f1']:8.2f}"
            f"{r['tp']:8d}{r['pred']:8d}{r['gold']:8d}{sweep:>18}"
        )

    for task, r in report["results"].items():
        sweep = f"{100 * r['sweep']['mean_f1']:.2f}" if "sweep" in r else ""
        lines.append(row(task.upper(), r, sweep))
    main = report["results"][report["task"]]
    lines.append(f"per type ({report['task'].upper()}):")
    lines += [row(f"  {kind}", r) for kind, r in main["per_type"].items()]
    if "grounding" in main:
        lines.append("gold groundable / ungroundable (recall; precision over predictions with / without a region):")
        lines += [row(f"  {name[:8]}", r) for name, r in main["grounding"].items()]
    if "ci" in report:
        ci = report["ci"]
        lines.append(
            f"F1 {100 * ci['f1']:.2f}, {int(100 * ci['level'])}% bootstrap interval "
            f"[{100 * ci['low']:.2f}, {100 * ci['high']:.2f}] ({ci['resamples']} resamples, seed {ci['seed']})"
        )
    return "\n".join(lines)
