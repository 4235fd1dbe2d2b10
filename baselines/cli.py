"""Subcommands of the baselines: ``baseline plim-train`` and ``baseline plim-predict``."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from smner_bench.benchmark.configs import ANNOTATIONS


def cmd_plim_train(args: argparse.Namespace) -> int:
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
                "patience",
                "max_train_tweets",
                "time_budget_minutes",
            )
        }
        overrides["knowledge"] = args.knowledge or []
        cfg = PlimConfig.from_preset(args.preset, **overrides)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "smner-bench " + shlex.join(sys.argv[1:])
    (out / "run.json").write_text(json.dumps({"command": command, "config": cfg.model_dump()}, indent=1))
    logging.getLogger("smner_bench").setLevel(logging.INFO)
    history = train(cfg)
    print(f"best dev F1 {history['best_dev_f1']:.4f} at epoch {history['best_epoch']}; checkpoint {out / 'best'}")
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
    )
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from .plim.config import PRESETS

    b = subparsers.add_parser("baseline", help="RiVEG reference baselines (stage 1: PLIM)")
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
        ("seed", int),
        ("threads", int),
        ("patience", int),
        ("max-train-tweets", int),
        ("time-budget-minutes", float),
    ):
        p.add_argument(f"--{name}", type=kind)
    p.set_defaults(func=cmd_plim_train)

    p = sub.add_parser("plim-predict", help="tag a split with a PLIM checkpoint and write an MNER submission")
    p.add_argument("checkpoint", help="a checkpoint folder (<run>/best)")
    p.add_argument("--split", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--data-dir", help="default: the run's")
    p.add_argument("--knowledge", help="default: the run's first release")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_plim_predict)
