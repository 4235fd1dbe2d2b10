"""``baseline knowledge``: auxiliary knowledge of whole splits (MSEA prompts + an LLM provider) as a release."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.loaders.configs import add_source_options

from ._options import llm_kwargs, llm_options


def cmd_knowledge(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError
    from smner_bench.benchmark.safe_output import check_folder, output_file, write_jsonl
    from smner_bench.loaders import load, read_captions

    from ..knowledge import build_knowledge, msea_prompter, parse_manual_data, write_release
    from ..providers.llm import llm_from_spec
    from ..runner import shard_rows

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
    prompter = None
    if not replay:
        pool_images = images
        if args.manual_captions:
            pool_captions, pool_descriptions = read_captions(args.manual_captions)
            pool_images = {**pool_descriptions, **pool_captions}
        written = [args.prompts_only] if prompts_only else [args.cache]
        prompter = msea_prompter(
            args.encoder,
            args.manual,
            args.manual_data,
            pool_images,
            data_dir=args.data_dir,
            top_n=args.top_n,
            device=args.device,
            dtype=args.dtype,
            store=args.features,
            inputs=[*inputs, *written],
        )
        print(prompter.pool.summary())
    if prompts_only:
        lines = []
        for split in args.splits:
            rows = shard_rows(list(ds[split]), args.num_shards, args.shard_index)
            lines += [{"id": p.id, "examples": p.examples, "prompt": p.prompt} for p in prompter.prompts(rows, images)]
            print(f"{split}: {len(rows)} prompts")
        write_jsonl(args.prompts_only, lines, inputs=[*inputs, args.features])
        print(f"wrote {args.prompts_only}: {len(lines)} prompts (no LLM called)")
        return 0
    knowledge, splits = {}, {split: list(ds[split]) for split in args.splits}
    for split, rows in splits.items():
        where = {"dataset": args.dataset, "data_dir": args.data_dir, "split": split}
        llm = llm_from_spec(args.llm, args.cache, **where, **llm_kwargs(args), inputs=[*inputs, args.features])
        knowledge.update(zip([r["id"] for r in rows], build_knowledge(rows, images, llm, prompter), strict=True))
        print(f"{split}: {len(rows)} tweets ({llm.hits} cached answers, {llm.misses} new)")
    out = write_release(args.out, splits, knowledge, inputs=[*inputs, args.cache, args.features])
    print(f"wrote the knowledge release {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("knowledge", help="build auxiliary knowledge for splits (MSEA prompts + an LLM provider)")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="gmner")
    add_source_options(p, ["data_dir", "captions"], required=["data_dir", "captions"])
    p.add_argument("--splits", nargs="+", default=["train", "validation", "test"])
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
    llm_options(
        p,
        device_help="the encoder's and transformers LLMs' device",
        dtype_what="the encoder's and transformers LLMs' precision",
    )
    p.set_defaults(func=cmd_knowledge)
