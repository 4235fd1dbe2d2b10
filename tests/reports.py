"""The score report as JSON data (what ``score --json`` writes), for tests that compare reports as dicts."""

from __future__ import annotations

from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.submission import Submission


def report_json(
    submission: Submission, gold: Gold, *, task: str | None = None, match: str | None = None, iou: float = 0.5
) -> dict:
    """``Scorer.build(submission, gold).report(task, match, iou).model_dump()``."""
    return Scorer.build(submission, gold).report(task, match, iou).model_dump()
