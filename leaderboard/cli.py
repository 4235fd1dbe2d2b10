"""``smner-bench leaderboard submit|verify|show|render|build``: options -> the leaderboard's library -> print."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from smner_bench.benchmark.cli_options import add_gold_source
from smner_bench.benchmark.options import unit_interval
from smner_bench.benchmark.registry import DATASET_NAMES, RANKED_TASK_NAMES, dataset_version
from smner_bench.formats import RELEASE_IMPORTERS

README = Path(__file__).resolve().parent / "README.md"
ENTRIES = Path(__file__).resolve().parent / "entries"  # store.DEFAULT_ROOT: the store is imported by the commands


def _entries(p: argparse.ArgumentParser) -> None:
    p.add_argument("--entries", default=str(ENTRIES), help="entries folder (default: %(default)s)")


def _gold_options(p: argparse.ArgumentParser) -> None:
    add_gold_source(p)


def _board(args: argparse.Namespace):
    """The good entries; each excluded one is reported on stderr (the command still does its work)."""
    from .store import read_entries

    board = read_entries(args.entries)
    for bad in board.bad:
        print(f"smner-bench leaderboard: excluded {bad}", file=sys.stderr)
    return board


def _fail_if_excluded(bad: list) -> None:
    """Exit 1 (after the work is done) when entries were excluded."""
    from smner_bench.benchmark.errors import DataFormatError

    if bad:
        names = ", ".join(sorted({b.file.name for b in bad}))
        raise DataFormatError(f"{len(bad)} bad entries were excluded (see above): {names}")


def submitted_command(args: argparse.Namespace) -> str:
    """The command as published in the entry: every path reduced to its file name."""
    from smner_bench.benchmark.cli_options import redact_command

    parts = ["smner-bench", "leaderboard", "submit", args.predictions, "--meta", args.meta]
    parts += ["--dataset", args.dataset, "--split", args.split]
    parts += ["--data-dir", args.data_dir] if args.data_dir else ["--gold", args.gold]
    if args.iou != 0.5:
        parts += ["--iou", str(args.iou)]
    if args.release:
        parts += ["--release", args.release, "--release-root", args.release_root]
    return redact_command(shlex.join(parts))


def cmd_submit(args: argparse.Namespace) -> int:
    from smner_bench.loaders import load_gold

    from .submit import submit

    release = None
    if args.release:
        from smner_bench.benchmark.errors import UsageError

        from .releases import release_record

        if not args.release_root:
            raise UsageError("--release needs --release-root (the data folder the release's path is recorded below)")
        release = release_record(args.release, args.release_root, args.release_format)
    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    entry, path, bad = submit(
        args.predictions,
        args.meta,
        gold,
        command=submitted_command(args),
        dataset_version=dataset_version(args.dataset),
        root=args.entries,
        iou=args.iou,
        release=release,
        release_root=args.release_root,
    )
    for b in bad:
        print(f"smner-bench leaderboard: excluded {b}", file=sys.stderr)
    print(f"added {entry.id}: {entry.task.upper()} F1 {entry.main.f1:.2f} on {gold.name} -> {path}")
    _fail_if_excluded(bad)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import DataFormatError
    from smner_bench.loaders import load_gold

    from .submit import verify

    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    board = _board(args)
    problems, checked = verify(board.stored, gold, args.release_root)
    problems = [f"{b.file.name}: {b.reason}" for b in board.bad] + problems
    if problems:
        shown = problems[:200] + ([f"... and {len(problems) - 200} more"] if len(problems) > 200 else [])
        raise DataFormatError(
            f"{len(problems)} problems ({checked} scored entries of {gold.name} re-scored, "
            f"{len(board.bad)} bad entries):\n" + "\n".join(shown),
            file=args.entries,
        )
    print(
        f"{checked} scored entries on {gold.name} verify: every figure equals a fresh score of the kept copy "
        "(or release)"
    )
    return 0


def cmd_show_board(args: argparse.Namespace) -> int:
    from .render import boards, terminal_table

    board = _board(args)
    selected = {
        k: rows
        for k, rows in boards(board.stored).items()
        if k[0] == args.task and (args.dataset is None or k[1] == args.dataset)
    }
    if not selected:
        print(f"no entries for task {args.task}" + (f" on {args.dataset}" if args.dataset else ""))
    else:
        print("\n\n".join(terminal_table(key, rows) for key, rows in selected.items()))
    _fail_if_excluded(board.bad)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import write_text

    from .render import boards, markdown

    board = _board(args)
    write_text(args.output, markdown(boards(board.stored)), inputs=[args.entries])
    print(f"wrote {args.output}")
    _fail_if_excluded(board.bad)
    return 0


def _per_dataset(values: list[str] | None, flag: str) -> dict[str, Path]:
    """``DATASET=DIR`` options as ``{dataset: folder}``; a usage error names the bad one."""
    from smner_bench.benchmark.errors import UsageError

    out: dict[str, Path] = {}
    for value in values or []:
        dataset, sep, folder = value.partition("=")
        if not sep or dataset not in DATASET_NAMES or not folder:
            raise UsageError(f"{flag} {value!r}: give DATASET=DIR with DATASET one of {', '.join(DATASET_NAMES)}")
        if dataset in out:
            raise UsageError(f"{flag} {dataset}=...: given twice")
        if not Path(folder).is_dir():
            raise UsageError(f"{flag} {value!r}: no folder {folder}")
        out[dataset] = Path(folder)
    return out


def _browse(args: argparse.Namespace, stored: list):
    """The tweet pages' writer when golds are given (``--data-dir``/``--gold DATASET=DIR``), else None."""
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.loaders import load_gold

    from .browse import browse_pages

    raw, exported = _per_dataset(args.data_dir, "--data-dir"), _per_dataset(args.gold, "--gold")
    images = _per_dataset(args.images, "--images")
    both = sorted(set(raw) & set(exported))
    if both:
        raise UsageError(f"{', '.join(both)}: give --data-dir or --gold, not both")
    if not raw and not exported:
        if images:
            raise UsageError("--images draws the tweets of the pages that --data-dir or --gold DATASET=DIR makes")
        return None
    golds = {}
    for s in stored:
        e = s.entry
        key = (e.dataset, e.split)
        if e.provenance.kind == "scored" and key not in golds and (e.dataset in raw or e.dataset in exported):
            golds[key] = load_gold(e.dataset, e.split, data_dir=raw.get(e.dataset), gold=exported.get(e.dataset))
    return browse_pages(stored, golds, images=images, release_root=args.release_root)


def cmd_build(args: argparse.Namespace) -> int:
    from .site import build_site

    board = _board(args)
    out = build_site(board.stored, args.out, inputs=[args.entries], browse=_browse(args, board.stored))
    print(f"wrote the site to {out} (open {out / 'index.html'})")
    _fail_if_excluded(board.bad)
    return 0


def _release_root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--release-root",
        metavar="DIR",
        default=os.environ.get("SMNER_BENCH_DATA"),
        help="data folder holding the release files of entries imported from a release (their paths are recorded "
        "below it; default: $SMNER_BENCH_DATA)",
    )


def options_leaderboard(lb: argparse.ArgumentParser) -> None:
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    p = sub.add_parser("submit", help="score a submission and add it as a 'scored here' entry")
    p.add_argument("predictions", help="JSON Lines prediction file")
    p.add_argument("--meta", required=True, help="YAML: system, variant, task, match, notes")
    _gold_options(p)
    p.add_argument("--iou", type=unit_interval, default=0.5, help="IoU threshold in (0, 1] (default 0.5)")
    p.add_argument(
        "--release",
        metavar="FILE",
        help="the predictions are the import of this public release file (e.g. the RiVEG authors' released test "
        "predictions): no copy is kept, verify imports the release again",
    )
    p.add_argument("--release-format", choices=RELEASE_IMPORTERS, default="riveg", help="its importer")
    _release_root(p)
    _entries(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser(
        "verify",
        help="re-score the kept copies of the scored entries of a dataset split and compare every stored figure",
    )
    _gold_options(p)
    _release_root(p)
    _entries(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("show", help="print the ranked board of a task")
    p.add_argument("--task", required=True, choices=RANKED_TASK_NAMES)
    p.add_argument("--dataset", choices=DATASET_NAMES)
    _entries(p)
    p.set_defaults(func=cmd_show_board)

    p = sub.add_parser("render", help="write the Markdown leaderboard")
    p.add_argument("-o", "--output", default=str(README), help="default: %(default)s")
    _entries(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("build", help="build the static HTML site with plots")
    p.add_argument(
        "--out",
        required=True,
        help="site folder: created, or replaced when it is a site smner-bench built (never another folder)",
    )
    p.add_argument(
        "--data-dir",
        action="append",
        metavar="DATASET=DIR",
        help="a dataset's raw release folder (repeat per dataset, e.g. gmner=../shared/data/twitter-gmner/v2.0): "
        "each scored entry of it gets a page that browses its tweets, mistakes first",
    )
    p.add_argument("--gold", action="append", metavar="DATASET=DIR", help="the same from an exported folder")
    p.add_argument(
        "--images",
        action="append",
        metavar="DATASET=DIR",
        help="a dataset's image folder (<id>.jpg): the tweet pages draw the boxes on the images (copied into the "
        "site) instead of on blank canvases",
    )
    _release_root(p)
    _entries(p)
    p.set_defaults(func=cmd_build)
