"""``smner-bench import riveg|hindex|unco``: another system's files -> a submission (:mod:`.importers`, :mod:`.unco`);
``smner-bench gold-diff``: what differs between a gold file and a release split (:mod:`.gold_diff`)."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark.cli_options import add_gold_source
from smner_bench.benchmark.options import non_negative_int, output_path, positive_int
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.benchmark.safe_output import output_file


def cmd_import(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.loaders import load_gold

    from .importers import import_hindex, import_riveg

    inputs = [getattr(args, k, None) for k in ("lines", "grounding", "predictions", "candidates", "data_dir", "gold")]
    output_file(args.output, inputs=inputs)  # a refused output path fails before the gold is read
    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    if args.format == "riveg":
        lines, report = import_riveg(args.lines, args.grounding, gold)
    elif args.format == "unco":
        from .unco import import_unco

        lines, report = import_unco(args.predictions, gold, first_box=args.first_box)
    else:
        lines, report = import_hindex(args.predictions, args.candidates, gold, box_num=args.box_num)
    write_submission(args.output, lines, inputs=inputs)
    for note in report.notes[: args.show]:
        print(f"note: {note}", file=sys.stderr)
    if len(report.notes) > args.show:
        print(f"note: ... and {len(report.notes) - args.show} more notes (--show)", file=sys.stderr)
    regions = f"{report.boxes} boxes, {report.entities - report.boxes} null" if report.task == "gmner" else "no boxes"
    print(
        f"wrote {args.output} ({report.task.upper()} submission): {len(lines)} tweets, {report.entities} entities "
        f"({report.without_span} without a span; {report.in_image} judged in the image; {regions}); "
        f"{len(report.notes)} notes"
    )
    return 0


def options_import(imp: argparse.ArgumentParser) -> None:
    fmt = imp.add_subparsers(dest="format", metavar="FORMAT", required=True)
    riveg = fmt.add_parser("riveg", help="RiVEG release files: entity lines (+ a grounding file for GMNER)")
    riveg.add_argument("--lines", required=True, help="Imageid:<id>.jpg#<hex>###<Entity>(<TYPE>)###<expr>###<0|2>")
    riveg.add_argument(
        "--grounding",
        help='JSON list (or JSON Lines) of {"uniq_id", "box"}: a box for every entity judged 2; without it, an MNER '
        "submission (the authors never released their boxes)",
    )
    hindex = fmt.add_parser("hindex", help="H-Index prediction file (+ candidate boxes for GMNER)")
    hindex.add_argument("--predictions", required=True, help="the pred_*.txt file H-Index's test.py writes")
    hindex.add_argument(
        "--candidates", help="JSON: image id -> candidate boxes in model order; without it, an MNER submission"
    )
    hindex.add_argument(
        "--box-num", type=positive_int, default=16, help="H-Index's --box_num (default 16): the 'no region' id"
    )
    unco = fmt.add_parser("unco", help="MQSPN/UnCo prediction JSON (pre_entities with inclusive end)")
    unco.add_argument(
        "--predictions",
        required=True,
        help="JSON list (or JSON Lines) of {image_id, tokens, pre_entities: [{start, end (inclusive), entity_type, "
        "region_box | region + mapping_regions}]}",
    )
    unco.add_argument(
        "--first-box",
        action="store_true",
        help="rows of one span with other regions: keep the first row's (default: an error; one region per entity)",
    )
    for p in (riveg, hindex, unco):
        add_gold_source(p)
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--show", type=positive_int, default=20, help="notes to print (all are counted)")
        p.set_defaults(func=cmd_import)


def cmd_gold_diff(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import write_json
    from smner_bench.loaders import load_gold

    from .gold_diff import gold_diff, summary
    from .golds import gold_format, read_gold

    inputs = [args.other, args.data_dir, args.gold]
    if args.json:
        output_file(args.json, inputs=inputs)  # a refused path fails before either gold is read
    fmt = gold_format(args.other) if args.format == "auto" else args.format
    reference = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    other = read_gold(args.other, args.other_dataset or args.dataset, args.split, fmt=fmt)
    diff = gold_diff(
        reference,
        other,
        reference_name=f"{reference.name} ({args.data_dir or args.gold})",
        other_name=f"{other.name} ({args.other}, {fmt})",
    )
    if args.json:
        write_json(args.json, diff.as_json(), inputs=inputs)
    print("\n".join(summary(diff, show=args.show)))
    return 0


def options_gold_diff(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "other",
        help="the gold to compare: a release folder, an exported folder or the MQSPN/UnCo gold JSON "
        "(annotations/twitter_gmner_gt.json)",
    )
    p.add_argument(
        "--format",
        choices=["auto", "release", "export", "unco"],
        default="auto",
        help="how to read OTHER (default auto: a folder whose README.md is a dataset card is an export, another "
        "folder a release, a file the UnCo JSON)",
    )
    p.add_argument(
        "--other-dataset",
        choices=list(DATASET_NAMES),
        help="the config OTHER is read as when it is a folder (default: --dataset)",
    )
    add_gold_source(p)  # the reference: the release split
    p.add_argument("--json", metavar="PATH", type=output_path, help="write every difference and the counts as JSON")
    p.add_argument("--show", type=non_negative_int, default=10, help="differing tweets to print (default 10)")
    p.set_defaults(func=cmd_gold_diff)
