"""``smner-bench masks``: any GMNER submission -> an SMNER one, a SAM mask for every box (:mod:`..sam`)."""

from __future__ import annotations

import argparse

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


def options_masks(p: argparse.ArgumentParser) -> None:
    from ..choices import SAM_MODEL_TYPES

    p.add_argument("--predictions", required=True, help="a GMNER submission (every entity has 'box' or null)")
    p.add_argument("--images", required=True, help="folder of the tweet images (<id>.jpg)")
    p.add_argument("--sam-checkpoint", required=True, help="a segment-anything checkpoint file")
    p.add_argument("--model-type", choices=SAM_MODEL_TYPES, default="vit_h", help="tiny: the random test model")
    p.add_argument("--multimask", action="store_true", help="decode 3 masks per box, keep the best predicted IoU")
    device_option(p)
    dtype_option(p)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_masks)
