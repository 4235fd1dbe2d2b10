"""Stage 2 of RiVEG and its inputs: ``baseline expand`` (referring expressions), ``baseline ve-train`` /
``vg-train`` (visual entailment and grounding) and ``baseline caption-ve`` (the caption cross-encoder VE)."""

from __future__ import annotations

import argparse
import json

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.loaders.configs import add_source_options

from ._options import (
    config_from,
    device_option,
    llm_options,
    mixed_precision,
    mixed_precision_option,
    threads_option,
)


def cmd_expand(args: argparse.Namespace) -> int:
    """Options -> :class:`~smner_bench.baselines.expansion.ExpandConfig` -> :func:`~smner_bench.baselines.expansion.run`
    -> the submission with the referring expressions."""
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission

    from ..expansion import ExpandConfig, run

    config = config_from(ExpandConfig, args).check()
    output_file(args.output, inputs=[*config.inputs(), config.cache])  # refused before any LLM call
    result = run(config)
    write_submission(args.output, result.lines, inputs=[*config.inputs(), config.cache])
    print(f"wrote {args.output}: referring expressions of {result.entities} entities from {len(result.llms)} LLMs")
    for llm in result.llms.values():
        if llm.skipped:
            print(f"note: {llm.name}: {llm.skipped} prompts longer than the context skipped (empty expansions)")
    return 0


def cmd_caption_ve(args: argparse.Namespace) -> int:
    """Options -> :class:`~smner_bench.baselines.caption_ve.CaptionVeConfig` -> :func:`~smner_bench.baselines.
    caption_ve.run` -> its threshold, dev and test figures."""
    from smner_bench.benchmark.cli_options import invocation

    from ..caption_ve import CaptionVeConfig, run

    config = config_from(CaptionVeConfig, args, mixed_precision=mixed_precision(args))
    results = run(config, command=invocation(args))
    if "test" in results:  # the main process (the others of a launcher return the history only)
        print(json.dumps({k: results[k] for k in ("threshold", "dev", "test")}, indent=1))
    return 0


def cmd_ve_vg_train(args: argparse.Namespace) -> int:
    """``baseline ve-train`` and ``baseline vg-train``: options -> :class:`~smner_bench.baselines.ve.VeConfig` or
    :class:`~smner_bench.baselines.vg.VgConfig` (the preset, then the options given) -> ``train`` -> a summary."""
    from smner_bench.benchmark.cli_options import invocation

    from .. import ve, vg

    given = argparse.Namespace(**{k: v for k, v in vars(args).items() if v is not None})  # None: not given
    precision = mixed_precision(args)
    if args.stage == "ve":
        stage, config = ve, config_from(ve.VeConfig, given, caption=args.ve_caption, mixed_precision=precision)
    else:
        stage, config = vg, config_from(vg.VgConfig, given, mixed_precision=precision)
    meta = stage.train(config, command=invocation(args))
    if "dev" in meta:  # the main process (the others of a launcher return the history only)
        if args.stage == "ve":
            summary = f"VE: {meta['train_items']} training pairs; threshold {meta.get('threshold', 0):.3f}"
        else:
            summary = f"VG: {meta['train_images']} training images"
        print(f"{summary}; dev {json.dumps(meta['dev'])}")
    return 0


def register_expand(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("expand", help="referring expressions 'Entity (TYPE) - expansion' for predicted entities")
    p.add_argument("predictions", nargs="?", help="an MNER (or richer) submission")
    p.add_argument("--gold-entities", action="store_true", help="expand the split's gold entities instead")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="gmner")
    p.add_argument("--split", required=True)
    add_source_options(
        p,
        ["data_dir", "captions"],
        required=["data_dir", "captions"],
        help={"captions": "image description files (mPLUG-Owl; else the captions)"},
    )
    p.add_argument("--llm", action="append", required=True, help="repeat to keep several LLMs side by side")
    p.add_argument("--prompt-file", help="a prompt template with {entity} {type} {text} {description}")
    p.add_argument("--cache", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--max-new-tokens", type=options.positive_int, default=256, help="the longest answer (default 256)")
    llm_options(p, device_help="transformers LLMs: the device")
    p.set_defaults(func=cmd_expand)


def register_caption_ve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("caption-ve", help="train and evaluate the caption cross-encoder VE on Twitter-GMNER")
    p.add_argument("--encoder", required=True)
    add_source_options(
        p,
        ["data_dir", "captions"],
        required=["data_dir", "captions"],
        help={"data_dir": "Twitter-GMNER release folder"},
    )
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=options.positive_int, default=1)
    p.add_argument("--batch-size", type=options.positive_int, default=32)
    p.add_argument("--max-length", type=options.positive_int, default=128)
    p.add_argument("--seed", type=options.seed, default=42)
    threads_option(p)
    p.add_argument("--max-train", type=options.positive_int, help="a prefix of the training pairs (smoke runs)")
    p.add_argument("--predictions", help="a tagger's test submission to judge (e.g. PLIM's)")
    device_option(p, training=True)
    mixed_precision_option(p)
    p.set_defaults(func=cmd_caption_ve)


# ve-train and vg-train: command, help, --base's model class, the defaults (paper preset) of --epochs, --lr and
# the batch option, which each names as its trainer's readers know it
TRAINERS = {
    "ve": ("ve-train", "fine-tune an image-text matching model (BLIP ITM) for visual entailment",
           "BlipForImageTextRetrieval", "1 (paper preset: 6)", "2e-5 (paper preset: 2e-5)",
           ("--images-per-batch", "default 8 (paper preset: 4 x 8 accum)")),
    "vg": ("vg-train", "fine-tune Grounding DINO on the GMNER VG set (largest box per entity)",
           "GroundingDinoForObjectDetection", "1 (paper preset: 10)", "1e-5 (paper preset: 3e-5)",
           ("--batch-size", "images per batch, default 4 (paper preset: 4)")),
}  # fmt: skip


def register_ve_vg(sub: argparse._SubParsersAction) -> None:
    parsers = []
    for stage, (name, what, model, epochs, lr, (batch, batch_help)) in TRAINERS.items():
        q = sub.add_parser(name, help=what)
        q.add_argument("--base", required=True, help=f"a {model} folder (from_pretrained)")
        q.add_argument("--epochs", type=options.positive_int, help=f"default {epochs}")
        q.add_argument("--lr", type=options.positive_float, help=f"default {lr}")
        q.add_argument(batch, dest="batch", type=options.positive_int, help=batch_help)
        if stage == "ve":
            q.add_argument(
                "--ve-caption", action="store_true", help='the text is "caption. expression" (the authors\' VE input)'
            )
            add_source_options(
                q, ["captions"], required=(), help={"captions": "caption files or folders (with --ve-caption)"}
            )
        q.set_defaults(func=cmd_ve_vg_train, stage=stage)
        parsers.append(q)
    for q in parsers:
        q.add_argument("--dataset", choices=DATASET_NAMES, default="gmner")
        add_source_options(q, ["data_dir"])
        q.add_argument("--images", required=True, help="folder of the tweet images")
        q.add_argument("--out", required=True, help="folder of the fine-tuned model (with its threshold/metrics)")
        q.add_argument("--seed", type=options.seed, default=42)
        device_option(q, training=True)
        mixed_precision_option(q)
        q.add_argument(
            "--workers",
            type=options.non_negative_int,
            default=2,
            help="DataLoader processes decoding images ahead (default 2; 0: in the training process)",
        )
        q.add_argument(
            "--image-cache-mb",
            type=options.non_negative_int,
            default=256,
            help="decoded images kept between epochs, per process and worker (default 256 MB; 0: none)",
        )
        threads_option(q)
        q.add_argument("--max-train", type=options.positive_int, help="a prefix of the training set (smoke runs)")
        q.add_argument(
            "--expressions",
            nargs="+",
            help="LLM referring expressions of the gold entities (baseline expand --gold-entities, train and dev); "
            'several files (or LLMs in one file): each a separate training example; default "Entity (TYPE)"',
        )
        q.add_argument(
            "--preset",
            choices=["paper"],
            help="the authors' recipe (epochs, lr, batch 4 x 8 accumulated, warmup 6 %%, linear decay, weight "
            "decay, best dev epoch); options given override it",
        )
        q.add_argument("--grad-accum", type=options.positive_int, help="batches per optimizer step (default 1)")
