"""Subcommands of the loaders: ``prepare``, ``stats`` and ``sample``."""

from __future__ import annotations

import argparse
import json

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import SPLITS

from .configs import Sources, add_source_options, source_paths


def _prepared(args: argparse.Namespace):
    from .api import dataset
    from .builder import SmnerBench

    b = SmnerBench(sources=Sources.from_args(args), cache_dir=args.cache_dir)
    return b, dataset(b)


def cmd_prepare(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.exported import read_card
    from smner_bench.benchmark.safe_output import check_folder

    from .export import export, legacy_export

    out = check_folder(args.out, "export", inputs=source_paths(args), legacy=legacy_export)  # refused before the build
    if out.is_dir():
        read_card(out)  # an existing export's card and files, checked before the build too
    b, dataset = _prepared(args)
    reports = {split: b.quirk_report(split) for split in SPLITS}
    for split, report in reports.items():
        print(f"== {args.config} {split}: {len(dataset[split])} tweets; quirks:")
        print("  " + report.summary(examples=3).replace("\n", "\n  "))
    out = export(
        args.config,
        dataset,
        reports,
        args.out,
        command=invocation(args, published=True),
        data_dir=args.data_dir,
        inputs=source_paths(args),
    )
    print(f"wrote {out} (read it with datasets.load_dataset({str(out)!r}, {args.config!r}))")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import dataset_stats, format_table

    _, dataset = _prepared(args)
    stats = dataset_stats(dataset)
    print(json.dumps(stats, indent=1) if args.json else format_table(stats))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .sample import write_sample

    manifest = write_sample(args.out, seed=args.seed)
    print(f"wrote the synthetic sample to {args.out}: " + json.dumps(manifest.get("counts", manifest)))
    from .sample_predictions import write_sample_predictions

    path, where = write_sample_predictions(args.out)
    mistakes = "; ".join(f"{k} in tweet {v}" for k, v in where.items())
    print(f"wrote a sample submission {path}: the test gold with four mistakes: {mistakes}")
    return 0


def options_prepare(p: argparse.ArgumentParser) -> None:
    add_source_options(p)
    p.add_argument("--out", required=True, help="export folder (created, or updated with this config)")
    p.set_defaults(func=cmd_prepare)


def options_stats(p: argparse.ArgumentParser) -> None:
    add_source_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_stats)


def options_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        required=True,
        help="folder to write (created when its parent exists; an earlier sample or an empty folder is replaced)",
    )
    p.add_argument("--seed", type=options.seed, default=0)
    p.set_defaults(func=cmd_sample)
