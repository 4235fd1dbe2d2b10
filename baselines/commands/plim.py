"""``baseline plim-train`` and ``baseline plim-predict``: the PLIM tagger (encoder + CRF).

``plim-train``'s options are PlimConfig's fields (baselines/plim/config.py), help from their descriptions,
except the fields a run file alone sets (:data:`CONFIG_ONLY`)."""

from __future__ import annotations

import argparse
import logging
import types
import typing
from pathlib import Path

from smner_bench.benchmark import options
from smner_bench.loaders.configs import add_source_options

from ._options import device_option, dtype_option, mixed_precision, mixed_precision_option

# PlimConfig fields that are not options (a YAML run file given with --config sets them); mixed_precision and
# amp have their own option (mixed_precision_option), shared with the other training commands.
CONFIG_ONLY = ("eval_batch_size", "weight_decay", "warmup_ratio", "grad_clip", "cache_dir", "mixed_precision", "amp")
OWN_OPTIONS = ("preset",)  # an option of its own below (choices, the paper's default)
OPTION_TYPES = {"grad_accum": options.positive_int}  # refused by argparse, not by the config's validation


def _field_option(p: argparse.ArgumentParser, name: str, field) -> None:
    """One option of a PlimConfig field: its type (``X | None`` is X, a Literal gives choices, a list is
    repeated) and its description; no default, so that the preset's or the config's applies."""
    kind = field.annotation
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]
    flag, extra = "--" + name.replace("_", "-"), {}
    if typing.get_origin(kind) is typing.Literal:
        extra["choices"] = typing.get_args(kind)
    elif typing.get_origin(kind) is list:
        extra["action"] = "append"
    else:
        extra["type"] = OPTION_TYPES.get(name, kind)
    p.add_argument(flag, help=field.description, **extra)


def plim_options(p: argparse.ArgumentParser) -> list[str]:
    """Add an option per PlimConfig field (but :data:`CONFIG_ONLY`); returns the fields' names."""
    from ..plim.config import PlimConfig

    names = [name for name in PlimConfig.model_fields if name not in CONFIG_ONLY + OWN_OPTIONS]
    for name in names:
        _field_option(p, name, PlimConfig.model_fields[name])
    return names


def plim_config(args: argparse.Namespace):
    """The run's PlimConfig: ``--config``, else the preset with the options given; a missing or out-of-range
    option is a usage error that names it."""
    from pydantic import ValidationError

    from smner_bench.benchmark.errors import UsageError, first_problem

    from ..plim.config import PlimConfig

    if args.config:
        return PlimConfig.load(args.config)
    overrides = {name: getattr(args, name) for name in args.config_fields}
    overrides["knowledge"] = args.knowledge or []
    overrides["mixed_precision"] = mixed_precision(args, None)
    try:
        return PlimConfig.from_preset(args.preset, **overrides)
    except ValidationError as exc:  # a missing or out-of-range option
        field, message = first_problem(exc)
        option = "--" + field.split(".")[0].replace("_", "-") if field else "an option"
        raise UsageError(f"{option}: {message} (or give --config)") from None


def cmd_plim_train(args: argparse.Namespace) -> int:
    """Options (or ``--config``) -> :class:`~smner_bench.baselines.plim.config.PlimConfig` -> :func:`~smner_bench.
    baselines.plim.train.train` -> the best epoch."""
    from smner_bench.benchmark.cli_options import invocation
    from smner_bench.benchmark.safe_output import check_folder

    from ..launcher import is_main_process
    from ..plim.train import inputs_of, train

    cfg = plim_config(args)
    if is_main_process():  # under a launcher, one process writes
        check_folder(cfg.out, "plim", inputs=[args.config, *inputs_of(cfg)], replaced=False)  # not the config file
        logging.getLogger("smner_bench").setLevel(logging.INFO)
    history = train(cfg, command=invocation(args), progress=False if args.quiet else None)
    if is_main_process():
        best = Path(cfg.out) / "best"
        print(f"best dev F1 {history['best_dev_f1']:.4f} at epoch {history['best_epoch']}; checkpoint {best}")
    return 0


def cmd_plim_predict(args: argparse.Namespace) -> int:
    from ..plim.predict import predict

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


def register_train(sub: argparse._SubParsersAction) -> None:
    from ..plim.config import PRESETS

    p = sub.add_parser("plim-train", help="train the PLIM tagger (encoder + CRF), select on dev F1")
    p.add_argument("--config", help="a YAML run config (everything else is then ignored)")
    p.add_argument("--preset", choices=list(PRESETS), default="bert-base", help="the paper's settings")
    fields = plim_options(p)
    mixed_precision_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars (default: on a terminal, training and dev)")
    p.set_defaults(func=cmd_plim_train, config_fields=[f for f in fields if f != "knowledge"])


def register_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plim-predict", help="tag a split with a PLIM checkpoint and write an MNER submission")
    p.add_argument("checkpoint", help="a checkpoint folder (<run>/best)")
    p.add_argument("--split", required=True)
    p.add_argument("-o", "--output", required=True)
    add_source_options(
        p,
        ["data_dir", "knowledge"],
        required=(),
        help={"data_dir": "default: the run's", "knowledge": "default: the run's first release"},
    )
    p.add_argument("--batch-size", type=options.positive_int, default=64)
    device_option(p)
    dtype_option(p, what="the encoder's precision (the CRF head stays fp32)")
    p.set_defaults(func=cmd_plim_predict)
