"""Stage 2 of RiVEG and its inputs: ``baseline expand`` (referring expressions), ``baseline ve-train`` /
``vg-train`` (visual entailment and grounding) and ``baseline caption-ve`` (the caption cross-encoder VE)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.loaders.configs import add_source_options

from ._options import (
    device_option,
    llm_kwargs,
    llm_options,
    mixed_precision,
    mixed_precision_option,
    need_folder,
    threads_option,
)
from ._options import threads as set_threads


def _entities_to_expand(args: argparse.Namespace, gold) -> dict[str, list[dict]]:
    """``{tweet id: [entity]}`` of every tweet of the split: the gold entities, or the predicted ones."""
    from smner_bench.benchmark.submission import gold_as_submission, read_submission

    lines: dict[str, list] = {t.id: [] for t in gold.tweets}
    if args.gold_entities:  # the expressions VE/VG are trained with (ve-train/vg-train --expressions)
        for line in gold_as_submission(gold):
            lines[line["id"]] = [{k: e[k] for k in ("start", "end", "text", "type")} for e in line["entities"]]
    else:
        sub = read_submission(args.predictions, gold, allow_missing=True)
        for p in sub.predictions:
            lines[gold.tweets[p.tweet].id].append({"start": p.start, "end": p.end, "text": p.text, "type": p.type})
    return lines


def cmd_expand(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.gold import load_gold
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.loaders import read_captions

    from ..expansion import expand, read_template
    from ..providers.llm import llm_from_spec

    if any(spec.startswith("replay:") for spec in args.llm):
        raise UsageError("the released knowledge holds no expansion expressions: use a transformers or openai LLM")
    if (args.predictions is None) == (not args.gold_entities):
        raise UsageError("give a predictions file or --gold-entities (the split's gold entities), not both")
    llm_paths = [p for spec in args.llm if spec.startswith("transformers:") for p in spec.partition(":")[2].split(",")]
    inputs = [args.predictions, args.data_dir, *args.captions, *llm_paths, args.prompt_file]
    output_file(args.output, inputs=[*inputs, args.cache])  # refused before any LLM call
    template = read_template(args.prompt_file) if args.prompt_file else None
    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir)
    lines = _entities_to_expand(args, gold)
    captions, descriptions = read_captions(args.captions)
    where = {"dataset": args.dataset, "data_dir": args.data_dir, "split": args.split}
    llms = {
        spec: llm_from_spec(spec, args.cache, **where, **llm_kwargs(args), inputs=[*inputs, args.output])
        for spec in args.llm
    }
    out = expand(
        [{"id": k, "entities": v} for k, v in lines.items()],
        {t.id: " ".join(t.tokens) for t in gold.tweets},
        {**captions, **descriptions},  # the detailed description where there is one (the paper's mPLUG-Owl)
        llms,
        template=template,
    )
    write_submission(args.output, out, inputs=[*inputs, args.cache])
    count = sum(len(v) for v in lines.values())
    print(f"wrote {args.output}: referring expressions of {count} entities from {len(llms)} LLMs")
    for llm in llms.values():
        if llm.skipped:
            print(f"note: {llm.name}: {llm.skipped} prompts longer than the context skipped (empty expansions)")
    return 0


def cmd_caption_ve(args: argparse.Namespace) -> int:
    import numpy as np

    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.safe_output import owned_folder, write_json
    from smner_bench.loaders import load

    from ..caption_ve import (
        evaluate,
        judge_predictions,
        load_caption_ve,
        predict_probabilities,
        train_caption_ve,
        ve_examples,
    )
    from ..launcher import is_main_process

    inputs = [args.encoder, args.data_dir, *args.captions, args.predictions]
    main = is_main_process()  # under a launcher, one process writes
    out = owned_folder(args.out, "caption-ve", inputs=inputs) if main else Path(args.out)  # before the training
    set_threads(args.threads)
    ds = load("gmner", args.data_dir, captions=args.captions)
    train = ve_examples(ds["train"])[: args.max_train] if args.max_train else ve_examples(ds["train"])
    dev, test = ve_examples(ds["validation"]), ve_examples(ds["test"])
    meta = train_caption_ve(
        args.encoder,
        train,
        dev,
        out / "model",
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        device=args.device,
        mixed_precision=mixed_precision(args),
        inputs=inputs,
    )
    if not main:
        return 0
    model, tokenizer, _ = load_caption_ve(out / "model")
    probs = predict_probabilities(model, tokenizer, test, max_length=args.max_length)
    results = {
        "command": invocation(args),
        "train_examples": len(train),
        **meta,
        "test": evaluate(probs, np.array([e.label for e in test]), meta["threshold"]),
    }
    if args.predictions:  # VE on a tagger's predicted entities: MNER as scored, groundability of the correct ones
        results["with_predictions"] = judge_predictions(
            model, tokenizer, args.predictions, ds["test"], meta["threshold"], max_length=args.max_length
        )
    write_json(out / "results.json", results, inputs=inputs)
    print(json.dumps({k: results[k] for k in ("threshold", "dev", "test")}, indent=1))
    return 0


def cmd_ve_vg_train(args: argparse.Namespace) -> int:
    """``baseline ve-train`` and ``baseline vg-train``: the same data steps, then each stage's trainer."""
    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.safe_output import check_folder
    from smner_bench.loaders import load

    from ..stage2_data import training_sets
    from ..training import resolve_recipe
    from ..ve import VE_DEFAULTS, VE_PRESETS, read_expression_sets, train_matcher
    from ..vg import VG_DEFAULTS, VG_PRESETS, train_grounder

    ve_caption = args.stage == "ve" and args.ve_caption
    if ve_caption and not args.captions:
        raise UsageError("--ve-caption needs --captions (the caption files of the training and dev tweets)")
    captions_given = getattr(args, "captions", None) or []
    inputs = [args.base, args.data_dir, args.images, *(args.expressions or []), *captions_given]
    check_folder(args.out, "model", inputs=inputs)  # refused before the long training
    set_threads(args.threads)
    need_folder(args.images, "image folder")
    ds = load(args.dataset, args.data_dir)
    # one set of expressions per file and LLM (the paper's augmented rows: each a separate example)
    sets = read_expression_sets(args.expressions, every_llm=True) if args.expressions else [(None, None)]
    captions = args.captions if ve_caption else None
    train, dev = training_sets(args.stage, ds, args.images, sets, captions, max_train=args.max_train)
    defaults, presets = (VE_DEFAULTS, VE_PRESETS) if args.stage == "ve" else (VG_DEFAULTS, VG_PRESETS)
    given = {"epochs": args.epochs, "lr": args.lr, "batch": args.batch, "grad_accum": args.grad_accum}
    common = {
        "recipe": resolve_recipe(defaults, presets, args.preset, given),
        "expressions": [source for source, _ in sets if source is not None],
        "seed": args.seed,
        "device": args.device,
        "mixed_precision": mixed_precision(args),
        "workers": args.workers,
        "cache_mb": args.image_cache_mb,
        "command": invocation(args),
        "inputs": inputs,
    }
    if args.stage == "ve":
        meta = train_matcher(args.base, train, dev, args.images, args.out, caption=bool(ve_caption), **common)
        summary = f"VE: {len(train)} training pairs; threshold {meta.get('threshold', 0):.3f}"
    else:
        meta = train_grounder(args.base, train, dev, args.images, args.out, **common)
        summary = f"VG: {len(train)} training images"
    if "dev" in meta:  # the main process (the others of a launcher return the history only)
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
