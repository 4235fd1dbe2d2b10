"""Subcommands of the leaderboard: ``leaderboard submit|show|render|build`` and the visualizer ``show``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from smner_bench.benchmark.configs import ANNOTATIONS

DATASET_VERSIONS = {
    "twitter2015": "UMT release",
    "twitter2017": "UMT release",
    "gmner": "v2.0",
    "gmner-v1": "v1",
    "smner": "v2.0 (Twitter-SMNER)",
}
README = Path(__file__).resolve().parent / "README.md"


def _entries(p: argparse.ArgumentParser) -> None:
    from .store import DEFAULT_ROOT

    p.add_argument("--entries", default=str(DEFAULT_ROOT), help="entries folder (default: %(default)s)")


def _gold_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, choices=list(ANNOTATIONS))
    p.add_argument("--split", required=True, help="train, validation (alias dev) or test")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data-dir", help="raw release folder (read with the loaders)")
    src.add_argument("--gold", help="exported dataset folder (smner-bench prepare --out)")


def cmd_submit(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.gold import load_gold

    from .submit import submit

    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    command = "smner-bench " + shlex.join(sys.argv[1:])
    entry, path = submit(
        args.predictions,
        args.meta,
        gold,
        command=command,
        dataset_version=DATASET_VERSIONS[args.dataset],
        root=args.entries,
        iou=args.iou,
    )
    print(f"added {entry.id}: {entry.task.upper()} F1 {entry.main.f1:.2f} on {gold.name} -> {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import DataFormatError
    from smner_bench.benchmark.gold import load_gold

    from .store import load_entries
    from .submit import verify

    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    stored = load_entries(args.entries)  # refuses entries whose submission copy was changed
    problems = verify(stored, gold, root=args.entries)
    if problems:
        raise DataFormatError("entries that do not verify:\n" + "\n".join(problems), file=args.entries)
    print(f"every scored entry on {gold.name} verifies")
    return 0


def cmd_show_board(args: argparse.Namespace) -> int:
    from .render import boards, terminal_table
    from .store import load_entries

    selected = {
        k: rows
        for k, rows in boards(load_entries(args.entries)).items()
        if k[0] == args.task and (args.dataset is None or k[1] == args.dataset)
    }
    if not selected:
        print(f"no entries for task {args.task}" + (f" on {args.dataset}" if args.dataset else ""))
        return 0
    print("\n\n".join(terminal_table(key, rows) for key, rows in selected.items()))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import write_text

    from .render import boards, markdown
    from .store import load_entries

    write_text(args.output, markdown(boards(load_entries(args.entries))))
    print(f"wrote {args.output}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .site import build_site
    from .store import load_entries

    out = build_site(load_entries(args.entries), args.out)
    print(f"wrote the site to {out} (open {out / 'index.html'})")
    return 0


def cmd_visualize(args: argparse.Namespace) -> int:
    from .visualize import run

    return run(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    lb = subparsers.add_parser("leaderboard", help="the leaderboard: submit, show, render, build")
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    p = sub.add_parser("submit", help="score a submission and add it as a 'scored here' entry")
    p.add_argument("predictions", help="JSON Lines prediction file")
    p.add_argument("--meta", required=True, help="YAML: system, variant, task, match, notes")
    _gold_options(p)
    p.add_argument("--iou", type=float, default=0.5)
    _entries(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("verify", help="re-score the kept copies of the scored entries of a dataset split")
    _gold_options(p)
    _entries(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("show", help="print the ranked board of a task")
    p.add_argument("--task", required=True, choices=("mner", "gmner", "smner"))
    p.add_argument("--dataset", choices=list(ANNOTATIONS))
    _entries(p)
    p.set_defaults(func=cmd_show_board)

    p = sub.add_parser("render", help="write the Markdown leaderboard")
    p.add_argument("-o", "--output", default=str(README), help="default: %(default)s")
    _entries(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("build", help="build the static HTML site with plots")
    p.add_argument("--out", required=True, help="site folder (replaced)")
    _entries(p)
    p.set_defaults(func=cmd_build)

    p = subparsers.add_parser("show", help="draw a tweet's gold and predicted entities, boxes and masks")
    _gold_options(p)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", help="the tweet to draw")
    target.add_argument("--errors", type=int, metavar="N", help="a contact sheet of the N tweets with most errors")
    p.add_argument("--predictions", help="a submission to draw beside the gold")
    p.add_argument("--images", help="folder of the tweet images (<id>.jpg); without it a blank canvas")
    p.add_argument("--iou", type=float, default=0.5)
    p.add_argument("--match", choices=("span", "text", "riveg"))
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.set_defaults(func=cmd_visualize)
