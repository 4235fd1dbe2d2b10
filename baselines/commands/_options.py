"""Options shared by the baselines' commands, and the small checks their bodies start with.

Nothing here imports torch, transformers or ``datasets``: registering the commands stays cheap."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args


def dtype_option(p: argparse.ArgumentParser, what: str = "the model's precision") -> None:
    from ..dtype import DTYPES

    p.add_argument("--dtype", choices=DTYPES, default="fp32", help=f"{what}: fp32 (default), bf16, fp16 (GPU only)")


def mixed_precision_choices() -> tuple[str, ...]:
    """accelerate's names (``training.MIXED_PRECISION``), read off the PLIM config's field, which imports no torch."""
    from ..plim.config import PlimConfig

    (literal, _none) = get_args(PlimConfig.model_fields["mixed_precision"].annotation)
    return get_args(literal)


def mixed_precision_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mixed-precision",
        choices=mixed_precision_choices(),
        help="no, bf16, fp16 (GPU): accelerate's autocast in training, weights stay fp32 (default: the "
        "accelerate config's under accelerate launch, else no)",
    )
    p.add_argument("--amp", choices=("none", "bf16"), help=argparse.SUPPRESS)  # the older name, still accepted


def mixed_precision(args: argparse.Namespace, default: str | None = None) -> str | None:
    """``--mixed-precision``, else the older ``--amp``, else ``default`` (``None``: the launcher's, else no)."""
    from ..training import mixed_precision_of

    if args.mixed_precision:
        return args.mixed_precision
    return mixed_precision_of(args.amp) if args.amp else default


def device_option(p: argparse.ArgumentParser, *, training: bool = False, help: str | None = None) -> None:
    """``--device`` (default cpu): where a model runs. Training uses the process's own GPU (``cuda``, i.e.
    ``cuda:$LOCAL_RANK`` under a launcher); inference takes ``cuda:N`` too."""
    where = "cpu or cuda: the process's own GPU under a launcher" if training else "cpu, cuda or cuda:N"
    p.add_argument("--device", default="cpu", help=f"{help + ': ' if help else ''}{where} (default cpu)")


def threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N``: torch's CPU threads (read by :func:`threads` in the command body)."""
    from smner_bench.benchmark.options import positive_int

    p.add_argument("--threads", type=positive_int, help="torch's CPU threads (default: torch's own choice)")


def llm_options(p: argparse.ArgumentParser, device_help: str, dtype_what: str = "the model's precision") -> None:
    """``--device``, ``--dtype``, ``--device-map``, ``--concurrency``: where and how the LLM providers run."""
    from smner_bench.benchmark.options import positive_int

    device_option(p, help=device_help)
    dtype_option(p, what=dtype_what)
    p.add_argument("--device-map", help="transformers LLMs: spread over devices (e.g. auto; needs accelerate)")
    p.add_argument("--concurrency", type=positive_int, default=4, help="openai LLMs: requests in flight (default 4)")


def llm_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``llm_from_spec`` that :func:`llm_options` gave."""
    return {"device": args.device, "dtype": args.dtype, "device_map": args.device_map, "concurrency": args.concurrency}


def threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def need_folder(path: str, what: str) -> None:
    from smner_bench.benchmark.errors import MissingDataError

    if not Path(path).is_dir():
        raise MissingDataError(f"{what} not found", file=path)


def config_from(model: type, args: argparse.Namespace, **given):
    """A config model built from the parsed options of the same names (``given`` adds or overrides fields); a
    value the model refuses is a usage error naming the option (``--max-tokens: ...``)."""
    from pydantic import ValidationError

    from smner_bench.benchmark.errors import UsageError, first_problem

    values = {name: getattr(args, name) for name in model.model_fields if hasattr(args, name)}
    try:
        return model(**{**values, **given})
    except ValidationError as exc:
        field, message = first_problem(exc)
        option = "--" + field.split(".")[0].replace("_", "-") if field else "an option"
        raise UsageError(f"{option}: {message}") from None
