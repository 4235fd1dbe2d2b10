"""smner-bench core: tasks, data model constants, tag decoding, errors, scoring, the visualizer, and the plumbing
every part shares (errors, JSON/YAML reading, safe output, options): the bottom layer of docs/design.md. The command
line is :mod:`smner_bench.cli`.

Scoring in memory (no file written)::

    from smner_bench.benchmark import gold_from_export, score_lines
    gold = gold_from_export("gmner", "test", "path/to/export")  # a release folder: the loaders' load_gold
    report = score_lines(lines, gold, task="gmner")  # lines: JSON Lines text (or dicts), one per tweet
    report.main.f1, report.results["eeg"].recall, report.model_dump()  # the JSON of score --json

The names below are imported on first use, so that importing this package stays cheap (the command line
starts without numpy or pydantic). This package never imports the other parts (loaders, formats,
leaderboard, baselines, cli) nor torch.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smner-bench")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

_EXPORTS = {
    "Gold": "gold",
    "gold_from_rows": "gold",
    "gold_from_export": "gold",
    "InvalidSubmission": "submission",
    "Submission": "submission",
    "parse_submission": "submission",
    "read_submission": "submission",
    "MatchTable": "scoring",
    "ScoreReport": "scoring",
    "Scorer": "scoring",
    "format_report": "scoring",
    "score_lines": "scoring",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
