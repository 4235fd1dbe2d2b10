"""``baseline hf-tagger``: any Hugging Face token-classification model folder as an MNER baseline: a submission for
one split, or (``--eval-all``) one table of every MNER dataset's test figures with 95% intervals (the library is
:mod:`smner_bench.baselines.hf_tagger`)."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import DATASET_NAMES

from ._options import device_option, dtype_option, threads, threads_option

EVAL_ALL = ("twitter2015", "twitter2017", "gmner")  # hf_tagger.EVAL_DATASETS, repeated: registering imports no torch


def _check(args: argparse.Namespace) -> None:
    """The options each mode needs and refuses (exit 2), before any model is loaded."""
    from smner_bench.benchmark.errors import UsageError

    if args.eval_all:
        if not args.data_root:
            raise UsageError("--eval-all needs --data-root (the folder of twitter2015, twitter2017, twitter-gmner)")
        given = [o for o, v in (("--dataset", args.dataset), ("--split", args.split), ("--data-dir", args.data_dir),
                                ("--gold", args.gold), ("-o/--output", args.output)) if v]  # fmt: skip
        if given:
            raise UsageError(f"{given[0]} is not used with --eval-all (every dataset's test split is run; --json "
                             "writes the table)")  # fmt: skip
        return
    missing = [o for o, v in (("--dataset", args.dataset), ("-o/--output", args.output)) if not v]
    if not args.data_dir and not args.gold:
        missing.append("--data-dir or --gold")
    if missing:
        raise UsageError(f"give {', '.join(missing)} (or --eval-all --data-root DIR)")
    if args.data_root or args.json:
        raise UsageError(f"{'--data-root' if args.data_root else '--json'} is only used with --eval-all")


def cmd_hf_tagger(args: argparse.Namespace) -> int:
    """Options -> :class:`~smner_bench.baselines.hf_tagger.HfTaggerConfig` -> the submission, or the table."""
    from smner_bench.benchmark.safe_output import output_file, write_json
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.loaders import load_gold

    from .. import hf_tagger
    from ._options import config_from

    _check(args)
    config = config_from(hf_tagger.HfTaggerConfig, args, label_map=hf_tagger.parse_label_map(args.label_map))
    threads(args.threads)
    if args.eval_all:
        folders = hf_tagger.dataset_folders(args.data_root)
        if args.json:
            output_file(args.json, inputs=[config.model, *folders.values()])  # refused before the model runs
        rows = hf_tagger.evaluate_all(config, folders, resamples=args.resamples, seed=args.seed)
        if args.json:
            report = {"model": config.model, "split": "test", "level": 0.95, "resamples": args.resamples,
                      "seed": args.seed, "results": rows}  # fmt: skip
            write_json(args.json, report, inputs=[config.model, *folders.values()])
        print(f"{config.model}: MNER on the test splits (span match), 95% bootstrap intervals over tweets "
              f"({args.resamples} resamples, seed {args.seed})")  # fmt: skip
        print(hf_tagger.format_table(rows))
        return 0
    inputs = [config.model, args.data_dir, args.gold]
    output_file(args.output, inputs=inputs)  # refused before anything is read
    gold = load_gold(args.dataset, args.split or "test", data_dir=args.data_dir, gold=args.gold)
    tagger = hf_tagger.HfTagger(config)
    lines = tagger.lines(gold)
    write_submission(args.output, lines, inputs=inputs)
    if tagger.truncated:
        print(f"note: {tagger.truncated} words past the model's {tagger.max_length} sub-words were tagged O",
              file=sys.stderr)  # fmt: skip
    entities = sum(len(line["entities"]) for line in lines)
    print(f"wrote {args.output} (MNER submission, {len(lines)} tweets, {entities} entities)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hf-tagger",
        help="any Hugging Face token-classification model folder as an MNER baseline (a submission, or --eval-all)",
    )
    p.add_argument("--model", required=True, help="a folder saved with save_pretrained (model and fast tokenizer)")
    p.add_argument("--dataset", choices=list(DATASET_NAMES), help="dataset config of the split to tag")
    p.add_argument("--split", help="train, validation (alias dev) or test (default test)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data-dir", help="raw release folder (read with the loaders)")
    src.add_argument("--gold", help="exported dataset folder (smner-bench prepare --out)")
    p.add_argument("-o", "--output", type=options.output_path, help="the MNER submission to write")
    p.add_argument(
        "--label-map",
        action="append",
        metavar="LABEL=TAG",
        help="what a model label the dataset's tags do not cover means (e.g. B-PERSONA=B-PER, B-DATE=O); repeatable",
    )
    p.add_argument("--batch-size", type=options.positive_int, default=16, help="tweets per forward pass (16)")
    p.add_argument("--max-length", type=options.positive_int, help="sub-words per tweet (default: the model's)")
    device_option(p)
    dtype_option(p)
    threads_option(p)
    p.add_argument(
        "--eval-all",
        action="store_true",
        help="run the test split of " + ", ".join(EVAL_ALL) + " and print one table with 95%% intervals",
    )
    p.add_argument("--data-root", help="--eval-all: the folder of twitter2015/, twitter2017/, twitter-gmner/v2.0/")
    p.add_argument("--resamples", type=options.positive_int, default=1000, help="--eval-all: bootstrap (1000)")
    p.add_argument("--seed", type=options.non_negative_int, default=0, help="--eval-all: bootstrap seed (0)")
    p.add_argument("--json", type=options.output_path, help="--eval-all: write the table as JSON")
    p.set_defaults(func=cmd_hf_tagger)
