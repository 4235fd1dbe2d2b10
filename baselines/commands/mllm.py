"""``baseline mllm``: a multimodal LLM behind an OpenAI-compatible endpoint as a GMNER baseline (each tweet and its
image in, a submission out; the library is :mod:`smner_bench.baselines.mllm`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smner_bench.benchmark import options
from smner_bench.benchmark.cli_options import add_gold_source

QWEN_MIN_PIXELS = 3136  # baselines.mllm's defaults, repeated so that registering imports nothing heavy
QWEN_MAX_PIXELS = 12845056
BOX_FORMATS = ("pixels", "resized-pixels", "norm1000", "norm1")


def cmd_mllm(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.errors import MissingDataError, UsageError
    from smner_bench.benchmark.gold import load_gold
    from smner_bench.benchmark.safe_output import output_file, write_json
    from smner_bench.benchmark.submission import write_submission

    from .. import mllm
    from ..providers.cache import AnswerCache
    from ..providers.llm import CachedLLM, OpenAICompatibleLLM, ProviderError
    from ._options import need_folder

    mllm.check_endpoint(args.endpoint)
    grounded = args.images is not None
    if grounded and args.box_format is None:
        raise UsageError(f"--box-format is needed with --images ({', '.join(mllm.BOX_FORMATS)})")
    if not grounded and args.box_format is not None:
        print("note: --box-format is not used without --images (a text-only run writes no boxes)", file=sys.stderr)
    if args.min_pixels > args.max_pixels:
        raise UsageError(f"--min-pixels {args.min_pixels} is larger than --max-pixels {args.max_pixels}")
    meta = mllm.metadata_path(args.output)
    inputs = [args.data_dir, args.gold, args.images]
    output_file(args.output, inputs=[*inputs, args.cache, meta])  # refused before anything is read or asked
    output_file(meta, inputs=[*inputs, args.cache, args.output])
    if args.cache is not None:
        output_file(args.cache, inputs=[*inputs, args.output, meta])
    if grounded:
        need_folder(args.images, "image folder")
    llm = OpenAICompatibleLLM(
        args.endpoint,
        args.model,
        api_key_env=args.api_key_env,
        timeout=args.timeout,
        retries=args.retries,
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
    )
    source = {"data_dir": args.data_dir, "gold": args.gold}
    gold = load_gold(args.dataset, args.split, **source)
    if grounded and not gold.has_boxes:
        print(f"note: {args.dataset} annotates no boxes: the output can be scored on MNER only", file=sys.stderr)
    fmt = args.box_format if grounded else None
    pixels = {"min_pixels": args.min_pixels, "max_pixels": args.max_pixels}
    shots = [mllm.tweet_shot(t, args.images, fmt, **pixels) for t in gold.tweets]
    missing = [t.id for t, s in zip(gold.tweets, shots, strict=True) if s is None]
    if missing:
        raise MissingDataError(
            f"{len(missing)} of the {len(gold.tweets)} tweets of {gold.name} have no image <id>.jpg here "
            f"(first: {', '.join(missing[:5])})",
            file=args.images,
        )
    demos: dict[int, mllm.Shot] = {}  # pool index -> the demonstration, built only for those chosen
    chosen: list[list[int]] = [[] for _ in shots]
    if args.shots:
        train = gold if gold.split == "train" else load_gold(args.dataset, "train", **source)
        if grounded and not train.has_boxes:
            raise UsageError(f"--shots with --images: {args.dataset} has no gold boxes to demonstrate")
        pool = [t for t in train.tweets if not grounded or (Path(args.images) / f"{t.id}.jpg").is_file()]
        if len(pool) < len(train.tweets):
            left = len(train.tweets) - len(pool)
            print(f"note: {left} train tweets without an image left out of the demonstrations", file=sys.stderr)
        chosen = mllm.choose_demos([(s.id, s.tokens) for s in shots], [(t.id, t.tokens) for t in pool], args.shots)
        for j in sorted({j for c in chosen for j in c}):
            demos[j] = mllm.tweet_shot(pool[j], args.images, fmt, demo=True, **pixels)  # type: ignore[assignment]
    requests = [mllm.build_request(s, [demos[j] for j in c]) for s, c in zip(shots, chosen, strict=True)]
    cached = None
    try:
        if args.cache is not None:
            cache = AnswerCache(args.cache, inputs=[*inputs, args.output, meta])
            cached = CachedLLM(llm, cache, progress=sys.stderr.isatty())
            answers: list[str | None] = list(cached.generate(requests))
        else:
            answers = llm.generate(requests)
    except ProviderError as exc:
        kept = f" (the answers received are in {args.cache}: rerun to resume)" if args.cache else ""
        raise ProviderError(f"{exc}{kept}") from None
    finally:
        if cached is not None:
            cached.cache.close()
    report = mllm.MllmReport()
    lines = [
        {"id": s.id, "entities": mllm.parse_answer(s.id, s.tokens, a, s.frame, report)}
        for s, a in zip(shots, answers, strict=True)
    ]
    write_submission(args.output, lines, inputs=[*inputs, args.cache, meta])
    usage = llm.usage
    metadata = {
        "command": invocation(args),
        "baseline": "mllm",
        "dataset": args.dataset,
        "split": gold.split,
        "task": "gmner" if grounded else "mner",
        "endpoint": args.endpoint,
        "model": args.model,
        "images": grounded,
        "box_format": fmt,
        **({"min_pixels": args.min_pixels, "max_pixels": args.max_pixels} if fmt == "resized-pixels" else {}),
        "shots": args.shots,
        "demo_selection": "MSEA rule (top-k cosine, never the tweet itself) over TF-IDF word vectors of the train "
        "split: text only"
        if args.shots
        else None,
        "demos": {s.id: [demos[j].id for j in c] for s, c in zip(shots, chosen, strict=True)} if args.shots else None,
        "prompt_version": mllm.PROMPT_VERSION,
        "max_tokens": args.max_tokens,
        "temperature": llm.temperature,
        "answers": {
            "from_cache": cached.hits if cached else 0,
            "requested": cached.misses if cached else len(requests),
            "skipped_context": cached.skipped if cached else sum(a is None for a in answers),
        },
        "usage": {
            "requests": usage.requests,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "replies_without_usage": usage.without_usage,
        },
        "report": report.as_dict(),
    }
    write_json(meta, metadata, inputs=[*inputs, args.cache, args.output])
    for line in report.lines(args.show):
        print(line, file=sys.stderr)
    answered = metadata["answers"]
    print(
        f"answers: {answered['from_cache']} from the cache, {answered['requested']} requested; tokens this run: "
        f"{usage.prompt_tokens} prompt, {usage.completion_tokens} completion ({usage.requests} replies)",
        file=sys.stderr,
    )
    kind = "GMNER" if grounded else "MNER (no images: no boxes)"
    print(f"wrote {args.output} ({kind} submission, {len(lines)} tweets) and {meta}")
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
