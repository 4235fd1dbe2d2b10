"""``run riveg``: the whole RiVEG chain from a run file (stages cached, shardable, shards merged)."""

from __future__ import annotations

import argparse
import logging

from smner_bench.benchmark import options

from ._options import threads, threads_option


def cmd_run(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.errors import UsageError

    from ..launcher import launcher_shards, resolve_shards
    from ..run_config import load_run_config
    from ..runner import describe, final_output, merge, run

    cfg = load_run_config(args.config)
    threads(args.threads)
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


def options_run(p: argparse.ArgumentParser) -> None:
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
    threads_option(p)
    p.set_defaults(func=cmd_run)
