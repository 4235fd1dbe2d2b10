"""Command-line options that every part's commands share, defined once: where a split's gold comes from
(``--dataset``, ``--split``, ``--data-dir`` | ``--gold``), the entity identity (``--match``), and the
invocation a command records in what it writes (:func:`invocation`). Light to import: the registry only, so
registering a command stays fast. (The baselines' runtime options, ``--device``/``--threads``/``--dtype``, are
in ``baselines/commands/_options.py``: the core runs no model.)"""

from __future__ import annotations

import argparse
from pathlib import PurePosixPath

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
        help=help
        or "entity identity: span (default when spans are given), text, riveg, or entity-box (the UnCo evaluator's "
        "entity-box pair counting; boxes only)",
    )


def invocation(args: argparse.Namespace, *, published: bool = False) -> str:
    """The command this process runs, as a record: the arguments ``main`` parsed (``args.argv``;
    ``sys.argv[1:]`` when a command body is called without it). For the user's own records (``run.json``, model
    metadata) by :func:`~.safe_output.recorded_command`'s rule (paths under the current or home folder made
    relative); ``published`` (an export card, a leaderboard page): every path reduced to its last component
    (:func:`redact_command`)."""
    from .safe_output import recorded_command

    command = recorded_command(getattr(args, "argv", None))
    return redact_command(command) if published else command


def _looks_like_path(token: str) -> bool:
    return "/" in token or "\\" in token or token.startswith("~")


def _name(token: str) -> str:
    name = PurePosixPath(token.replace("\\", "/").rstrip("/")).name
    return name or "."


def redact_command(command: str) -> str:
    """The command with every path reduced to its last component: ``--meta /tmp/m.yaml`` -> ``--meta m.yaml``,
    so that no published page or card shows a user's folders.

    >>> redact_command("smner-bench leaderboard submit /home/ann/p.jsonl --data-dir=../data/gmner --iou 0.5")
    'smner-bench leaderboard submit p.jsonl --data-dir=gmner --iou 0.5'
    """
    import shlex

    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    out = []
    for token in tokens:
        option, eq, value = token.partition("=")
        if eq and option.startswith("-"):
            out.append(f"{option}={_name(value) if _looks_like_path(value) else value}")
        else:
            out.append(_name(token) if _looks_like_path(token) else token)
    return shlex.join(out)
