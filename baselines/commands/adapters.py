"""Commands that adapt other systems' outputs: ``masks`` (any GMNER submission -> SMNER with SAM box prompts)
and ``import riveg|hindex`` (release and prediction files -> submissions)."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark.cli_options import add_gold_source
from smner_bench.benchmark.options import positive_int

from ._options import device_option, dtype_option, need_folder


def cmd_masks(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission

    from ..sam import BoxToMask, add_masks, load_predictor, read_gmner_lines

    inputs = [args.predictions, args.images, args.sam_checkpoint]
    output_file(args.output, inputs=inputs)  # refused before SAM is loaded
    lines = read_gmner_lines(args.predictions)
    need_folder(args.images, "image folder")
    predictor = load_predictor(args.sam_checkpoint, args.model_type, args.device)
    out = add_masks(lines, args.images, BoxToMask(predictor, multimask=args.multimask, dtype=args.dtype), progress=True)
    write_submission(args.output, out, inputs=inputs)
    boxes = sum(e["mask"] is not None for line in out for e in line["entities"])
    print(f"wrote {args.output}: {boxes} masks for the boxes of {len(out)} tweets")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.gold import load_gold
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission

    from ..importers import import_hindex, import_riveg

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


def register_masks(subparsers: argparse._SubParsersAction) -> None:
    from ..choices import SAM_MODEL_TYPES

    p = subparsers.add_parser("masks", help="turn any GMNER submission into an SMNER one with SAM (box prompts)")
    p.add_argument("--predictions", required=True, help="a GMNER submission (every entity has 'box' or null)")
    p.add_argument("--images", required=True, help="folder of the tweet images (<id>.jpg)")
    p.add_argument("--sam-checkpoint", required=True, help="a segment-anything checkpoint file")
    p.add_argument("--model-type", choices=SAM_MODEL_TYPES, default="vit_h", help="tiny: the random test model")
    p.add_argument("--multimask", action="store_true", help="decode 3 masks per box, keep the best predicted IoU")
    device_option(p)
    dtype_option(p)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_masks)


def register_import(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import", help="convert another system's output into a submission (MNER, or GMNER where it gives boxes)"
    )
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
