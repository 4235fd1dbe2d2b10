"""Subcommands of the baselines: `baseline ...` (training, single stages, tiny models), `run riveg` (the chain),
`masks` (SAM adapter) and `import` (other systems' outputs)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from smner_bench.benchmark import options
from smner_bench.benchmark.configs import ANNOTATIONS


def cmd_plim_train(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .plim.config import PlimConfig
    from .plim.train import train

    if args.config:
        cfg = PlimConfig.load(args.config)
    else:
        overrides = {
            k: getattr(args, k)
            for k in (
                "encoder",
                "dataset",
                "data_dir",
                "out",
                "max_length",
                "batch_size",
                "epochs",
                "lr",
                "crf_lr",
                "seed",
                "threads",
                "device",
                "grad_accum",
                "dropout",
                "word_dropout",
                "patience",
                "max_train_tweets",
                "time_budget_minutes",
            )
        }
        overrides["knowledge"] = args.knowledge or []
        overrides["mixed_precision"] = _mixed_precision(args, None)
        try:
            cfg = PlimConfig.from_preset(args.preset, **overrides)
        except ValidationError as exc:  # a missing or out-of-range option
            from smner_bench.benchmark.errors import UsageError

            err = exc.errors()[0]
            option = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "an option"
            raise UsageError(f"{option}: {err['msg']} (or give --config)") from None
    from smner_bench.benchmark.safe_output import owned_folder, recorded_command, write_json

    from .launcher import is_main_process
    from .plim.train import inputs_of

    inputs = [args.config, *inputs_of(cfg)]
    if is_main_process():  # under a launcher, one process writes
        out = owned_folder(cfg.out, "plim", inputs=inputs)
        write_json(out / "run.json", {"command": recorded_command(), "config": cfg.model_dump()}, inputs=inputs)
        logging.getLogger("smner_bench").setLevel(logging.INFO)
    history = train(cfg)
    if is_main_process():
        best = Path(cfg.out) / "best"
        print(f"best dev F1 {history['best_dev_f1']:.4f} at epoch {history['best_epoch']}; checkpoint {best}")
    return 0


def cmd_plim_predict(args: argparse.Namespace) -> int:
    from .plim.predict import predict

    path = predict(
        args.checkpoint,
        args.split,
        args.output,
        data_dir=args.data_dir,
        knowledge=args.knowledge,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
    )
    print(f"wrote {path}")
    return 0


def cmd_knowledge(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.safe_output import check_folder, output_file, write_jsonl
    from smner_bench.loaders import load, read_captions

    from .knowledge import example_features, example_pool, msea_prompts, parse_manual_data, write_release
    from .providers.encoder import Encoder
    from .providers.llm import Request, llm_from_spec
    from .runner import shard_rows

    prompts_only = args.prompts_only is not None
    if not prompts_only:
        missing = [f"--{name}" for name in ("llm", "cache", "out") if getattr(args, name) is None]
        if missing:
            raise UsageError(f"{', '.join(missing)} needed (or --prompts-only OUT.jsonl: the prompts, no LLM)")
        if args.num_shards > 1:
            raise UsageError("--num-shards works with --prompts-only (a knowledge release holds whole splits)")
    elif any(getattr(args, name) is not None for name in ("llm", "cache", "out")):
        print("note: --llm, --cache and --out are not used with --prompts-only (no LLM is called)", file=sys.stderr)
    shard_rows([], args.num_shards, args.shard_index)  # a shard index out of range is a usage error, now
    manual_data = [parse_manual_data(spec)[1] for spec in args.manual_data]
    replay = not prompts_only and args.llm.startswith("replay:")
    llm = None if prompts_only else args.llm
    llm_paths = llm.partition(":")[2].split(",") if llm and llm.startswith(("transformers:", "replay:")) else []
    captions = [*args.captions, *args.manual_captions]
    inputs = [args.data_dir, *captions, *args.manual, *manual_data, args.encoder, *llm_paths]
    if prompts_only:  # refused before anything is read
        output_file(args.prompts_only, inputs=[*inputs, args.features])
    else:  # the release folder may hold neither the cache nor the features; neither may be an input
        check_folder(args.out, "knowledge", inputs=[*inputs, args.cache, args.features])  # before any LLM call
    if not replay and args.encoder is None:
        raise UsageError("--encoder is needed to choose the in-context examples (MSEA)")
    ds = load(args.dataset, args.data_dir)
    captions, descriptions = read_captions(args.captions)
    images = {**descriptions, **captions}
    pool, encoder, features = None, None, None
    if not replay:
        if args.manual_captions:
            pool_captions, pool_descriptions = read_captions(args.manual_captions)
            pool_images = {**pool_descriptions, **pool_captions}
        else:
            pool_images = images
        pool = example_pool(args.manual, args.manual_data, pool_images, data_dir=args.data_dir)
        print(pool.summary())
        encoder = Encoder(args.encoder, device=args.device, dtype=args.dtype)
        written = [args.prompts_only] if prompts_only else [args.cache]
        features = example_features(encoder, pool.examples, args.features, inputs=[*inputs, *written])
    if prompts_only:
        lines = []
        for split in args.splits:
            rows = shard_rows(list(ds[split]), args.num_shards, args.shard_index)
            prompts = msea_prompts(rows, images, pool.examples, encoder, n=args.top_n, annotated=features)
            lines += [{"id": p.id, "examples": p.examples, "prompt": p.prompt} for p in prompts]
            print(f"{split}: {len(rows)} prompts")
        write_jsonl(args.prompts_only, lines, inputs=[*inputs, args.features])
        print(f"wrote {args.prompts_only}: {len(lines)} prompts (no LLM called)")
        return 0
    knowledge = {}
    for split in args.splits:
        rows = list(ds[split])
        llm = llm_from_spec(
            args.llm,
            args.cache,
            dataset=args.dataset,
            data_dir=args.data_dir,
            split=split,
            device=args.device,
            dtype=args.dtype,
            device_map=args.device_map,
            concurrency=args.concurrency,
            inputs=[*inputs, args.features],
        )
        requests = (
            [Request("", key=r["id"]) for r in rows]
            if replay
            else [
                Request(p.prompt, key=p.id)
                for p in msea_prompts(rows, images, pool.examples, encoder, n=args.top_n, annotated=features)
            ]
        )
        knowledge.update(zip([r["id"] for r in rows], llm.generate(requests), strict=True))
        print(f"{split}: {len(rows)} tweets ({llm.hits} cached answers, {llm.misses} new)")
    splits = {split: list(ds[split]) for split in args.splits}
    out = write_release(args.out, splits, knowledge, inputs=[*inputs, args.cache, args.features])
    print(f"wrote the knowledge release {out}")
    return 0


def cmd_expand(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.gold import load_gold
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import gold_as_submission, read_submission, write_submission
    from smner_bench.loaders import read_captions

    from .expansion import expand, read_template
    from .providers.llm import llm_from_spec

    if any(spec.startswith("replay:") for spec in args.llm):
        raise UsageError("the released knowledge holds no expansion expressions: use a transformers or openai LLM")
    if (args.predictions is None) == (not args.gold_entities):
        raise UsageError("give a predictions file or --gold-entities (the split's gold entities), not both")
    llm_paths = [p for spec in args.llm if spec.startswith("transformers:") for p in spec.partition(":")[2].split(",")]
    inputs = [args.predictions, args.data_dir, *args.captions, *llm_paths, args.prompt_file]
    output_file(args.output, inputs=[*inputs, args.cache])  # refused before any LLM call
    template = read_template(args.prompt_file) if args.prompt_file else None
    gold = load_gold(args.dataset, args.split, data_dir=args.data_dir)
    lines: dict[str, list] = {t.id: [] for t in gold.tweets}
    if args.gold_entities:  # the expressions VE/VG are trained with (ve-train/vg-train --expressions)
        for line in gold_as_submission(gold):
            lines[line["id"]] = [{k: e[k] for k in ("start", "end", "text", "type")} for e in line["entities"]]
    else:
        sub = read_submission(args.predictions, gold, allow_missing=True)
        for p in sub.predictions:
            lines[gold.tweets[p.tweet].id].append({"start": p.start, "end": p.end, "text": p.text, "type": p.type})
    captions, descriptions = read_captions(args.captions)
    llms = {
        spec: llm_from_spec(
            spec,
            args.cache,
            dataset=args.dataset,
            data_dir=args.data_dir,
            split=args.split,
            device=args.device,
            dtype=args.dtype,
            device_map=args.device_map,
            concurrency=args.concurrency,
            inputs=[*inputs, args.output],
        )
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


def cmd_masks(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission

    from .sam import BoxToMask, add_masks, load_predictor, read_gmner_lines

    inputs = [args.predictions, args.images, args.sam_checkpoint]
    output_file(args.output, inputs=inputs)  # refused before SAM is loaded
    lines = read_gmner_lines(args.predictions)
    if not Path(args.images).is_dir():
        from smner_bench.benchmark.errors import MissingDataError

        raise MissingDataError("image folder not found", file=args.images)
    adapter = BoxToMask(
        load_predictor(args.sam_checkpoint, args.model_type, args.device), multimask=args.multimask, dtype=args.dtype
    )
    out = add_masks(lines, args.images, adapter, progress=True)
    write_submission(args.output, out, inputs=inputs)
    boxes = sum(e["mask"] is not None for line in out for e in line["entities"])
    print(f"wrote {args.output}: {boxes} masks for the boxes of {len(out)} tweets")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.gold import load_gold
    from smner_bench.benchmark.safe_output import output_file
    from smner_bench.benchmark.submission import write_submission

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


def cmd_caption_ve(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.safe_output import owned_folder, recorded_command, write_json
    from smner_bench.benchmark.scoring import Scorer
    from smner_bench.benchmark.submission import read_submission
    from smner_bench.loaders import load

    from .caption_ve import evaluate, expression, predict_probabilities, train_caption_ve, ve_examples

    inputs = [args.encoder, args.data_dir, *args.captions, args.predictions]
    from .launcher import is_main_process

    main = is_main_process()  # under a launcher, one process writes
    out = owned_folder(args.out, "caption-ve", inputs=inputs) if main else Path(args.out)  # before the training
    if args.threads:
        torch.set_num_threads(args.threads)
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
        mixed_precision=_mixed_precision(args),
        inputs=inputs,
    )
    if not main:
        return 0
    from .caption_ve import load_caption_ve

    model, tokenizer, _ = load_caption_ve(out / "model")
    probs = predict_probabilities(model, tokenizer, test, max_length=args.max_length)
    results = {
        "command": recorded_command(),
        "train_examples": len(train),
        **meta,
        "test": evaluate(probs, np.array([e.label for e in test]), meta["threshold"]),
    }
    if args.predictions:  # VE on a tagger's predicted entities: MNER as scored, groundability of the correct ones
        gold = gold_from_rows(ds["test"], name="gmner/test", has_boxes=True, has_masks=False)
        scorer = Scorer.build(read_submission(args.predictions, gold), gold)
        chosen = scorer.selection("mner", "span", 0.5)
        preds = scorer.submission.predictions
        context = {r["id"]: " ".join(x for x in (r.get("caption"), r.get("description")) if x) for r in ds["test"]}
        from .caption_ve import VEExample

        examples = [
            VEExample(
                gold.tweets[p.tweet].id,
                expression(p.text, p.type),
                context[gold.tweets[p.tweet].id] or "no description",
                0,
            )
            for p in preds
        ]
        judged = predict_probabilities(model, tokenizer, examples, max_length=args.max_length) >= meta["threshold"]
        pairs = [(int(p), int(g)) for p, g in zip(scorer.table.pred[chosen], scorer.table.gold[chosen], strict=True)]
        agree = sum(judged[p] == (len(gold.entities[g].boxes) > 0) for p, g in pairs)
        mner = scorer.report("mner", "span", 0.5)["results"]["mner"]
        results["with_predictions"] = {
            "file": args.predictions,
            "mner": {k: mner[k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
            "groundability_accuracy_on_correct_entities": agree / max(1, len(pairs)),
            "correct_entities": len(pairs),
            "note": "no boxes are predicted without images: GMNER/EEG cannot be scored from captions alone",
        }
    write_json(out / "results.json", results, inputs=inputs)
    print(json.dumps({k: results[k] for k in ("threshold", "dev", "test")}, indent=1))
    return 0


def cmd_ve_vg_train(args: argparse.Namespace) -> int:
    """``baseline ve-train`` and ``baseline vg-train``: the same data steps, then each stage's trainer."""
    from functools import partial

    from smner_bench.benchmark.errors import MissingDataError, UsageError
    from smner_bench.benchmark.safe_output import check_folder, recorded_command
    from smner_bench.loaders import load, read_captions

    from .training import resolve_recipe
    from .ve import VE_DEFAULTS, VE_PRESETS, read_expression_sets, train_matcher, ve_items
    from .vg import VG_DEFAULTS, VG_PRESETS, train_grounder, vg_images

    ve_caption = args.stage == "ve" and args.ve_caption
    if ve_caption and not args.captions:
        raise UsageError("--ve-caption needs --captions (the caption files of the training and dev tweets)")
    captions_given = getattr(args, "captions", None) or []
    inputs = [args.base, args.data_dir, args.images, *(args.expressions or []), *captions_given]
    check_folder(args.out, "model", inputs=inputs)  # refused before the long training
    _threads(args.threads)
    _need_folder(args.images, "image folder")
    ds = load(args.dataset, args.data_dir)
    # one set of expressions per file and LLM (the paper's augmented rows: each a separate example)
    sets = read_expression_sets(args.expressions, every_llm=True) if args.expressions else [(None, None)]
    if ve_caption:
        captions, descriptions = read_captions(args.captions)
        short = {**descriptions, **captions}  # the short caption where both exist
        items = partial(ve_items, captions=short)
    else:
        items = ve_items if args.stage == "ve" else vg_images
    train = [x for _, found in sets for x in items(ds["train"], args.images, found)][: args.max_train or None]
    dev = items(ds["validation"], args.images, sets[0][1])
    for split, found in (("train", train), ("validation", dev)):
        if not found:
            example = next(iter(ds[split]), {}).get("image_id", "<image_id>")
            raise MissingDataError(
                f"no image of the {split} split's tweets{' with a box' if args.stage == 'vg' else ''} is in this "
                f"folder (expected files like {example})",
                file=args.images,
            )
    defaults, presets = (VE_DEFAULTS, VE_PRESETS) if args.stage == "ve" else (VG_DEFAULTS, VG_PRESETS)
    given = {"epochs": args.epochs, "lr": args.lr, "batch": args.batch, "grad_accum": args.grad_accum}
    common = {
        "recipe": resolve_recipe(defaults, presets, args.preset, given),
        "expressions": [source for source, _ in sets if source is not None],
        "seed": args.seed,
        "device": args.device,
        "mixed_precision": _mixed_precision(args),
        "workers": args.workers,
        "cache_mb": args.image_cache_mb,
        "command": recorded_command(),
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


def _threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _need_folder(path: str, what: str) -> None:
    from smner_bench.benchmark.errors import MissingDataError

    if not Path(path).is_dir():
        raise MissingDataError(f"{what} not found", file=path)


def cmd_tiny_models(args: argparse.Namespace) -> int:
    import yaml

    from smner_bench.benchmark.safe_output import owned_folder, write_text
    from smner_bench.loaders import load

    from . import tiny

    images = args.images or str(Path(args.data_dir) / "images")
    inputs = [args.data_dir, images]
    out = owned_folder(args.out, "riveg", inputs=inputs)  # checked before the data is read
    ds = load(args.dataset, args.data_dir)
    words = sorted({t for split in ds.values() for r in split for t in r["tokens"]})
    paths = tiny.save_all(Path(args.out) / "tiny", words, inputs=inputs)
    for role, path in paths.items():
        print(f"{role:10s} {path}")
    run = {  # model paths relative to the run file; PLIM, VE and VG are trained into plim/, ve/, vg/ first
        "dataset": args.dataset,
        "data_dir": os.path.relpath(Path(args.data_dir).resolve(), out),
        "split": "test",
        "images": os.path.relpath(Path(images).resolve(), out),
        "out": "run",
        "captions": {"captioner": "transformers:tiny/captioner", "max_new_tokens": 8},
        "knowledge": {"llm": "transformers:tiny/llm", "encoder": "tiny/encoder", "max_new_tokens": 16},
        "plim": {"checkpoint": "plim/best"},
        "expansion": {"llm": "transformers:tiny/llm", "max_new_tokens": 8},
        "ve": {"checkpoint": "ve"},
        "vg": {"checkpoint": "vg"},
        "sam": {"checkpoint": "tiny/sam.pth", "model_type": "tiny"},
    }
    write_text(Path(args.out) / "run.yaml", yaml.safe_dump(run, sort_keys=False), inputs=inputs)
    print(f"run file  {Path(args.out) / 'run.yaml'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError

    from .launcher import launcher_shards, resolve_shards
    from .run_config import load_run_config
    from .runner import describe, final_output, merge, run

    cfg = load_run_config(args.config)
    _threads(args.threads)
    if args.merge:
        if args.shard_index is not None:
            raise UsageError("--merge joins every shard: drop --shard-index")
        num_shards = args.num_shards or (launcher_shards() or (1, 0))[0]
        written = merge(cfg, num_shards, config_file=args.config)
        print(f"merged {num_shards} shards into {len(written)} files; final: {final_output(cfg)}")
        return 0
    num_shards, shard_index = resolve_shards(args.num_shards, args.shard_index)
    logging.getLogger("smner_bench").setLevel(logging.INFO)
    status = run(cfg, num_shards=num_shards, shard_index=shard_index, force=args.force, config_file=args.config)
    print(describe(status))
    if num_shards == 1:
        print(f"wrote {final_output(cfg)}")
    else:
        print(f"shard {shard_index} of {num_shards} done; join the shards with --merge")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from .plim.config import PRESETS
    from .sam import MODEL_TYPES

    p = subparsers.add_parser("masks", help="turn any GMNER submission into an SMNER one with SAM (box prompts)")
    p.add_argument("--predictions", required=True, help="a GMNER submission (every entity has 'box' or null)")
    p.add_argument("--images", required=True, help="folder of the tweet images (<id>.jpg)")
    p.add_argument("--sam-checkpoint", required=True, help="a segment-anything checkpoint file")
    p.add_argument("--model-type", choices=MODEL_TYPES, default="vit_h", help="tiny: the random test model")
    p.add_argument("--multimask", action="store_true", help="decode 3 masks per box, keep the best predicted IoU")
    p.add_argument("--device", default="cpu")
    _dtype_option(p)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_masks)

    from smner_bench.benchmark.options import positive_int

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
        p.add_argument("--dataset", required=True, choices=list(ANNOTATIONS))
        p.add_argument("--split", required=True)
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--data-dir")
        src.add_argument("--gold")
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--show", type=positive_int, default=20, help="notes to print (all are counted)")
        p.set_defaults(func=cmd_import)

    b = subparsers.add_parser("baseline", help="RiVEG reference baselines: train the models, run stages one by one")
    sub = b.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)

    p = sub.add_parser("plim-train", help="train the PLIM tagger (encoder + CRF), select on dev F1")
    p.add_argument("--config", help="a YAML run config (everything else is then ignored)")
    p.add_argument("--preset", choices=list(PRESETS), default="bert-base", help="the paper's settings")
    p.add_argument("--encoder", help="encoder folder (from_pretrained)")
    p.add_argument("--dataset", choices=list(ANNOTATIONS), default="gmner")
    p.add_argument("--data-dir")
    p.add_argument("--knowledge", action="append", help="knowledge release (repeat for the paper's Mix)")
    p.add_argument("--out", help="run folder: history.json, run.json, best/ checkpoint")
    for name, kind in (
        ("max-length", int),
        ("batch-size", int),
        ("epochs", int),
        ("lr", float),
        ("crf-lr", float),
        ("dropout", float),
        ("word-dropout", float),
        ("seed", int),
        ("threads", int),
        ("patience", int),
        ("max-train-tweets", int),
        ("time-budget-minutes", float),
        ("device", str),
    ):
        p.add_argument(f"--{name}", type=kind)
    _mixed_precision_option(p)
    p.add_argument("--grad-accum", type=options.positive_int, help="batches per optimizer step (default 1)")
    p.set_defaults(func=cmd_plim_train)

    p = sub.add_parser("knowledge", help="build auxiliary knowledge for splits (MSEA prompts + an LLM provider)")
    p.add_argument("--dataset", choices=list(ANNOTATIONS), default="gmner")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--splits", nargs="+", default=["train", "validation", "test"])
    p.add_argument("--captions", nargs="+", required=True, help="BLIP-2 / mPLUG-Owl caption files or folders")
    p.add_argument("--manual", nargs="*", default=[], help="manual annotation folders (manual-annotations/2015...)")
    p.add_argument(
        "--manual-data",
        nargs="*",
        default=[],
        metavar="CONFIG:DIR",
        help="where the annotated tweets' texts are, e.g. twitter2015:../shared/data/twitter2015",
    )
    p.add_argument(
        "--manual-captions",
        nargs="+",
        default=[],
        help="caption files or folders of the annotated tweets' images (default: --captions), e.g. BLIP2_15.txt "
        "BLIP2_17.txt",
    )
    p.add_argument("--encoder", help="feature encoder for MSEA (from_pretrained path)")
    p.add_argument("--top-n", type=options.positive_int, default=5)
    p.add_argument("--features", help="where to keep the examples' MSEA features (.npz), computed once")
    p.add_argument("--llm", help="transformers:PATH | openai:MODEL@BASE_URL | replay:RELEASE")
    p.add_argument("--cache", help="answer cache (JSON Lines); reruns and resumes use it")
    p.add_argument("--out", help="knowledge release folder to write")
    p.add_argument(
        "--prompts-only",
        metavar="OUT.jsonl",
        help='write {"id", "examples", "prompt"} per tweet and stop: no LLM is called (--llm/--cache/--out unused)',
    )
    p.add_argument("--num-shards", type=options.positive_int, default=1, help="with --prompts-only: shards per split")
    p.add_argument("--shard-index", type=options.non_negative_int, default=0, help="with --prompts-only (0-based)")
    p.add_argument("--device", default="cpu", help="the encoder's and transformers LLMs' device")
    _dtype_option(p, what="the encoder's and transformers LLMs' precision")
    p.add_argument("--device-map", help="transformers LLMs: spread over devices (e.g. auto; needs accelerate)")
    p.add_argument(
        "--concurrency", type=options.positive_int, default=4, help="openai LLMs: requests in flight (default 4)"
    )
    p.set_defaults(func=cmd_knowledge)

    p = sub.add_parser("expand", help="referring expressions 'Entity (TYPE) - expansion' for predicted entities")
    p.add_argument("predictions", nargs="?", help="an MNER (or richer) submission")
    p.add_argument("--gold-entities", action="store_true", help="expand the split's gold entities instead")
    p.add_argument("--dataset", choices=list(ANNOTATIONS), default="gmner")
    p.add_argument("--split", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument(
        "--captions", nargs="+", required=True, help="image description files (mPLUG-Owl; else the captions)"
    )
    p.add_argument("--llm", action="append", required=True, help="repeat to keep several LLMs side by side")
    p.add_argument("--prompt-file", help="a prompt template with {entity} {type} {text} {description}")
    p.add_argument("--cache", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--device", default="cpu", help="transformers LLMs: the device")
    _dtype_option(p)
    p.add_argument("--device-map", help="transformers LLMs: spread over devices (e.g. auto; needs accelerate)")
    p.add_argument(
        "--concurrency", type=options.positive_int, default=4, help="openai LLMs: requests in flight (default 4)"
    )
    p.set_defaults(func=cmd_expand)

    p = sub.add_parser("caption-ve", help="train and evaluate the caption cross-encoder VE on Twitter-GMNER")
    p.add_argument("--encoder", required=True)
    p.add_argument("--data-dir", required=True, help="Twitter-GMNER release folder")
    p.add_argument("--captions", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=options.positive_int, default=1)
    p.add_argument("--batch-size", type=options.positive_int, default=32)
    p.add_argument("--max-length", type=options.positive_int, default=128)
    p.add_argument("--seed", type=options.seed, default=42)
    p.add_argument("--threads", type=options.positive_int)
    p.add_argument("--max-train", type=options.positive_int, help="a prefix of the training pairs (smoke runs)")
    p.add_argument("--predictions", help="a tagger's test submission to judge (e.g. PLIM's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the process's GPU under a launcher)")
    _mixed_precision_option(p)
    p.set_defaults(func=cmd_caption_ve)

    p = subparsers.add_parser("run", help="run a whole reference pipeline from a run file (stages cached, shardable)")
    p.add_argument("pipeline", choices=["riveg"])
    p.add_argument("--config", required=True, help="the run file (YAML); see smner_bench.baselines.run_config")
    p.add_argument(
        "--num-shards",
        type=options.positive_int,
        help="split every stage into this many shards (default: the launcher's WORLD_SIZE or SLURM array size, else 1)",
    )
    p.add_argument(
        "--shard-index",
        type=options.non_negative_int,
        help="the shard this process runs, 0-based (default: the launcher's RANK or SLURM array index, else 0)",
    )
    p.add_argument("--merge", action="store_true", help="join the finished shards' files into the run folder")
    p.add_argument("--force", nargs="+", default=[], metavar="STAGE", help="rerun these stages even if cached")
    p.add_argument("--threads", type=options.positive_int)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ve-train", help="fine-tune an image-text matching model (BLIP ITM) for visual entailment")
    p.add_argument("--base", required=True, help="a BlipForImageTextRetrieval folder (from_pretrained)")
    p.add_argument("--epochs", type=options.positive_int, help="default 1 (paper preset: 6)")
    p.add_argument("--lr", type=options.positive_float, help="default 2e-5 (paper preset: 2e-5)")
    p.add_argument(
        "--images-per-batch", dest="batch", type=options.positive_int, help="default 8 (paper preset: 4 x 8 accum)"
    )
    p.add_argument(
        "--ve-caption", action="store_true", help='the text is "caption. expression" (the authors\' VE input)'
    )
    p.add_argument("--captions", nargs="+", help="caption files or folders (with --ve-caption)")
    p.set_defaults(func=cmd_ve_vg_train, stage="ve")
    ve = p
    p = sub.add_parser("vg-train", help="fine-tune Grounding DINO on the GMNER VG set (largest box per entity)")
    p.add_argument("--base", required=True, help="a GroundingDinoForObjectDetection folder (from_pretrained)")
    p.add_argument("--epochs", type=options.positive_int, help="default 1 (paper preset: 10)")
    p.add_argument("--lr", type=options.positive_float, help="default 1e-5 (paper preset: 3e-5)")
    p.add_argument(
        "--batch-size", dest="batch", type=options.positive_int, help="images per batch, default 4 (paper preset: 4)"
    )
    p.set_defaults(func=cmd_ve_vg_train, stage="vg")
    vg = p
    for q in (ve, vg):
        q.add_argument("--dataset", choices=list(ANNOTATIONS), default="gmner")
        q.add_argument("--data-dir", required=True)
        q.add_argument("--images", required=True, help="folder of the tweet images")
        q.add_argument("--out", required=True, help="folder of the fine-tuned model (with its threshold/metrics)")
        q.add_argument("--seed", type=options.seed, default=42)
        q.add_argument("--device", default="cpu")
        _mixed_precision_option(q)
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
        q.add_argument("--threads", type=options.positive_int)
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

    p = sub.add_parser("tiny-models", help="tiny random models of every stage + a run file (tests, demo)")
    p.add_argument("--out", required=True)
    p.add_argument("--dataset", choices=list(ANNOTATIONS), default="gmner")
    p.add_argument("--data-dir", required=True, help="a release whose words make the tiny vocabularies")
    p.add_argument("--images", help="its image folder (default: <data-dir>/images), for the run file")
    p.set_defaults(func=cmd_tiny_models)

    p = sub.add_parser("plim-predict", help="tag a split with a PLIM checkpoint and write an MNER submission")
    p.add_argument("checkpoint", help="a checkpoint folder (<run>/best)")
    p.add_argument("--split", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--data-dir", help="default: the run's")
    p.add_argument("--knowledge", help="default: the run's first release")
    p.add_argument("--batch-size", type=options.positive_int, default=64)
    p.add_argument("--device", default="cpu")
    _dtype_option(p, what="the encoder's precision (the CRF head stays fp32)")
    p.set_defaults(func=cmd_plim_predict)


def _dtype_option(p: argparse.ArgumentParser, what: str = "the model's precision") -> None:
    from .dtype import DTYPES

    p.add_argument("--dtype", choices=DTYPES, default="fp32", help=f"{what}: fp32 (default), bf16, fp16 (GPU only)")


def _mixed_precision_option(p: argparse.ArgumentParser) -> None:
    from .training import MIXED_PRECISION

    p.add_argument(
        "--mixed-precision",
        choices=MIXED_PRECISION,
        help="no, bf16, fp16 (GPU): accelerate's autocast in training, weights stay fp32 (default: the "
        "accelerate config's under accelerate launch, else no)",
    )
    p.add_argument("--amp", choices=("none", "bf16"), help=argparse.SUPPRESS)  # the older name, still accepted


def _mixed_precision(args: argparse.Namespace, default: str | None = None) -> str | None:
    """``--mixed-precision``, else the older ``--amp``, else ``default`` (``None``: the launcher's, else no)."""
    from .training import mixed_precision_of

    if args.mixed_precision:
        return args.mixed_precision
    return mixed_precision_of(args.amp) if args.amp else default
