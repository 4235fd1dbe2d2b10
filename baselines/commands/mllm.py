"""``baseline mllm``: a multimodal LLM behind an OpenAI-compatible endpoint as a GMNER baseline (each tweet and its
image in, a submission out; the library is :mod:`smner_bench.baselines.mllm`)."""

from __future__ import annotations

import argparse
import sys

from smner_bench.benchmark import options
from smner_bench.benchmark.cli_options import add_gold_source

QWEN_MIN_PIXELS = 3136  # baselines.mllm's defaults, repeated so that registering imports nothing heavy
QWEN_MAX_PIXELS = 12845056
BOX_FORMATS = ("pixels", "resized-pixels", "norm1000", "norm1")


def cmd_mllm(args: argparse.Namespace) -> int:
    """Options -> :class:`~smner_bench.baselines.mllm.MllmConfig` -> :func:`~smner_bench.baselines.mllm.run` ->
    the submission, its metadata and the report."""
    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.safe_output import output_file, write_json
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.loaders import load_gold

    from .. import mllm
    from ._options import config_from

    config = config_from(mllm.MllmConfig, args).check()
    if not config.grounded and args.box_format is not None:
        print("note: --box-format is not used without --images (a text-only run writes no boxes)", file=sys.stderr)
    meta = mllm.metadata_path(args.output)
    inputs = [args.data_dir, args.gold, args.images]
    output_file(args.output, inputs=[*inputs, args.cache, meta])  # refused before anything is read or asked
    output_file(meta, inputs=[*inputs, args.cache, args.output])
    if args.cache is not None:
        output_file(args.cache, inputs=[*inputs, args.output, meta])
    source = {"data_dir": args.data_dir, "gold": args.gold}
    gold = load_gold(args.dataset, args.split, **source)
    if config.grounded and not gold.has_boxes:
        print(f"note: {args.dataset} annotates no boxes: the output can be scored on MNER only", file=sys.stderr)
    train = None
    if config.shots:
        train = gold if gold.split == "train" else load_gold(args.dataset, "train", **source)
    result = mllm.run(config, gold, train, progress=sys.stderr.isatty())
    write_submission(args.output, result.lines, inputs=[*inputs, args.cache, meta])
    write_json(meta, {"command": invocation(args), **result.metadata}, inputs=[*inputs, args.cache, args.output])
    for line in result.report.lines(args.show):
        print(line, file=sys.stderr)
    answered, usage = result.metadata["answers"], result.metadata["usage"]
    print(
        f"answers: {answered['from_cache']} from the cache, {answered['requested']} requested; tokens this run: "
        f"{usage['prompt_tokens']} prompt, {usage['completion_tokens']} completion ({usage['requests']} replies)",
        file=sys.stderr,
    )
    kind = "GMNER" if config.grounded else "MNER (no images: no boxes)"
    print(f"wrote {args.output} ({kind} submission, {len(result.lines)} tweets) and {meta}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mllm", help="a multimodal LLM (any OpenAI-compatible chat endpoint) as a GMNER baseline: tweet + image in"
    )
    add_gold_source(p)
    p.add_argument("--images", help="folder of the tweet images (<id>.jpg); without it, a text-only MNER run")
    p.add_argument("--endpoint", required=True, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    p.add_argument("--model", required=True, help="the model name the endpoint serves")
    p.add_argument(
        "--box-format",
        choices=BOX_FORMATS,
        help="what the model's boxes are measured in (needed with --images): pixels of the original image, "
        "pixels of the model's resized input (Qwen2-VL rule), 0-1000, or 0-1",
    )
    p.add_argument(
        "--min-pixels", type=options.positive_int, default=QWEN_MIN_PIXELS, help="resized-pixels: default 3136"
    )
    p.add_argument(
        "--max-pixels", type=options.positive_int, default=QWEN_MAX_PIXELS, help="resized-pixels: default 12845056"
    )
    p.add_argument("--shots", type=options.non_negative_int, default=0, help="demonstrations from train (default 0)")
    p.add_argument("--cache", help="answer cache (JSON Lines): reruns and resumes send only what it lacks")
    p.add_argument("--concurrency", type=options.positive_int, default=4, help="requests in flight (default 4)")
    p.add_argument("--retries", type=options.non_negative_int, default=5, help="per request, on 429/5xx/network")
    p.add_argument("--timeout", type=options.positive_float, default=120.0, help="seconds per request (120)")
    p.add_argument("--max-tokens", type=options.positive_int, default=1024, help="answer length limit (1024)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--show", type=options.positive_int, default=20, help="notes to print (all are in the metadata)")
    p.add_argument("-o", "--output", required=True, help="the submission to write (metadata: <name>.meta.json)")
    p.set_defaults(func=cmd_mllm)
