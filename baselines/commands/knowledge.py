"""``baseline knowledge``: auxiliary knowledge of whole splits (MSEA prompts + an LLM provider) as a release."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark import options
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.loaders.configs import add_source_options

from ._options import llm_options


def cmd_knowledge(args: argparse.Namespace) -> int:
    """Options -> :class:`~smner_bench.baselines.knowledge.KnowledgeConfig` -> :func:`~smner_bench.baselines.knowledge.
    build` (which prints its progress here) -> what it wrote."""
    from ..knowledge import KnowledgeConfig, build
    from ._options import config_from

    config = config_from(KnowledgeConfig, args)
    if config.prompts_only is not None and any(getattr(config, name) is not None for name in ("llm", "cache", "out")):
        print("note: --llm, --cache and --out are not used with --prompts-only (no LLM is called)", file=sys.stderr)
    result = build(config, report=print)
    if config.prompts_only is not None:
        print(f"wrote {config.prompts_only}: {len(result.prompts)} prompts (no LLM called)")
    else:
        print(f"wrote the knowledge release {result.written}")
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
