"""``smner-bench import riveg|hindex``: another system's files -> a submission (:mod:`.importers`)."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark.cli_options import add_gold_source
from smner_bench.benchmark.options import positive_int


def cmd_import(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.loaders import load_gold

    from .importers import import_hindex, import_riveg

    inputs = [getattr(args, k, None) for k in ("lines", "grounding", "predictions", "candidates", "data_dir", "gold")]
    output_file(args.output, inputs=inputs)  # a refused output path fails before the gold is read
    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
    if args.format == "riveg":
        lines, report = import_riveg(args.lines, args.grounding, gold)
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
    for p in (riveg, hindex):
        add_gold_source(p)
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--show", type=positive_int, default=20, help="notes to print (all are counted)")
        p.set_defaults(func=cmd_import)
