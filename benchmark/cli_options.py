"""Command-line options that every part's commands share, defined once: where a split's gold comes from
(``--dataset``, ``--split``, ``--data-dir`` | ``--gold``), the entity identity (``--match``), and the
invocation a command records in what it writes (:func:`invocation`). Light to import: the registry only, so
registering a command stays fast. (The baselines' runtime options, ``--device``/``--threads``/``--dtype``, are
in ``baselines/commands/_options.py``: the core runs no model.)"""

from __future__ import annotations

import argparse

from .registry import DATASET_NAMES, MATCH_MODES


def add_gold_source(p: argparse.ArgumentParser) -> None:
    """``--dataset`` and ``--split`` (required) and one of ``--data-dir`` (a raw release, read with the loaders) or
    ``--gold`` (an exported dataset folder); ``benchmark.gold.load_gold`` reads what they name."""
    p.add_argument("--dataset", required=True, choices=list(DATASET_NAMES), help="dataset config of the gold")
    p.add_argument("--split", required=True, help="train, validation (alias dev) or test")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data-dir", help="raw release folder (read with the loaders)")
    src.add_argument("--gold", help="exported dataset folder (smner-bench prepare --out)")


def add_match(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--match``: the entity identity (``benchmark/matching.py``); unset: span when spans are given."""
    p.add_argument(
        "--match",
        choices=MATCH_MODES,
        help=help or "entity identity: span (default when spans are given), text, or riveg",
    )


def invocation(args: argparse.Namespace) -> str:
    """The command this process runs, as a record (``run.json``, model metadata, export cards): the arguments
    ``main`` parsed (``args.argv``; ``sys.argv[1:]`` when a command body is called without it), by
    :func:`~.safe_output.recorded_command`'s rule (paths under the current or home folder made relative)."""
    from .safe_output import recorded_command

    return recorded_command(getattr(args, "argv", None))
